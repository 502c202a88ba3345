#!/usr/bin/python3
"""Test files for the weights package (needs python3-torch, python3-torchvision).

  make_testdata.py tiny DIR       tiny hand-made tiny.pth / tiny.safetensors (committed in testdata/)
  make_testdata.py resnet18 DIR   torchvision resnet18 (10 classes, random weights and BN statistics)
                                  as resnet18.pth (zip), resnet18_legacy.pth (pre-1.6 format) and
                                  resnet18.safetensors, plus input.f32
                                  [2,64,64,3] (NHWC) and logits.f32 [2,10] of the model in eval mode.
"""
import json
import struct
import sys
from collections import OrderedDict

import numpy as np
import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}


def write_safetensors(path, tensors):
    """Minimal independent safetensors writer (header JSON + raw little-endian data)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def tiny(out):
    sd = OrderedDict()
    sd["conv1.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3, 1, 1)
    sd["layer1.0.bn1.running_var"] = torch.tensor([0.5, 2.0], dtype=torch.float64)
    sd["layer1.0.bn1.num_batches_tracked"] = torch.tensor(7)
    sd["fc.weight"] = torch.arange(6, dtype=torch.float32).reshape(3, 2).t()  # non-contiguous view [2,3]
    sd["head.weight"] = torch.tensor([1.5, -2.0], dtype=torch.float16)  # unknown name
    sd["layer1.0.conv1.bias"] = torch.zeros(2)  # torchvision convs have no bias
    torch.save(sd, out + "/tiny.pth")
    st = OrderedDict((k, v) for k, v in sd.items() if k != "layer1.0.bn1.num_batches_tracked")
    st["head.weight"] = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    write_safetensors(out + "/tiny.safetensors", st)


def resnet18(out):
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
    m.eval()
    sd = m.state_dict()
    torch.save(sd, out + "/resnet18.pth")
    torch.save(sd, out + "/resnet18_legacy.pth", _use_new_zipfile_serialization=False)
    write_safetensors(out + "/resnet18.safetensors", OrderedDict((k, v) for k, v in sd.items() if v.dtype in DTYPES))
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        y = m(x)
    x.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(out + "/input.f32")
    y.numpy().astype("<f4").tofile(out + "/logits.f32")


if __name__ == "__main__":
    {"tiny": tiny, "resnet18": resnet18}[sys.argv[1]](sys.argv[2])
