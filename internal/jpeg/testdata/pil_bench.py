#!/usr/bin/python3
"""Times Pillow's Image.open(f).convert('RGB') on the files named on stdin,
read into memory first, on one core: prints the best of 3 passes as
"<images per second>" (CPU time of this process). Used by internal/jpeg's
BenchmarkDecodeVsPillow."""
import io
import sys
import time

from PIL import Image

datas = [open(l.rstrip("\n"), "rb").read() for l in sys.stdin if l.strip()]
best = 0.0
for _ in range(3):
    t = time.process_time()
    for d in datas:
        Image.open(io.BytesIO(d)).convert("RGB")
    best = max(best, len(datas) / (time.process_time() - t))
print(best)
