#!/usr/bin/python3
"""Pillow/torchvision goldens for the resampler (dataset/resize_golden_test.go).

Run from dataset/testdata with Debian's Python (python3-pil 9.4, python3-torchvision 0.14):
    /usr/bin/python3 make_resize_golden.py
Writes resize/src_*.png (generated source images), resize/NN.png (the
expected 8-bit RGB results) and resize/cases.txt, one case a line:
    NN resize SRC L T R B W H     Image.crop((L,T,R,B)).resize((W,H), BILINEAR)
    NN eval SRC SHORTER CROP      T.CenterCrop(CROP)(T.Resize(SHORTER)(img))
    NN rrc SRC TOP LEFT H W SIZE FLIP
                                  F.resized_crop(img, TOP, LEFT, H, W, SIZE), then F.hflip if FLIP
"""
import os

import numpy as np
import PIL
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

OUT = "resize"
rng = np.random.default_rng(16)


def photo(w, h, noise):
    """Smooth colours, noise, a sharp block and dark stripes (odd sizes welcome)."""
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    base = np.concatenate([255 * x + 0 * y, 255 * y + 0 * x, 127 + 127 * np.sin(9 * x + 5 * y)], -1)
    base = base + rng.normal(0, noise, base.shape)
    base[h // 3:h // 2, w // 4:w // 3] = [250, 10, 20]
    base[::7, :] = 0
    base[:, ::11] = 255
    return Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB")


SOURCES = {
    "a": photo(131, 97, 20),  # odd, landscape, noisy
    "b": photo(61, 203, 40),  # odd, tall, very noisy
    "c": photo(300, 257, 0),  # the 256/224 evaluation, factor 257/256 ~ 1
    "d": photo(200, 150, 0),  # evaluation that upscales
}

CASES = [
    ("resize", "a", 0, 0, 131, 97, 131, 97),    # identity
    ("resize", "a", 0, 0, 131, 97, 65, 48),     # ~2x down
    ("resize", "a", 0, 0, 131, 97, 20, 15),     # 6.5x down
    ("resize", "a", 0, 0, 131, 97, 1, 1),       # everything into one pixel
    ("resize", "a", 0, 0, 131, 97, 130, 98),    # ~1 both ways
    ("resize", "a", 0, 0, 131, 97, 131, 40),    # vertical only
    ("resize", "a", 0, 0, 131, 97, 250, 97),    # horizontal up only
    ("resize", "a", 5, 9, 70, 60, 150, 190),    # crop, up 2.3x / 3.7x
    ("resize", "a", 30, 11, 129, 95, 37, 29),   # crop, odd factors
    ("resize", "b", 0, 0, 61, 203, 25, 83),     # tall, 2.4x down
    ("resize", "b", 0, 0, 61, 203, 61, 67),     # 3.03x down one axis
    ("resize", "b", 3, 100, 60, 203, 120, 13),  # up x, 7.9x down y
    ("eval", "a", 64, 56),
    ("eval", "b", 32, 30),
    ("eval", "b", 203, 61),                     # shorter side upscaled 3.3x, no crop along x
    ("eval", "c", 256, 224),
    ("eval", "d", 256, 224),
    ("rrc", "a", 10, 20, 50, 70, 32, 0),
    ("rrc", "a", 10, 20, 50, 70, 32, 1),
    ("rrc", "b", 0, 0, 203, 61, 48, 1),
    ("rrc", "c", 17, 3, 230, 290, 224, 0),
    ("rrc", "d", 40, 50, 60, 45, 224, 1),
]


def run(kind, src, *p):
    img = SOURCES[src]
    if kind == "resize":
        l, t, r, b, w, h = p
        return img.crop((l, t, r, b)).resize((w, h), Image.BILINEAR)
    if kind == "eval":
        shorter, crop = p
        return T.Compose([T.Resize(shorter), T.CenterCrop(crop)])(img)
    top, left, h, w, size, flip = p
    out = F.resized_crop(img, top, left, h, w, [size, size])
    return F.hflip(out) if flip else out


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, img in SOURCES.items():
        img.save(os.path.join(OUT, "src_%s.png" % name))
    lines = ["# Pillow %s, torchvision %s" % (PIL.__version__, torchvision.__version__)]
    for i, (kind, src, *p) in enumerate(CASES):
        out = run(kind, src, *p)
        assert out.mode == "RGB"
        out.save(os.path.join(OUT, "%02d.png" % i))
        lines.append(" ".join(str(v) for v in ["%02d" % i, kind, src, *p]))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases" % len(CASES))


if __name__ == "__main__":
    main()
