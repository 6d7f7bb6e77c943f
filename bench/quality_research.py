"""Edge-quality experiment harness (issue 6).

Uses raw IS-Net outputs cached by ``bench/quality_cache.py`` in /tmp/qcache and scores
refinement variants on the dev set: IoU, MAE, edge MAE (15 px of GT boundary),
SAD/1000 and gradient error/1000 on alpha rows, per category.

    .venv/bin/python bench/quality_research.py raw flip guided ...
    QONLY=dim_,graphics_ .venv/bin/python bench/quality_research.py adapt8 padwide flipwide   # round 3
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
    """The engine's metrics (openbg_emulator.evaluation.score), so figures match ``openbg eval``."""
    from openbg_emulator.evaluation import score
    s = score(pred, gt8, kind)
    out = dict(iou=s.iou, mae=s.mae, emae=s.edge_mae)
    if s.sad is not None:
        out.update(sad=s.sad, grad=s.grad)
    return out


def metrics_own(pred: np.ndarray, gt8: np.ndarray, kind: str) -> dict:
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
    line.append(f"| MAE {np.mean([m['mae'] for m in ms]):.4f} eMAE {np.nanmean([m['emae'] for m in ms]):.4f}"
                f" SAD {np.mean([m['sad'] for m in al]):.1f} GRAD {np.mean([m['grad'] for m in al]):.1f}"
                f" | {secs:.3f} cpu-s/img")
    if os.environ.get("QKIND"):
        line.append(" eMAE/kind " + " ".join(
            f"{k}:{np.nanmean([m['emae'] for m in ms if m['kind'] == k]):.4f}" for k in ("binary", "binary_band", "alpha")))
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
        t0 = time.process_time()  # CPU seconds (all threads): the machine is shared, wall time is noise
        pred = np.clip(fn(rgb, c), 0, 1).astype(np.float32)
        tt += time.process_time() - t0
        m = metrics(pred, gt, r["gt_kind"]); m["kind"] = r["gt_kind"]
        res.append((r["category"], m))
    return summarize(name, res, tt / len(rows))


# ---------------- variants -----------------
def v_raw(rgb, c):
    h, w = rgb.shape[:2]; return resize(c["st"], w, h)


def v_raw_pil(rgb, c):
    h, w = rgb.shape[:2]
    return np.asarray(Image.fromarray(c["st"]).resize((w, h), Image.BILINEAR))


def v_flip(rgb, c):
    h, w = rgb.shape[:2]; return resize((c["st"] + c["stf"]) / 2, w, h)


def v_sharp2(rgb, c):
    h, w = rgb.shape[:2]; return np.clip((resize(c["st"], w, h) - 0.5) * 2 + 0.5, 0, 1)


def v_pad(rgb, c):
    h, w = rgb.shape[:2]; return resize(unpad(c["pad"], c["box"]), w, h)


def v_padflip(rgb, c):
    h, w = rgb.shape[:2]; return resize(unpad((c["pad"] + c["padf"]) / 2, c["box"]), w, h)


def v_st_pad(rgb, c):
    h, w = rgb.shape[:2]; return (resize(c["st"], w, h) + resize(unpad(c["pad"], c["box"]), w, h)) / 2


def v_all4(rgb, c):
    h, w = rgb.shape[:2]
    return (resize((c["st"] + c["stf"]) / 2, w, h) + resize(unpad((c["pad"] + c["padf"]) / 2, c["box"]), w, h)) / 2


# ---- round 3 (docs/engineering/quality.md "Tried and dropped"): adaptive band, mirrored pass + wide band ----
def _band(rgb, low, trimap_fn, hi):
    """balanced's guided upsampling + band matting at 400 px with a custom trimap, then contrast x2."""
    from openbg_emulator.pipeline import matting as M
    h, w = rgb.shape[:2]
    a = M.upsample_alpha(rgb, low, "balanced")
    s = min(1.0, 400 / max(h, w)); ww, wh = max(1, round(w * s)), max(1, round(h * s))
    a_w = M._resize_f(a, ww, wh) if s < 1 else a
    img_w = (M._resize_rgb(rgb, ww, wh) if s < 1 else rgb).astype(np.float32) / 255
    tri = trimap_fn(a_w)
    if (tri == 0.5).any():
        m_w = M.solve_band(img_w, tri, trimap_alpha=a_w)
        ca, cb = M._guided_coeffs(img_w, m_w, 1, 1e-5)
        unk = (M._resize_f((tri == 0.5).astype(np.float32), w, h) > 0) & (a <= hi)
        full = np.zeros((h, w), np.float32)
        M._apply_coeffs_striped(rgb, ca, cb, full, where=unk)
        a[unk] = np.clip(full[unk], 0, 1)
    return M._contrast(a, 2.0)


