#!/usr/bin/python3
"""Generates the golden JPEG files of internal/jpeg and their reference pixels.

Run from this directory with Debian's python3 (python3-pil, python3-opencv,
python3-numpy) and cjpeg from libjpeg-turbo-progs:

    /usr/bin/python3 gen.py

Each NAME.jpg gets NAME.rgb: the raw 8-bit RGB of Pillow's
Image.open(f).convert('RGB') (libjpeg-turbo 2.1.5 on Debian 12). The script
checks that OpenCV's imread gives the same pixels (except for CMYK, where
OpenCV uses its own formula) and fails otherwise.
"""
import os
import subprocess
import tempfile

import cv2
import numpy as np
from PIL import Image


def picture(w, h, seed):
    """Smooth gradients, sharp edges and noise: every DCT frequency gets used."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    g = 255 * x / max(w - 1, 1)
    b = np.where((x // 6 + y // 4) % 2 == 0, 230.0, 20.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 25, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def save_pil(name, arr, mode="RGB", **kw):
    im = Image.fromarray(arr)
    if mode != "RGB":
        im = im.convert(mode)
    im.save(name + ".jpg", **kw)


def save_cjpeg(name, arr, *args, gray=False):
    with tempfile.NamedTemporaryFile(suffix=".pgm" if gray else ".ppm") as f:
        im = Image.fromarray(arr)
        (im.convert("L") if gray else im).save(f.name)
        with open(name + ".jpg", "wb") as out:
            subprocess.run(["cjpeg", *args, f.name], stdout=out, check=True)


def main():
    a = picture(37, 29, 1)
    files = {}
    # Pillow's encoder: the three standard samplings, progressive, gray, CMYK.
    for name, sub in [("s444", 0), ("s422", 1), ("s420", 2)]:
        save_pil(name, a, subsampling=sub, quality=90)
    save_pil("s420_q100", a, subsampling=2, quality=100)
    save_pil("s420_q5", a, subsampling=2, quality=5)
    save_pil("prog420", a, subsampling=2, quality=85, progressive=True)
    save_pil("gray", a, mode="L", quality=90)
    save_pil("cmyk", a, mode="CMYK", quality=90)
    for w, h in [(1, 1), (2, 3), (3, 2), (4, 5), (17, 9), (16, 16)]:
        save_pil(f"s420_{w}x{h}", picture(w, h, w * h), subsampling=2, quality=90)
        save_pil(f"s422_{w}x{h}", picture(w, h, w * h), subsampling=1, quality=90)
    # cjpeg: the other samplings, restart intervals, RGB, arithmetic coding.
    for name, samp in [("s440", "1x2,1x1,1x1"), ("s411", "4x1,1x1,1x1"), ("s410", "4x2,1x1,1x1"),
                       ("s311", "3x1,1x1,1x1"), ("smixed", "2x2,1x2,2x1")]:
        save_cjpeg(name, a, "-quality", "90", "-sample", samp)
    save_cjpeg("s440_2x7", picture(2, 7, 3), "-sample", "1x2,1x1,1x1")
    save_cjpeg("restart1", a, "-sample", "2x2,1x1,1x1", "-restart", "1B")
    save_cjpeg("restart_rows", a, "-sample", "2x1,1x1,1x1", "-restart", "1")
    save_cjpeg("prog444_restart", a, "-sample", "1x1,1x1,1x1", "-progressive", "-restart", "2B")
    save_cjpeg("prog_gray", a, "-progressive", gray=True)
    save_cjpeg("rgb", a, "-rgb", "-quality", "90")
    save_cjpeg("arith420", a, "-arithmetic", "-sample", "2x2,1x1,1x1")
    save_cjpeg("arith_restart", a, "-arithmetic", "-sample", "2x1,1x1,1x1", "-restart", "1B")
    save_cjpeg("arith_prog", a, "-arithmetic", "-progressive", "-sample", "2x2,1x1,1x1")
    save_cjpeg("arith_gray", a, "-arithmetic", "-quality", "100", gray=True)

    names = sorted(f[:-4] for f in os.listdir(".") if f.endswith(".jpg"))
    for name in names:
        pil = np.asarray(Image.open(name + ".jpg").convert("RGB"))
        cv = cv2.imread(name + ".jpg", cv2.IMREAD_COLOR)[:, :, ::-1]
        if name != "cmyk" and not np.array_equal(pil, cv):
            raise SystemExit(f"{name}: Pillow and OpenCV disagree")
        pil.tofile(name + ".rgb")
        files[name] = os.path.getsize(name + ".jpg")
    print(len(files), "files,", sum(files.values()), "bytes of JPEG")


if __name__ == "__main__":
    main()
