#!/usr/bin/python3
"""torchvision/Pillow goldens for TrivialAugmentWide and RandAugment (dataset/autoaugment_test.go).

Run from dataset/testdata/autoaugment with Debian's Python (python3-pil 9.4,
python3-torchvision 0.14, python3-torch 1.13):
    /usr/bin/python3 make_golden.py
Writes
  spaces.txt   the magnitude bins of TrivialAugmentWide._augmentation_space(31)
               ("ta") and RandAugment._augmentation_space(31, (H, W)) ("ra_HxW"),
               one op a line: SPACE OP SIGNED v0 ... v30 (or "-" for no bins)
  src_*.png    generated source images (no photos)
  out_*.png    per source and op, the results of torchvision's _apply_op for
               each magnitude, stacked top to bottom
  cases.txt    one line per out file: SRC OP OUTFILE MAG...
"""
import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import RandAugment, TrivialAugmentWide, _apply_op

rng = np.random.default_rng(17)


def photo(w, h, lo=0, hi=255, noise=12):
    """Smooth colours, noise, a sharp block and a dark stripe, in [lo, hi]."""
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    base = np.concatenate([x + 0 * y, y + 0 * x, 0.5 + 0.5 * np.sin(9 * x + 5 * y)], -1)
    base = lo + (hi - lo) * base + rng.normal(0, noise, base.shape)
    base[h // 3:h // 2, w // 4:w // 2] = [hi, lo, (lo + hi) / 2]
    base[h - 3, :] = lo
    return Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB")


SOURCES = {
    "square": photo(18, 18),              # square: Rotate by 90/270 is a transpose
    "wide": photo(17, 11),                # not square: 90/270 go through the affine loop
    "dull": photo(13, 13, 70, 140, 4),    # low contrast: AutoContrast, Equalize, Contrast
    "long": photo(32800, 3, noise=0),     # wider than Pillow's 16.16 fixed point: float affine loop
}

TA = TrivialAugmentWide()._augmentation_space(31)
NO_BINS = ("Identity", "AutoContrast", "Equalize")


def ra_space(img):
    return RandAugment()._augmentation_space(31, (img.height, img.width))


def bins_text(mags):
    if mags.ndim == 0:
        return "-"
    return " ".join(repr(float(v)) for v in mags)


def write_spaces():
    lines = []
    for name, space in [("ta", TA)] + [(f"ra_{h}x{w}", RandAugment()._augmentation_space(31, (h, w)))
                                       for h, w in [(224, 224), (160, 160), (18, 18), (11, 17), (384, 288)]]:
        for op, (mags, signed) in space.items():
            lines.append(f"{name} {op} {int(signed)} {bins_text(mags)}")
    with open("spaces.txt", "w") as f:
        f.write("\n".join(lines) + "\n")


def magnitudes(op, img):
    """TA bins 0, 1, 7, 15, 20, 30 and RA bins 9, 30, both signs where signed."""
    if op in NO_BINS:
        return [0.0]
    out = []
    for space, bins in ((TA, (0, 1, 7, 15, 20, 30)), (ra_space(img), (9, 30))):
        mags, signed = space[op]
        for b in bins:
            m = float(mags[b].item())
            for v in ([m, -m] if signed else [m]):
                if v not in out:
                    out.append(v)
    if op == "Rotate":
        out += [180.0, -180.0, 450.0]  # Image.rotate's other shortcuts
    return out


def main():
    write_spaces()
    cases = []
    for src, img in SOURCES.items():
        img.save(f"src_{src}.png")
        ops = ["ShearX", "ShearY"] if src == "long" else list(TA)
        for op in ops:
            mags = [0.3, -0.3] if src == "long" else magnitudes(op, img)
            tiles = [np.asarray(_apply_op(img, op, m, InterpolationMode.NEAREST, None)) for m in mags]
            out = f"out_{src}_{op}.png"
            Image.fromarray(np.concatenate(tiles, 0), "RGB").save(out, optimize=True)
            cases.append(f"{src} {op} {out} " + " ".join(repr(m) for m in mags))
    with open("cases.txt", "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