def _adaptive(a_w, radius=8, share=0.3, narrow=(0.15, 0.85, 1), wide=(0.05, 0.95, 3)):
    """Narrow trimap widened to the wide one where the share of partial pixels within radius > share."""
    from openbg_emulator.pipeline import matting as M
    t = M.trimap_from_alpha(a_w, narrow[2], narrow[0], narrow[1])
    tw = M.trimap_from_alpha(a_w, wide[2], wide[0], wide[1])
    part = ((a_w > wide[0]) & (a_w < wide[1])).astype(np.float32)
    t[(tw == 0.5) & (M._box(part, radius) > share)] = 0.5
    return t


def v_adapt8(rgb, c):  # dev: SAD 72.26, edge MAE 0.0783 (narrow: 73.57, 0.0752)
    return _band(rgb, unpad(c["pad"], c["box"]), _adaptive, 0.95)


def v_adapt4(rgb, c):
    return _band(rgb, unpad(c["pad"], c["box"]), lambda a: _adaptive(a, 4), 0.95)


def v_padwide(rgb, c):  # dev: SAD 71.72
    from openbg_emulator.pipeline import matting as M
    return _band(rgb, unpad(c["pad"], c["box"]), lambda a: M.trimap_from_alpha(a, 3, 0.05, 0.95), 0.95)


def v_flipwide(rgb, c):  # dev: SAD 69.12 at 2x the model time; single images swing by +-100
    from openbg_emulator.pipeline import matting as M
    return _band(rgb, unpad((c["pad"] + c["padf"]) / 2, c["box"]), lambda a: M.trimap_from_alpha(a, 3, 0.05, 0.95), 0.95)


VARIANTS = {k[2:]: v for k, v in dict(globals()).items() if k.startswith("v_")}


def main(names):
    rows = load_rows()
    rows = [r for r in rows if os.path.exists(os.path.join(CACHE, r["name"] + ".npz"))]
    cases = [load_case(r) for r in rows]
    print(f"{len(rows)} images")
    import importlib
    only = os.environ.get("QONLY")
    if only:
        keep = [i for i, r in enumerate(rows) if r["name"].startswith(tuple(only.split(",")))]
        rows = [rows[i] for i in keep]; cases = [cases[i] for i in keep]
    for n in names:
        if n in VARIANTS:
            evaluate(n, VARIANTS[n], rows, cases)
        else:  # module.function:quality e.g. matting:balanced
            from openbg_emulator.pipeline import matting
            q = n
            evaluate(n, lambda rgb, c, q=q: matting_variant(rgb, c, q), rows, cases)


def low_alpha(c, base):
    """Model-resolution alpha covering the whole image for a framing/TTA choice."""
    st = lambda: c["st"]
    pad = lambda: cv2.resize(unpad(c["pad"], c["box"]), (1024, 1024), interpolation=cv2.INTER_LINEAR)
    if base == "st":
        return st()
    if base == "pad":
        return unpad(c["pad"], c["box"])
    if base == "flip":
        return (c["st"] + c["stf"]) / 2
    if base == "padflip":
        return unpad((c["pad"] + c["padf"]) / 2, c["box"])
    if base == "st_pad":
        return (st() + pad()) / 2
    if base == "all4":
        return (st() + c["stf"] + pad() + cv2.resize(unpad(c["padf"], c["box"]), (1024, 1024))) / 4
    raise KeyError(base)


def matting_variant(rgb, c, name):
    """``quality@base``, e.g. ``balanced@pad``."""
    from openbg_emulator.pipeline import matting
    q, _, base = name.partition("@")
    if q.startswith("sharp"):  # sharpK@base: contrast K around 0.5 after bilinear resize
        k = float(q[5:]); h, w = rgb.shape[:2]
        return np.clip((resize(low_alpha(c, base), w, h) - 0.5) * k + 0.5, 0, 1)
    base, _, k = base.partition("!")  # balanced@pad!1.5: final contrast
    matting._CONTRAST = {**matting._CONTRAST, q: float(k or {"fast": 1.0}.get(q, 2.0))}
    base, _, cap = base.partition("#")  # e.g. balanced@pad#400: matting working resolution
    if cap:
        matting._MAT_WORK = {**matting._MAT_WORK, q: int(cap)}
    a = matting.upsample_alpha(rgb, low_alpha(c, base or "st"), q)
    return matting.refine_alpha(rgb, a, q)

if __name__ == "__main__":
    main(sys.argv[1:] or ["raw"])
