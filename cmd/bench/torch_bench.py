#!/usr/bin/python3
"""PyTorch reference for cmd/bench: same model, shapes, modes and JSON line.

Usage (Debian python3-torch + python3-torchvision):

    /usr/bin/python3 cmd/bench/torch_bench.py -model resnet50 -size 224 -batch 8 -mode train|infer \
        [-steps N] [-warmup N] [-threads 2] [-memory_format channels_last|contiguous]

Channels-last (NHWC) memory format by default, float32, random weights and inputs. Train mode runs forward +
cross-entropy + backward + a plain SGD update (torch.optim.SGD, lr 1e-3, no momentum) like cmd/bench;
infer mode runs the forward pass in eval mode under torch.inference_mode().
"""

import argparse
import json
import resource
import statistics
import time

import torch
import torchvision


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-model", default="resnet50")
    p.add_argument("-size", type=int, default=224)
    p.add_argument("-batch", type=int, default=8)
    p.add_argument("-mode", default="train", choices=["train", "infer"])
    p.add_argument("-steps", type=int, default=10)
    p.add_argument("-warmup", type=int, default=2)
    p.add_argument("-threads", type=int, default=2)
    p.add_argument("-classes", type=int, default=1000)
    p.add_argument("-memory_format", default="channels_last", choices=["channels_last", "contiguous"])
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = getattr(torchvision.models, a.model)(num_classes=a.classes)
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.rand(a.batch, 3, a.size, a.size).mul_(2).sub_(1).contiguous(memory_format=fmt)
    y = torch.arange(a.batch) % a.classes
    train = a.mode == "train"
    if train:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                return model(x).sum().item()

    t0 = time.perf_counter()
    for i in range(max(a.warmup, 1)):
        step()
        if i == 0:
            compile_s = time.perf_counter() - t0
    steps_ms = []
    t0 = time.perf_counter()
    for _ in range(a.steps):
        s = time.perf_counter()
        step()
        steps_ms.append((time.perf_counter() - s) * 1e3)
    total = time.perf_counter() - t0
    print(json.dumps({
        "model": a.model, "size": a.size, "batch": a.batch, "mode": a.mode,
        "backend": "torch-%s-cpu" % torch.__version__, "conv": "mkldnn" if torch.backends.mkldnn.is_available() else "native",
        "img_per_s": round(a.batch * a.steps / total, 3),
        "step_ms_median": round(statistics.median(steps_ms), 1),
        "step_ms_mean": round(total * 1e3 / a.steps, 1),
        "step_ms_min": round(min(steps_ms), 1),
        "peak_mem_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "steps": a.steps, "warmup": a.warmup, "compile_and_first_step_s": round(compile_s, 2),
        "threads": torch.get_num_threads(), "memory_format": a.memory_format, "steps_ms": [round(v, 3) for v in steps_ms],
    }))


if __name__ == "__main__":
    main()
