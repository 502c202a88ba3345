#!/usr/bin/python3
"""Regenerates the small reference files of dataset/testdata with Pillow.

Run from dataset/testdata: /usr/bin/python3 make_testdata.py
Outputs (all tiny, committed):
  cmyk.jpg            Adobe CMYK JPEG written by Pillow (inverted, transform 0)
  cmyk_rgb.png        Pillow's convert("RGB") of it
  la.png              grey+alpha PNG (mode LA)
  gray16.png          16-bit grey PNG
  lossless.webp       WebP lossless with alpha; lossless_rgba.png its RGBA pixels
  lossy.webp          WebP lossy; lossy_rgb.png Pillow's decoding of it
  progressive.jpg     progressive 4:2:0 JPEG; sub422.jpg 4:2:2 JPEG (region-decoder tests)
  photo.png           synthetic photo-like RGB image (smooth + noise + edges)
  resize_*.png        Pillow bilinear (antialiased) resizes of photo.png, see RESIZES
"""
import numpy as np
from PIL import Image

rng = np.random.default_rng(3)

def colours(w, h):
    x = np.linspace(0, 1, w)[None, :]
    y = np.linspace(0, 1, h)[:, None]
    r = 255 * x * np.ones_like(y)
    g = 255 * y * np.ones_like(x)
    b = 255 * (0.5 + 0.5 * np.sin(10 * x + 7 * y))
    return np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)

# CMYK JPEG
cmyk = np.zeros((16, 24, 4), np.uint8)
cmyk[..., 0] = np.linspace(0, 255, 24)[None, :]
cmyk[..., 1] = np.linspace(0, 255, 16)[:, None]
cmyk[..., 2] = 60
cmyk[..., 3] = np.linspace(0, 200, 24)[None, ::-1]
im = Image.fromarray(cmyk, "CMYK")
im.save("cmyk.jpg", quality=95)
Image.open("cmyk.jpg").convert("RGB").save("cmyk_rgb.png")

# LA PNG
la = np.zeros((10, 12, 2), np.uint8)
la[..., 0] = np.linspace(0, 255, 12)[None, :]
la[..., 1] = np.linspace(0, 255, 10)[:, None]
Image.fromarray(la, "LA").save("la.png")

# 16-bit RGBA PNG via numpy -> raw (Pillow cannot write RGBA;16 directly),
# so write a 16-bit grey "I;16" instead.
g16 = (np.linspace(0, 65535, 9 * 7).reshape(7, 9)).astype(np.uint16)
Image.fromarray(g16, "I;16").save("gray16.png")

# WebP
rgba = np.concatenate([colours(20, 14), np.full((14, 20, 1), 255, np.uint8)], -1)
rgba[:7, :, 3] = 100
Image.fromarray(rgba, "RGBA").save("lossless.webp", lossless=True)
Image.open("lossless.webp").convert("RGBA").save("lossless_rgba.png")
Image.fromarray(colours(64, 48), "RGB").save("lossy.webp", quality=90)
Image.open("lossy.webp").convert("RGB").save("lossy_rgb.png")

# Progressive and 4:2:2 JPEGs for the region decoder.
a = np.zeros((37, 45, 3), np.uint8)
a[..., 0] = np.arange(45)[None, :] * 5
a[..., 1] = np.arange(37)[:, None] * 6
a[..., 2] = (np.arange(45)[None, :] * np.arange(37)[:, None]) % 255
Image.fromarray(a).save("progressive.jpg", quality=90, progressive=True, subsampling=2)
Image.fromarray(a).save("sub422.jpg", quality=90, subsampling=1)

# Photo-like image and Pillow resizes.
h, w = 120, 160
base = colours(w, h).astype(np.float64)
base += rng.normal(0, 18, base.shape)
base[40:80, 50:60] = [250, 20, 20]
base[::9, :] = 0
Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB").save("photo.png")
photo = Image.open("photo.png")
# (box left, top, right, bottom, out w, out h)
RESIZES = [
    (0, 0, 160, 120, 64, 48),    # 2.5x down
    (0, 0, 160, 120, 37, 29),    # odd factors
    (10, 5, 150, 100, 224, 224), # up
    (33, 17, 97, 61, 24, 24),    # crop + down
    (0, 0, 160, 120, 160, 40),   # anisotropic
]
for i, (l, t, r, b, ow, oh) in enumerate(RESIZES):
    photo.crop((l, t, r, b)).resize((ow, oh), Image.BILINEAR).save(f"resize_{i}.png")
print("ok")
