#!/usr/bin/python3
"""Reference logits for models/resnet, computed with torchvision (torch 1.13 / torchvision 0.14).

Weights and inputs are not random: every value comes from a 32-bit integer hash of (tensor name,
flat index in torch's layout), so the Go test regenerates exactly the same tensors without any weight
file. Writes torchvision_golden.json next to this script.

"v1" (Keras layout) is torchvision's ResNet modified the Keras way: stride 2 moved from the 3x3 conv
to the first 1x1 conv of down-sampling bottlenecks, a bias on every conv, BN eps 1e-3.

Each case records eval-mode logits, train-mode logits, BN running statistics after that train-mode
forward, and the gradient of sum(train_logits * w) for a few parameters (first 64 values, torch layout),
computed in float64, with the error of torch's own float32 computation of each.

Run: /usr/bin/python3 models/resnet/testdata/torchref.py
"""
import copy
import json
import math
import os

import torch
import torchvision

M = 0xFFFFFFFF


def name_seed(name):
    s = 0
    for j, ch in enumerate(name.encode()):
        s = (s + (j + 1) * ch) & M
    return s


def hash_unit(flat, seed):
    """lowbias32 hash of flat + seed*golden, mapped to [-1, 1)."""
    x = (flat + seed * 0x9E3779B9) & M
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M
    x ^= x >> 15
    x = (x * 0x846CA68B) & M
    x ^= x >> 16
    return x / 2.0**31 - 1.0


def values(name, numel, scale, shift=0.0):
    seed = name_seed(name)
    return torch.tensor([shift + scale * hash_unit(i, seed) for i in range(numel)], dtype=torch.float64)


def fill(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            leaf = name.rsplit(".", 1)[1]
            n = t.numel()
            if t.dim() == 4:  # conv kernel [O, I, kh, kw]: He uniform.
                fan_in = t.shape[1] * t.shape[2] * t.shape[3]
                v = values(name, n, math.sqrt(6.0 / fan_in))
            elif t.dim() == 2:  # fc weight [out, in]
                v = values(name, n, 1.0 / math.sqrt(t.shape[1]))
            elif leaf == "weight":  # BN gamma
                v = values(name, n, 0.2, 1.0)
            elif leaf == "running_var":
                v = values(name, n, 0.25, 1.0)
            else:  # BN beta, running_mean, fc bias, conv bias
                v = values(name, n, 0.1)
            t.copy_(v.reshape(t.shape).to(t.dtype))


def keras_layout(model):
    for m in model.modules():
        if isinstance(m, torchvision.models.resnet.Bottleneck) and m.conv2.stride != (1, 1):
            m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
        if isinstance(m, torch.nn.Conv2d):
            m.bias = torch.nn.Parameter(torch.zeros(m.out_channels))
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3
    return model


def rounded(xs):
    return [float("%.9g" % v) for v in xs]


def forward(model, x, w, grad_names, last):
    """Eval logits, train logits, running stats after the train forward, gradients (all flat lists)."""
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    train_logits = model(x)
    # Gradient of sum(train_logits * w) with respect to a few parameters, in torch's layout.
    (train_logits * w).sum().backward()
    sd = model.state_dict()
    params = dict(model.named_parameters())
    out = {"eval_logits": eval_logits.flatten().tolist(), "train_logits": train_logits.detach().flatten().tolist()}
    for bn in ("bn1", last):
        for stat in ("running_mean", "running_var"):
            out[f"running:{bn}.{stat}"] = sd[f"{bn}.{stat}"].flatten()[:64].tolist()
    for name in grad_names:
        out[f"grad:{name}"] = params[name].grad.flatten()[:64].tolist()
    return out


def run(arch, layout, batch, size, classes=10):
    """One case: reference values from a float64 run of the model, each with err32, the error of torch's
    own float32 run relative to max(max |value|, 1): the Go test (float32) allows a few times that."""
    model = getattr(torchvision.models, arch)(num_classes=classes)
    if layout == "v1":
        model = keras_layout(model)
    fill(model)
    model64 = copy.deepcopy(model).double()
    x = values("input", batch * 3 * size * size, 1.0).reshape(batch, 3, size, size).float()
    w = values("loss_weights", batch * classes, 1.0).reshape(batch, classes).float()
    last = "layer4.1.bn2" if arch in ("resnet18", "resnet34") else "layer4.2.bn3"
    last_conv = last.replace("bn", "conv")
    grad_names = ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                  "layer2.0.downsample.1.weight", last_conv + ".weight", last + ".weight", "fc.weight", "fc.bias"]
    if layout == "v1":
        grad_names += ["conv1.bias", last_conv + ".bias"]
    got32 = forward(model, x, w, grad_names, last)
    got64 = forward(model64, x.double(), w.double(), grad_names, last)
    refs = {}
    for key, want in got64.items():
        scale = max(max(abs(v) for v in want), 1.0)
        err32 = max(abs(a - b) for a, b in zip(got32[key], want)) / scale
        refs[key] = {"values": rounded(want), "err32": float("%.3g" % err32)}
    return {"arch": arch, "layout": layout, "batch": batch, "size": size, "classes": classes, "refs": refs}


def main():
    torch.set_num_threads(1)
    # Batch and size large enough that no train-mode BN normalises over only 2 values (ill-conditioned).
    cases = [
        run("resnet18", "v1.5", batch=4, size=64),
        run("resnet50", "v1.5", batch=4, size=64),
        run("resnet50", "v1", batch=4, size=64),
        run("resnet18", "v1", batch=4, size=64),
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision_golden.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "cases": cases}, f)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
