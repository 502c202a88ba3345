#!/usr/bin/python3
"""Decodes the JPEG files named on stdin (one path a line) with Pillow's
Image.open(f).convert('RGB') and writes, for each, width and height as
little-endian uint32 followed by the raw RGB bytes (0, 0 and nothing when
Pillow fails). Used by internal/jpeg's TestCat12MatchesPillow."""
import struct
import sys

from PIL import Image

out = sys.stdout.buffer
for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        im = Image.open(path).convert("RGB")
        out.write(struct.pack("<II", im.width, im.height))
        out.write(im.tobytes())
    except Exception:  # reported as a mismatch by the Go side
        out.write(struct.pack("<II", 0, 0))
    out.flush()
