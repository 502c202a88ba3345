#!/usr/bin/python3
"""Generates the OpenCV golden outputs that preprocess's tests compare against.

Run with Debian's python3-opencv (4.6) and numpy:

    /usr/bin/python3 preprocess/testdata/gen_golden.py            # writes testdata/golden/
    /usr/bin/python3 preprocess/testdata/gen_golden.py --make-photos ../shared/data/cat12/cat_12_train

--make-photos (re)creates photo.png / photo2.png (160x120, INTER_AREA) from
two cat12 training photos; the goldens are then derived from those PNGs.
3-channel results are written as PNGs whose R, G, B hold channels 0, 1, 2
(e.g. H, S, V), i.e. cv2 arrays with the channel axis reversed.
"""
import json
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "golden")
PHOTOS = {"photo.png": "0FpXW6B4zriQHbJtZ3I2AUYqjPKuLshS.jpg",
          "photo2.png": "08MxktFvgzyBn6rahXlGqAuebKHTWORQ.jpg"}


def make_photos(src_dir):
    for name, src in PHOTOS.items():
        im = cv2.imread(os.path.join(src_dir, src), cv2.IMREAD_COLOR)
        im = cv2.resize(im, (160, 120), interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(HERE, name), im)


def png(name, arr):
    if arr.ndim == 3:
        arr = arr[:, :, ::-1]  # channel 0 -> R
    assert cv2.imwrite(os.path.join(OUT, name + ".png"), arr)


def npy(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), arr)


def iterative(g):
    h = np.bincount(g.ravel(), minlength=256).astype(np.float64)
    v = np.arange(256, dtype=np.float64)
    t = (h * v).sum() / h.sum()
    for _ in range(1000):
        hi = v > t
        n1, s1 = h[hi].sum(), (h * v)[hi].sum()
        n2, s2 = h[~hi].sum(), (h * v)[~hi].sum()
        if n1 == 0:
            m1 = m2 = s2 / n2
        elif n2 == 0:
            m1 = m2 = s1 / n1
        else:
            m1, m2 = s1 / n1, s2 / n2
        nt = (m1 + m2) / 2
        done = abs(nt - t) < 0.5
        t = nt
        if done:
            break
    return t


def maxentropy(g):
    h = np.bincount(g.ravel(), minlength=256).astype(np.float64)
    p = h / h.sum()
    best, bt = -np.inf, -1
    for t in range(255):
        pa = p[: t + 1].sum()
        pb = 1 - pa
        if pa <= 0 or pb <= 0:
            continue
        qa = p[: t + 1][p[: t + 1] > 0] / pa
        qb = p[t + 1:][p[t + 1:] > 0] / pb
        hsum = -(qa * np.log(qa)).sum() - (qb * np.log(qb)).sum()
        if hsum > best:
            best, bt = hsum, t
    return bt


