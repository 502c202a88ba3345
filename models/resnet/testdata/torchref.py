#!/usr/bin/python3
"""Reference logits for models/resnet, computed with torchvision (torch 1.13 / torchvision 0.14).

Weights and inputs are not random: every value comes from a 32-bit integer hash of (tensor name,
flat index in torch's layout), so the Go test regenerates exactly the same tensors without any weight
file. Writes torchvision_golden.json next to this script.

"v1" (Keras layout) is torchvision's ResNet modified the Keras way: stride 2 moved from the 3x3 conv
to the first 1x1 conv of down-sampling bottlenecks, a bias on every conv, BN eps 1e-3.

Run: /usr/bin/python3 models/resnet/testdata/torchref.py
"""
import json
import math
import os

import torch
import torchvision

M = 0xFFFFFFFF


def name_seed(name):
    s = 0
    for j, ch in enumerate(name.encode()):
        s = (s + (j + 1) * ch) & M
    return s


def hash_unit(flat, seed):
    """lowbias32 hash of flat + seed*golden, mapped to [-1, 1)."""
    x = (flat + seed * 0x9E3779B9) & M
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M
    x ^= x >> 15
    x = (x * 0x846CA68B) & M
    x ^= x >> 16
    return x / 2.0**31 - 1.0


def values(name, numel, scale, shift=0.0):
    seed = name_seed(name)
    return torch.tensor([shift + scale * hash_unit(i, seed) for i in range(numel)], dtype=torch.float64)


def fill(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            leaf = name.rsplit(".", 1)[1]
            n = t.numel()
            if t.dim() == 4:  # conv kernel [O, I, kh, kw]: He uniform.
                fan_in = t.shape[1] * t.shape[2] * t.shape[3]
                v = values(name, n, math.sqrt(6.0 / fan_in))
            elif t.dim() == 2:  # fc weight [out, in]
                v = values(name, n, 1.0 / math.sqrt(t.shape[1]))
            elif leaf == "weight":  # BN gamma
                v = values(name, n, 0.2, 1.0)
            elif leaf == "running_var":
                v = values(name, n, 0.25, 1.0)
            else:  # BN beta, running_mean, fc bias, conv bias
                v = values(name, n, 0.1)
            t.copy_(v.reshape(t.shape).to(t.dtype))


def keras_layout(model):
    for m in model.modules():
        if isinstance(m, torchvision.models.resnet.Bottleneck) and m.conv2.stride != (1, 1):
            m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
        if isinstance(m, torch.nn.Conv2d):
            m.bias = torch.nn.Parameter(torch.zeros(m.out_channels))
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3
    return model


def rounded(xs):
    return [float("%.9g" % v) for v in xs]


def run(arch, layout, batch=2, size=32, classes=10):
    model = getattr(torchvision.models, arch)(num_classes=classes)
    if layout == "v1":
        model = keras_layout(model)
    fill(model)
    x = values("input", batch * 3 * size * size, 1.0).reshape(batch, 3, size, size).float()
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    with torch.no_grad():
        train_logits = model(x)
    sd = model.state_dict()
    last = "layer4.1.bn2" if arch in ("resnet18", "resnet34") else "layer4.2.bn3"
    out = {
        "arch": arch, "layout": layout, "batch": batch, "size": size, "classes": classes,
        "eval_logits": rounded(eval_logits.flatten().tolist()),
        "train_logits": rounded(train_logits.flatten().tolist()),
        "running": {},
    }
    for bn in ("bn1", last):
        for stat in ("running_mean", "running_var"):
            out["running"][f"{bn}.{stat}"] = rounded(sd[f"{bn}.{stat}"].flatten()[:64].tolist())
    return out


def main():
    torch.set_num_threads(1)
    # Batch and size large enough that no train-mode BN normalises over only 2 values (ill-conditioned).
    cases = [
        run("resnet18", "v1.5", batch=4, size=64),
        run("resnet50", "v1.5", batch=4, size=64),
        run("resnet50", "v1", batch=4, size=64),
        run("resnet18", "v1", batch=4, size=64),
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision_golden.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "cases": cases}, f)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
