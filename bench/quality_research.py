"""Edge-quality experiment harness (issue 6).

Uses raw IS-Net outputs cached by ``bench/quality_cache.py`` in /tmp/qcache and scores
refinement variants on the dev set: IoU, MAE, edge MAE (15 px of GT boundary),
SAD/1000 and gradient error/1000 on alpha rows, per category.

    .venv/bin/python bench/quality_research.py raw flip guided ...
"""
from __future__ import annotations
import csv, os, sys, time
from collections import defaultdict
import numpy as np
import cv2
from PIL import Image
from scipy import ndimage

DEV = os.environ.get("QDEV", "/work/shared/eval/dev")
CACHE = "/tmp/qcache"
CATS = ["product", "animal", "person", "graphics", "plant", "vehicle"]


def load_rows():
    return list(csv.DictReader(open(os.path.join(DEV, "manifest.csv"))))


def gauss_grad_mag(a: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    gx = ndimage.gaussian_filter(a, sigma, order=(0, 1))
    gy = ndimage.gaussian_filter(a, sigma, order=(1, 0))
    return np.sqrt(gx * gx + gy * gy)


def metrics(pred: np.ndarray, gt8: np.ndarray, kind: str) -> dict:
    gt = gt8.astype(np.float32) / 255.0
    valid = np.ones(gt.shape, bool)
    if kind == "binary_band":
        valid = gt8 != 128
    pb, gb = pred > 0.5, gt > 0.5
    inter = np.logical_and(pb, gb)[valid].sum(); union = np.logical_or(pb, gb)[valid].sum()
    iou = float(inter / union) if union else 1.0
    err = np.abs(pred - gt)
    mae = float(err[valid].mean())
    # boundary of the GT mask; pixels within 15 px of it
    gbu = gb.astype(np.uint8)
    edge = gbu ^ cv2.erode(gbu, np.ones((3, 3), np.uint8)) | (cv2.dilate(gbu, np.ones((3, 3), np.uint8)) ^ gbu)
    if edge.any():
        dist = ndimage.distance_transform_edt(edge == 0)
        band = (dist <= 15) & valid
        emae = float(err[band].mean()) if band.any() else 0.0
    else:
        emae = mae
    out = dict(iou=iou, mae=mae, emae=emae)
    if kind == "alpha":
        out["sad"] = float(err.sum() / 1000.0)
        out["grad"] = float(((gauss_grad_mag(pred) - gauss_grad_mag(gt)) ** 2).sum() / 1000.0)
    return out


def summarize(name, res, secs):
    agg = defaultdict(list)
    for cat, m in res:
        agg[cat].append(m); agg["overall"].append(m)
    line = [f"{name:28s}"]
    for c in CATS + ["overall"]:
        ms = agg[c]
        if not ms:
            continue
        line.append(f"{c[:4]} {np.mean([m['iou'] for m in ms]):.4f}")
    ms = agg["overall"]
    al = [m for m in ms if "sad" in m]
    line.append(f"| MAE {np.mean([m['mae'] for m in ms]):.4f} eMAE {np.mean([m['emae'] for m in ms]):.4f}"
                f" SAD {np.mean([m['sad'] for m in al]):.1f} GRAD {np.mean([m['grad'] for m in al]):.1f}"
                f" | {secs:.3f}s/img")
    print("  ".join(line), flush=True)
    return agg


def load_case(r):
    rgb = np.asarray(Image.open(os.path.join(DEV, r["image"])).convert("RGB"))
    gt = np.asarray(Image.open(os.path.join(DEV, r["gt"])).convert("L"))
    c = dict(np.load(os.path.join(CACHE, r["name"] + ".npz")))
    for k in ("st", "stf", "pad", "padf"):
        if k in c:
            c[k] = c[k].astype(np.float32)
    return rgb, gt, c


def unpad(a1024, box):
    t, l, nh, nw = [int(v) for v in box]
    return a1024[t:t + nh, l:l + nw]


def resize(a, w, h, interp=cv2.INTER_LINEAR):
    return cv2.resize(a, (w, h), interpolation=interp)


def evaluate(name, fn, rows, cases):
    res = []; tt = 0.0
    for r, (rgb, gt, c) in zip(rows, cases):
        t0 = time.perf_counter()
        pred = np.clip(fn(rgb, c), 0, 1).astype(np.float32)
        tt += time.perf_counter() - t0
        res.append((r["category"], metrics(pred, gt, r["gt_kind"])))
    return summarize(name, res, tt / len(rows))


# ---------------- variants -----------------
def v_raw(rgb, c):
    h, w = rgb.shape[:2]; return resize(c["st"], w, h)


def v_raw_pil(rgb, c):
    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(c["st"]).resize((w, h), Image.BILINEAR))


def v_flip(rgb, c):
    h, w = rgb.shape[:2]; return resize((c["st"] + c["stf"]) / 2, w, h)


def v_pad(rgb, c):
    h, w = rgb.shape[:2]; return resize(unpad(c["pad"], c["box"]), w, h)


def v_padflip(rgb, c):
    h, w = rgb.shape[:2]; return resize(unpad((c["pad"] + c["padf"]) / 2, c["box"]), w, h)


def v_st_pad(rgb, c):
    h, w = rgb.shape[:2]; return (resize(c["st"], w, h) + resize(unpad(c["pad"], c["box"]), w, h)) / 2


def v_all4(rgb, c):
    h, w = rgb.shape[:2]
    return (resize((c["st"] + c["stf"]) / 2, w, h) + resize(unpad((c["pad"] + c["padf"]) / 2, c["box"]), w, h)) / 2


VARIANTS = {k[2:]: v for k, v in dict(globals()).items() if k.startswith("v_")}


def main(names):
    rows = load_rows()
    rows = [r for r in rows if os.path.exists(os.path.join(CACHE, r["name"] + ".npz"))]
    cases = [load_case(r) for r in rows]
    print(f"{len(rows)} images")
    import importlib
    for n in names:
        if n in VARIANTS:
            evaluate(n, VARIANTS[n], rows, cases)
        else:  # module.function:quality e.g. matting:balanced
            from openbg_emulator.pipeline import matting
            q = n
            evaluate(n, lambda rgb, c, q=q: matting_variant(rgb, c, q), rows, cases)


def matting_variant(rgb, c, quality):
    from openbg_emulator.pipeline import matting
    q, _, extra = quality.partition("+")
    h, w = rgb.shape[:2]
    low = c["st"] if "flip" not in extra else (c["st"] + c["stf"]) / 2
    a = matting.upsample_alpha(rgb, low, q)
    return matting.refine_alpha(rgb, a, q)


if __name__ == "__main__":
    main(sys.argv[1:] or ["raw"])