def freq_mask(w, h, pas, kind, r, r2, order=2):
    y, x = np.mgrid[0:h, 0:w]
    d = np.hypot(x - w // 2, y - h // 2)

    def low(rr):
        if kind == "ideal":
            return (d <= rr).astype(np.float64)
        if kind == "gaussian":
            return np.exp(-d * d / (2 * rr * rr))
        return 1 / (1 + (d / rr) ** (2 * order))

    if pas == "lowpass":
        return low(r)
    if pas == "highpass":
        return 1 - low(r)
    return low(r2) * (1 - low(r))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make-photos":
        make_photos(sys.argv[2])
    os.makedirs(OUT, exist_ok=True)
    cv2.setNumThreads(1)
    bgr = cv2.imread(os.path.join(HERE, "photo.png"), cv2.IMREAD_COLOR)
    bgr2 = cv2.imread(os.path.join(HERE, "photo2.png"), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    gray2 = cv2.cvtColor(bgr2, cv2.COLOR_BGR2GRAY)
    scalars = {}

    # Colour.
    png("gray", gray)
    png("hsv", cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV))
    png("hls", cv2.cvtColor(bgr, cv2.COLOR_BGR2HLS))
    png("lab", cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab))

    # Filtering.
    kernels = {
        "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
        "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32),
        "odd5x3": np.array([[0.1, 0.05, 0.2, 0.05, 0.1], [0.03, 0.07, 0.1, 0.07, 0.03], [0.05, 0.05, 0.05, 0.0, 0.05]], np.float32),
    }
    for name, k in kernels.items():
        png("filter2d_" + name, cv2.filter2D(gray, -1, k))
    scalars["filter2d_kernels"] = {n: k.astype(np.float64).tolist() for n, k in kernels.items()}
    for k in (3, 5, 7):
        png(f"blur_{k}", cv2.blur(gray, (k, k)))
    png("blur_5x3", cv2.blur(gray, (5, 3)))
    gauss = [(3, 0, 0), (5, 0, 0), (7, 0, 0), (9, 0, 0), (5, 1.5, 0), (0, 2.0, 0), (7, 1.0, 3.0), (11, 0, 0)]
    scalars["gaussian"] = []
    for k, sx, sy in gauss:
        name = f"gaussian_{k}_{sx}_{sy}"
        png(name, cv2.GaussianBlur(gray, (k, k), sigmaX=sx, sigmaY=sy))
        scalars["gaussian"].append([name, k, sx, sy])
    for k in (3, 5, 7, 9):
        png(f"median_{k}", cv2.medianBlur(gray, k))
    png("bilateral_gray_7_75_75", cv2.bilateralFilter(gray, 7, 75, 75))
    png("bilateral_gray_0_30_3", cv2.bilateralFilter(gray, 0, 30, 3))
    png("bilateral_color_9_75_75", cv2.bilateralFilter(bgr, 9, 75, 75)[:, :, ::-1])

    # Thresholds.
    types = {"binary": cv2.THRESH_BINARY, "binary_inv": cv2.THRESH_BINARY_INV, "trunc": cv2.THRESH_TRUNC,
             "tozero": cv2.THRESH_TOZERO, "tozero_inv": cv2.THRESH_TOZERO_INV}
    for name, t in types.items():
        png(f"threshold_{name}_127_255", cv2.threshold(gray, 127, 255, t)[1])
        png(f"threshold_{name}_99.5_200", cv2.threshold(gray, 99.5, 200, t)[1])
    t, otsu = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    png("otsu", otsu)
    scalars["otsu"] = t
    scalars["otsu2"] = cv2.threshold(gray2, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
    scalars["iterative"] = iterative(gray)
    scalars["iterative2"] = iterative(gray2)
    scalars["maxentropy"] = maxentropy(gray)
    scalars["maxentropy2"] = maxentropy(gray2)
    adaptive = [("mean", 7, 2, "binary"), ("gaussian", 7, 2, "binary"), ("mean", 11, -3, "binary_inv"),
                ("gaussian", 11, 5, "binary_inv"), ("gaussian", 3, 0, "binary"), ("mean", 5, 1.5, "binary")]
    scalars["adaptive"] = []
    for m, b, c, ty in adaptive:
        name = f"adaptive_{m}_{b}_{c}_{ty}"
        meth = cv2.ADAPTIVE_THRESH_MEAN_C if m == "mean" else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
        png(name, cv2.adaptiveThreshold(gray, 255, meth, types[ty], b, c))
        scalars["adaptive"].append([name, m, b, c, ty])

    # Gradients, on a 75x45 crop (float goldens are kept small).
    crop = gray[10:55, 20:95].copy()
    sobel = [(1, 0, 1), (1, 0, 3), (1, 0, 5), (1, 0, 7), (0, 1, 3), (1, 1, 5), (2, 0, 5), (0, 2, 7), (1, 0, -1)]
    scalars["sobel"] = []
    for dx, dy, k in sobel:
        name = f"sobel_{dx}_{dy}_{k}"
        npy(name, cv2.Sobel(crop, cv2.CV_64F, dx, dy, ksize=k))
        scalars["sobel"].append([name, dx, dy, k])
    for k in (1, 3, 5):
        npy(f"laplacian_{k}", cv2.Laplacian(crop, cv2.CV_64F, ksize=k))
    png("addweighted", cv2.addWeighted(gray, 0.7, gray2, 0.45, 10.3))

    # Morphology.
    shapes = {"rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE, "cross": cv2.MORPH_CROSS}
    elems = {}
    for sn, s in shapes.items():
        for (w, h) in [(1, 1), (3, 3), (5, 5), (7, 7), (9, 9), (4, 6), (7, 3), (15, 11), (2, 2)]:
            elems[f"{sn}_{w}x{h}"] = cv2.getStructuringElement(s, (w, h)).tolist()
    scalars["elements"] = elems
    ops = {"erode": cv2.MORPH_ERODE, "dilate": cv2.MORPH_DILATE, "open": cv2.MORPH_OPEN, "close": cv2.MORPH_CLOSE,
           "gradient": cv2.MORPH_GRADIENT, "tophat": cv2.MORPH_TOPHAT, "blackhat": cv2.MORPH_BLACKHAT}
    scalars["morph"] = []
    for src_name, src in (("gray", gray), ("otsu", otsu)):
        for on, op in ops.items():
            for sn, s in shapes.items():
                for k, it in ((5, 1), (3, 2)) if src_name == "otsu" else ((5, 1),):
                    name = f"morph_{src_name}_{on}_{sn}_{k}_{it}"
                    png(name, cv2.morphologyEx(src, op, cv2.getStructuringElement(s, (k, k)), iterations=it))
                    scalars["morph"].append([name, src_name, on, sn, k, it])
    png("morph_gray_erode_ellipse_7x5_1", cv2.erode(gray, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 5))))

    # Connected components on the Otsu image and on an adaptive one (many blobs).
    binaries = {"otsu": otsu, "adaptive": cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                                                  cv2.THRESH_BINARY, 7, 2)}
    comps = {}
    for bn, b in binaries.items():
        for conn in (4, 8):
            n, labels, stats, _ = cv2.connectedComponentsWithStats(b, connectivity=conn)
            assert n < 65536
            cv2.imwrite(os.path.join(OUT, f"components_{bn}_{conn}.png"), labels.astype(np.uint16))
            comps[f"{bn}_{conn}"] = {"count": int(n - 1), "stats": stats[1:].tolist(),
                                     "largest_area": int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0}
    png("components_adaptive_input", binaries["adaptive"])
    scalars["components"] = comps

    # Frequency domain on odd-sized crops (75x45) of the two photos.
    a = gray[10:55, 20:95].astype(np.float64)
    b = gray2[30:75, 40:115].astype(np.float64)
    png("crop", a.astype(np.uint8))
    png("crop2", b.astype(np.uint8))
    F = np.fft.fft2(a)
    npy("dft", F)
    F = np.ascontiguousarray(F)
    cvF = cv2.dft(a, flags=cv2.DFT_COMPLEX_OUTPUT)
    assert np.allclose(cvF[..., 0] + 1j * cvF[..., 1], F)
    Fs = np.ascontiguousarray(np.fft.fftshift(F))
    npy("fftshift", Fs)
    npy("logmag", np.log1p(np.abs(Fs)))
    npy("phase", np.angle(Fs))
    png("spectrum", cv2.normalize(np.log1p(np.abs(Fs)), None, 0, 255, cv2.NORM_MINMAX).round().astype(np.uint8))
    h, w = a.shape
    scalars["freq"] = []
    for pas in ("lowpass", "highpass", "bandpass"):
        for kind in ("ideal", "gaussian", "butterworth"):
            name = f"freq_{pas}_{kind}"
            m = freq_mask(w, h, pas, kind, 8.0, 16.0)
            npy(name, np.real(np.fft.ifft2(np.fft.ifftshift(Fs * m))))
            scalars["freq"].append([name, pas, kind, 8.0, 16.0])
    G = np.fft.fft2(b)
    npy("swap_ab", np.real(np.fft.ifft2(np.abs(F) * np.exp(1j * np.angle(G)))))
    npy("swap_ba", np.real(np.fft.ifft2(np.abs(G) * np.exp(1j * np.angle(F)))))

    with open(os.path.join(OUT, "scalars.json"), "w") as f:
        json.dump(scalars, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
