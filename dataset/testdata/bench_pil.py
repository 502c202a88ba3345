#!/usr/bin/python3
"""PIL/torchvision reference for BenchmarkPipelineCat12.

Same pipeline as the Go benchmark: decode (PIL, convert("RGB")) +
RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize(ImageNet),
batched by a torch DataLoader (batch 32, shuffled) with 2 worker processes.

Set up as a user tuning it would: one torch thread per worker (the default
would run one intra-op thread per core in every worker, oversubscribing the
cores), persistent workers, and a warm-up epoch that is not counted (worker
start-up, page cache). CPU time sums this process and its workers
(/proc/PID/stat), so it is read while the workers are alive.

  /usr/bin/python3 dataset/testdata/bench_pil.py [CAT12_DIR] [--epochs N] [--workers W]
Prints img/s per epoch (after the warm-up) and the best.
"""
import argparse
import os
import resource
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class ListDataset(Dataset):
    def __init__(self, root, tf):
        self.root, self.tf = root, tf
        with open(os.path.join(root, "train_list.txt")) as f:
            self.items = [(l.split()[0], int(l.split()[1])) for l in f if l.strip()]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        name, label = self.items[i]
        img = Image.open(os.path.join(self.root, name)).convert("RGB")
        return self.tf(img), label


def worker_init(_):
    torch.set_num_threads(1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=os.path.join(here, "..", "..", "..", "shared", "data", "cat12"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = ListDataset(args.root, tf)
    dl = DataLoader(ds, batch_size=32, shuffle=True, num_workers=args.workers,
                    worker_init_fn=worker_init, persistent_workers=args.workers > 0)
    tick = os.sysconf("SC_CLK_TCK")

    def cpu():
        """CPU seconds of this process and its live workers."""
        s = resource.getrusage(resource.RUSAGE_SELF)
        total = s.ru_utime + s.ru_stime
        it = getattr(dl, "_iterator", None)
        for w in getattr(it, "_workers", []):
            with open(f"/proc/{w.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    for x, y in dl:  # warm-up: starts the workers, fills the page cache
        pass
    best, best_cpu = 0, 1e9
    for epoch in range(args.epochs):
        t0, c0, n = time.perf_counter(), cpu(), 0
        for x, y in dl:
            n += x.shape[0]
        rate = n / (time.perf_counter() - t0)
        cpu_ms = (cpu() - c0) * 1000 / n
        best, best_cpu = max(best, rate), min(best_cpu, cpu_ms)
        print(f"epoch {epoch}: {n} images, {rate:.1f} img/s, {cpu_ms:.2f} cpu-ms/img")
    print(f"best: {best:.1f} img/s, {best_cpu:.2f} cpu-ms/img (PIL {Image.__version__}, torch {torch.__version__}, workers {args.workers})")


if __name__ == "__main__":
    main()
