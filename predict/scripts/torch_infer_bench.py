#!/usr/bin/python3
"""PyTorch CPU inference throughput of torchvision ResNet50 (random weights,
eval mode), for comparison with `go test ./predict -bench Engine`.

    /usr/bin/python3 predict/scripts/torch_infer_bench.py --batch 8 --threads 2
"""
import argparse
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net = getattr(torchvision.models, a.arch)(weights=None).eval()
    x = torch.randn(a.batch, 3, a.size, a.size)
    with torch.inference_mode():
        net(x)  # warm-up
        start = time.perf_counter()
        for _ in range(a.iters):
            net(x)
        secs = time.perf_counter() - start
    print(f"torch {torch.__version__} {a.arch} {a.size}x{a.size} batch {a.batch} threads {a.threads}: "
          f"{a.iters * a.batch / secs:.1f} img/s")


if __name__ == "__main__":
    main()
