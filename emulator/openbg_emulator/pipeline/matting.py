"""Alpha refinement and edge colour estimation (pure numpy / OpenCV functions).

The segmentation model gives an alpha at 1024×1024. This module turns it into a full-resolution
matte that follows the image's edges, and estimates the foreground colour where alpha is partial
so that no halo of the old background remains.

* :func:`segment_alpha` / :func:`model_output` — framing of the image for the model and back.
* :func:`refine_full` — the model alpha → the refined full-resolution alpha: :func:`upsample_alpha`
  (edge-aware for ``balanced``/``best``: a fast guided filter on the image), :func:`refine_alpha`
  (band matting, contrast) and :func:`keep_sure`; over 1024 px a side as two compiled passes over
  the pixels (:mod:`.kernels`), so 12–50 MP stays fast and within memory.

The foreground colour is :func:`openbg_emulator.pipeline.refine.estimate_foreground`'s.

All functions are deterministic and do not touch global state.

Dev-set figures (``openbg eval``, 72 images, IoU / edge MAE; the tuned settings held out by 5-fold
cross-validation, docs/engineering/quality.md): raw 0.872 / 0.091; fast 0.895 / 0.075; balanced 0.903 / 0.072,
no image more than 0.02 IoU below raw; best 0.900 / 0.080. balanced = padded framing, split check
(a stretched pass, which wins where the passes disagree: :func:`fuse_with_raw`), guided upsampling,
band matting at 400 px (narrow trimap), contrast ×2, and :func:`keep_sure` (the refinement never
undoes what the model was sure of). Outputs within the preview tier (≤ :data:`PREVIEW_PIXELS`) skip
balanced's band matting.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from .layout import PREVIEW_PIXELS

Quality = Literal["fast", "balanced", "best"]
log = logging.getLogger("openbg_emulator.matting")
MODEL_SIZE = 1024
#: rows per stripe when a full-resolution operation is applied piecewise
STRIPE_ROWS = 512

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


def _check_quality(quality: str) -> None:
    if quality not in ("fast", "balanced", "best"):
        raise ValueError(f"quality must be fast, balanced or best, not {quality!r}")


# --------------------------------------------------------------------------------------------
# model framing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Framing:
    """Where the image lies in the model's square input (``top, left, height, width``)."""

    height: int
    width: int
    top: int = 0
    left: int = 0
    inner_height: int = MODEL_SIZE
    inner_width: int = MODEL_SIZE


def _resize_rgb(rgb: U8, w: int, h: int) -> U8:
    ih, iw = rgb.shape[:2]
    interp = cv2.INTER_AREA if (w < iw and h < ih) else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(rgb, (w, h), interpolation=interp), dtype=np.uint8)


def model_output(alpha_model: npt.NDArray[np.floating], meta: Framing) -> F32:
    """Model output (size×size, any float) → alpha of the framed region, clamped to [0, 1].

    The result is still at model resolution (aspect as framed); pass it to :func:`refine_full`.
    """
    a = np.asarray(alpha_model, dtype=np.float32)
    a = a.reshape(a.shape[-2:])
    a = a[meta.top : meta.top + meta.inner_height, meta.left : meta.left + meta.inner_width]
    return np.clip(a, 0.0, 1.0)


#: model passes per quality: "st" stretched, "pad" aspect kept (mid-grey padding), "+f" mirrored.
PASSES: dict[str, tuple[str, ...]] = {
    "fast": ("pad",),
    "balanced": ("pad",),
    "best": ("pad", "padf"),
}


def _pad_frame(rgb: U8, size: int) -> tuple[U8, Framing]:
    h, w = rgb.shape[:2]
    sc = size / max(h, w)
    nh, nw = max(1, round(h * sc)), max(1, round(w * sc))
    out = np.full((size, size, 3), 128, np.uint8)  # 128 → ~0 after normalisation
    t, left = (size - nh) // 2, (size - nw) // 2
    out[t : t + nh, left : left + nw] = _resize_rgb(rgb, nw, nh)
    return out, Framing(height=h, width=w, top=t, left=left, inner_height=nh, inner_width=nw)


#: second framing per quality when the first pass's matte splits into several large parts: a
#: component other than the largest that holds at least this fraction of the largest's area
#: triggers a stretched pass, fused by :func:`fuse_with_raw` (0 = never).
_SPLIT_FRAC = {"fast": 0.05, "balanced": 0.05, "best": 0.05}  # fast too since issue 18 (dev: one image 0.16 below raw)
_SPLIT_MIN = 0.002  # ... and at least this fraction of the frame
#: fusion of the padded passes with the stretched (raw) pass: where they differ by more than this,
#: the stretched pass — the raw model's own framing — is kept instead of their mean (issue 18: a mean of
#: 1 and 0 is a half-transparent ghost of whatever one framing took in, and halves a part only one
#: framing kept). Chosen by 5-fold cross-validation on the dev set (docs/engineering/quality.md); 1 = plain mean.
_FUSE_DELTA = 0.75
#: best: where its padded passes disagree by more than _FUSE_DELTA over at least _SPLIT_MIN of the
#: frame, the stretched pass is run and kept there
_TTA_RAW = True


def _pass(predict, rgb: U8, p: str, size: int, cache: dict[str, tuple[U8, Framing]]) -> F32:  # type: ignore[no-untyped-def]
    flip = p.endswith("f")
    kind = "st" if p.startswith("st") else "pad"
    if kind not in cache:
        if kind == "st":
            cache[kind] = (_resize_rgb(rgb, size, size),
                           Framing(rgb.shape[0], rgb.shape[1], inner_height=size, inner_width=size))
        else:
            cache[kind] = _pad_frame(rgb, size)
    x, meta = cache[kind]
    y = np.asarray(predict(np.ascontiguousarray(x[:, ::-1]) if flip else x), np.float32)
    if flip:
        y = y[:, ::-1]
    a = model_output(y, meta)
    if a.shape != (size, size):
        a = cv2.resize(a, (size, size), interpolation=cv2.INTER_LINEAR)
    return a


def _split(alpha: F32, frac: float) -> bool:
    """Whether the matte (alpha > 0.5) has a second large component (see :data:`_SPLIT_FRAC`)."""
    if frac <= 0:
        return False
    n, _, stats, _ = cv2.connectedComponentsWithStats((alpha > 0.5).astype(np.uint8), connectivity=8)
    if n < 3:
        return False
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
    return bool(areas[1] >= frac * areas[0] and areas[1] >= _SPLIT_MIN * alpha.size)


def segment_alpha(predict, rgb: U8, quality: Quality = "balanced", *, size: int = MODEL_SIZE) -> F32:  # type: ignore[no-untyped-def]
    """Model alpha for the whole frame of ``rgb`` (size×size grid, stretched coordinates).

    ``predict``: uint8 size×size×3 image → size×size alpha in [0, 1] (``Segmenter.predict``).
    The passes of :data:`PASSES` for ``quality`` are averaged (test-time augmentation). When their
    matte splits into several large parts (:data:`_SPLIT_FRAC`: e.g. the aspect-kept framing also
    takes in a bystander and shadows), a stretched pass is averaged in: the two framings rarely
    make the same extra part, so it falls below 0.5.
    """
    _check_quality(quality)
    rgb = np.ascontiguousarray(rgb[..., :3])
    frames: dict[str, tuple[U8, Framing]] = {}
    passes = list(PASSES[quality])
    acc = np.zeros((size, size), np.float32)
    lo = hi = None
    for p in passes:
        a = _pass(predict, rgb, p, size, frames)
        acc += a
        lo = a.copy() if lo is None else np.minimum(lo, a)
        hi = a.copy() if hi is None else np.maximum(hi, a)
    acc /= len(passes)
    # passes of one framing that disagree (best's mirrored pass): their mean is a ghost that the band
    # matting later re-solves from colour; the raw framing is asked there too (issue 18)
    torn = (hi - lo > _FUSE_DELTA) if (_TTA_RAW and len(passes) > 1 and lo is not None and hi is not None) else None
    torn_big = torn is not None and float(torn.mean()) >= _SPLIT_MIN
    if "st" not in passes and (torn_big or _split(acc, _SPLIT_FRAC[quality])):
        st = _pass(predict, rgb, "st", size, frames)
        acc = fuse_with_raw(acc, st, _FUSE_DELTA)
        if torn_big and torn is not None:
            acc[torn] = st[torn]
    return np.clip(acc, 0, 1).astype(np.float32)


def fuse_with_raw(alpha: F32, raw: F32, delta: float) -> F32:
    """The mean of two passes where they agree within ``delta``; the raw (stretched) pass where not."""
    mean = (alpha + raw) * np.float32(0.5)  # the two framings weigh equally where they agree
    return np.where(np.abs(alpha - raw) > delta, raw, mean).astype(np.float32)


# --------------------------------------------------------------------------------------------
# guided filter (He et al.), colour guidance, and its fast (subsampled) form
# --------------------------------------------------------------------------------------------


def _box(x: F32, r: int) -> F32:
    return np.asarray(cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT), np.float32)


def _guided_coeffs(img: F32, p: F32, r: int, eps: float) -> tuple[F32, F32]:
    """Colour guided filter coefficients: returns (a: H×W×3, b: H×W), both box-averaged."""
    mean_i = _box(img, r)
    mean_p = _box(p, r)
    ip = img * p[..., None]
    cov_ip = _box(ip, r) - mean_i * mean_p[..., None]
    del ip
    r_, g_, b_ = img[..., 0], img[..., 1], img[..., 2]
    mr, mg, mb = mean_i[..., 0], mean_i[..., 1], mean_i[..., 2]
    e = np.float32(eps)
    vrr = _box(r_ * r_, r) - mr * mr + e
    vrg = _box(r_ * g_, r) - mr * mg
    vrb = _box(r_ * b_, r) - mr * mb
    vgg = _box(g_ * g_, r) - mg * mg + e
    vgb = _box(g_ * b_, r) - mg * mb
    vbb = _box(b_ * b_, r) - mb * mb + e
    # inverse of the symmetric 3×3 covariance
    i_rr = vgg * vbb - vgb * vgb
    i_rg = vgb * vrb - vrg * vbb
    i_rb = vrg * vgb - vgg * vrb
    i_gg = vrr * vbb - vrb * vrb
    i_gb = vrb * vrg - vrr * vgb
    i_bb = vrr * vgg - vrg * vrg
    det = vrr * i_rr + vrg * i_rg + vrb * i_rb
    cr, cg, cb = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.empty_like(img)
    a[..., 0] = (i_rr * cr + i_rg * cg + i_rb * cb) / det
    a[..., 1] = (i_rg * cr + i_gg * cg + i_gb * cb) / det
    a[..., 2] = (i_rb * cr + i_gb * cg + i_bb * cb) / det
    b = mean_p - (a * mean_i).sum(axis=2)
    return _box(a, r), _box(b, r)


#: at least this many stripes before the second core is worth a hand-off (below ~2 MP one thread is as fast)
_MIN_PARALLEL_STRIPES = 4


def _apply_coeffs_striped(rgb: U8, a_low: F32, b_low: F32, out: F32, where: npt.NDArray[np.bool_] | None = None,
                          pool: Executor | None = None) -> None:
    """out = a·I + b at full resolution, with the low-resolution coefficients upsampled per stripe.

    With ``where`` (H×W bool), only the columns of each stripe that hold a True pixel are computed
    (stripes without one are skipped); ``out`` elsewhere is left as it was. Stripes write disjoint
    rows: with ``pool`` (the engine's helper, given only to a request alone in the engine) every
    other stripe runs there while this thread does the rest; the output is the same bit for bit.
    """
    h, w = rgb.shape[:2]
    lh, lw = b_low.shape
    sy = lh / h
    xs_all = ((np.arange(w, dtype=np.float32) + 0.5) * (lw / w) - 0.5).astype(np.float32)

    def stripe(y0: int) -> None:
        y1 = min(h, y0 + STRIPE_ROWS)
        x0, x1 = 0, w
        if where is not None:
            cols = np.flatnonzero(where[y0:y1].any(axis=0))
            if cols.size == 0:
                return
            x0, x1 = int(cols[0]), int(cols[-1]) + 1
        # low-res rows needed for bilinear sampling of this stripe (+ margin)
        ly0 = max(0, int(np.floor((y0 + 0.5) * sy - 0.5)) - 1)
        ly1 = min(lh, int(np.ceil((y1 + 0.5) * sy - 0.5)) + 2)
        # sampling map for this stripe
        ys = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * sy - 0.5 - ly0).astype(np.float32)
        mx, my = np.meshgrid(xs_all[x0:x1], ys)
        a_s = cv2.remap(a_low[ly0:ly1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        b_s = cv2.remap(b_low[ly0:ly1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img = rgb[y0:y1, x0:x1, :3].astype(np.float32) * np.float32(1 / 255.0)
        # channel by channel: numpy's sum over a 3-element last axis is ~5x slower
        o = a_s[..., 0] * img[..., 0]
        o += a_s[..., 1] * img[..., 1]
        o += a_s[..., 2] * img[..., 2]
        o += b_s
        out[y0:y1, x0:x1] = o

    starts = list(range(0, h, STRIPE_ROWS))
    if pool is None or len(starts) < _MIN_PARALLEL_STRIPES:
        for y0 in starts:
            stripe(y0)
        return
    handed = [pool.submit(stripe, y0) for y0 in starts[1::2]]
    for y0 in starts[0::2]:
        stripe(y0)
    for f in handed:
        f.result()  # re-raises a stripe's error


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------

#: working resolution (long side) of the guided filter per quality; beyond it the fast guided
#: filter computes coefficients at this size and applies them at full resolution.
_GF_WORK = {"balanced": 1024, "best": 2048}
_GF_EPS = 1e-4


def _resize_f(a: F32, w: int, h: int) -> F32:
    ih, iw = a.shape[:2]
    interp = cv2.INTER_AREA if (w < iw and h < ih) else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(a, (w, h), interpolation=interp), np.float32)


def upsample_alpha(rgb_full: U8, alpha_low: npt.NDArray[np.floating], quality: Quality = "balanced", *,
                   pool: Executor | None = None) -> F32:
    """Alpha at model resolution (any h×w covering the whole image) → H×W float32 in [0, 1].

    ``pool``: a free worker for half of the full-resolution stripes (same result).

    ``fast``: bilinear. ``balanced``/``best``: guided by the image (colour guided filter whose radius
    matches the model's pixel footprint), so edges follow the image instead of the 1024 grid.
    """
    _check_quality(quality)
    h, w = rgb_full.shape[:2]
    low = np.clip(np.asarray(alpha_low, np.float32), 0, 1)
    if quality == "fast":
        return np.clip(_resize_f(low, w, h), 0, 1)
    # below the model's own resolution there is nothing to recover: area-resample
    if max(w / low.shape[1], h / low.shape[0]) <= 1.0:
        return np.clip(_resize_f(low, w, h), 0, 1)
    work = _GF_WORK[quality]
    s = min(1.0, work / max(h, w))
    ww, wh = max(1, round(w * s)), max(1, round(h * s))
    p = _resize_f(low, ww, wh)
    guide = _resize_rgb(rgb_full[..., :3], ww, wh) if s < 1 else rgb_full[..., :3]
    # one model pixel spans this many working pixels
    foot = max(ww / low.shape[1], wh / low.shape[0])
    r = max(2, round(2 * foot))
    img = guide.astype(np.float32) * np.float32(1 / 255.0)
    a, b = _guided_coeffs(img, p, r, _GF_EPS)
    if s >= 1:
        out = (a * img).sum(axis=2) + b
    else:
        out = np.empty((h, w), np.float32)
        _apply_coeffs_striped(rgb_full, a, b, out, pool=pool)
        np.clip(out, 0, 1, out=out)  # in place: no second full-resolution array
        return out
    return np.clip(out, 0, 1).astype(np.float32, copy=False)


#: matting working resolution (long side) per quality; the band is solved there and brought back
#: to full resolution with the guided filter. 0 = no matting.
_MAT_WORK = {"fast": 0, "balanced": 400, "best": 400}
#: outputs within the preview tier (at most this many pixels, as ``layout.PREVIEW_PIXELS``; the
#: engine already gives them a 640 model input) take this working resolution instead. balanced: no
#: band matting — on a preview the band is 1–3 output pixels wide and the 640 model alpha is
#: already the matte's resolution; skipping it brings a preview's refinement from ~0.2 s to ~0.02 s
#: (see docs/engineering/quality.md for the dev-set cost at preview size). best keeps its band.
_MAT_WORK_PREVIEW = {"fast": 0, "balanced": 0, "best": 400}
#: trimap per quality (lo, hi, erode): alpha outside (lo, hi) is certain, and certain regions are
#: eroded by ``erode`` working pixels. balanced: a narrow band (dev edge MAE 0.073; the wide band
#: makes the matte bleed on coarse edges, 0.080). best: the wide band, which gives the most real
#: partial alpha (hair, fur; dev SAD 69 vs 77 with the narrow band) at that edge cost.
_TRIMAP = {"fast": (0.15, 0.85, 1), "balanced": (0.15, 0.85, 1), "best": (0.05, 0.95, 3)}
_LO, _HI, _ERODE = _TRIMAP["balanced"]


def trimap_from_alpha(alpha: F32, erode: int = _ERODE, lo: float = _LO, hi: float = _HI) -> F32:
    """Trimap (0 bg, 1 fg, 0.5 unknown) from an alpha: certain regions shrunk by ``erode`` pixels."""
    fg = (alpha > hi).astype(np.uint8)
    bg = (alpha < lo).astype(np.uint8)
    if erode > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
        fg = cv2.erode(fg, k)
        bg = cv2.erode(bg, k, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    t = np.full(alpha.shape, 0.5, np.float32)
    t[fg > 0] = 1.0
    t[bg > 0] = 0.0
    return t


def _pymatting_print(*args: object, **_: object) -> None:
    if args:
        log.debug("pymatting: %s", " ".join(str(a) for a in args))


@functools.cache
def _ichol() -> Callable[..., Any]:
    """pymatting's ichol, made quiet once: it print()s a "PERFORMANCE WARNING" block to stdout each time
    its first diagonal shift fails (then retries with larger ones). A module-level ``print`` shadows the
    builtin for that module only, so the server's stdout stays clean and the lines go to the debug log
    (thread-safe; results unchanged)."""
    module = importlib.import_module("pymatting.preconditioner.ichol")  # the package re-exports a
    module.print = _pymatting_print  # function of the same name, so the module is fetched by name
    return module.ichol  # type: ignore[no-any-return]


def solve_band(
    img: F32, trimap: F32, *, eps: float = 1e-7, maxiter: int = 400, trimap_alpha: F32 | None = None
) -> F32:
    """Closed-form matting (Levin et al.) of the unknown band only, within its bounding box."""
    from pymatting import cf_laplacian  # type: ignore[import-untyped]  # lazy: numba import is slow
    from pymatting.solver.cg import cg  # type: ignore[import-untyped]

    ichol = _ichol()
    unknown = trimap == 0.5
    out = trimap.copy()
    if not unknown.any():
        return out
    ys, xs = np.nonzero(unknown)
    h, w = trimap.shape
    y0, y1 = max(0, ys.min() - 2), min(h, ys.max() + 3)
    x0, x1 = max(0, xs.min() - 2), min(w, xs.max() + 3)
    t = trimap[y0:y1, x0:x1].astype(np.float64)
    im = np.ascontiguousarray(img[y0:y1, x0:x1], dtype=np.float64)
    known = t != 0.5
    lap = cf_laplacian(im, epsilon=eps, radius=1, is_known=known)
    u = ~known.ravel()
    lu = lap[u, :][:, u]
    rk = lap[u, :][:, ~u]
    rhs = -rk.dot(t.ravel()[~u])
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # a breakdown is caught below, not warned about
            x = cg(lu, rhs, M=ichol(lu), maxiter=maxiter)
    except (ValueError, ArithmeticError):  # no convergence: keep the input alpha there
        return trimap_alpha if trimap_alpha is not None else out
    if not np.isfinite(x).all():  # a breakdown of the solver (no exception raised): same fallback
        return trimap_alpha if trimap_alpha is not None else out
    flat = t.ravel().copy()
    flat[u] = np.clip(x, 0, 1)
    out[y0:y1, x0:x1] = flat.reshape(t.shape).astype(np.float32)
    return out


#: contrast of the final alpha around 0.5 per quality (see :func:`refine_alpha`)
_CONTRAST = {"fast": 2.0, "balanced": 2.0, "best": 2.0}


def _contrast(a: F32, k: float) -> F32:
    if k == 1.0:
        return a
    out = np.subtract(a, np.float32(0.5), dtype=np.float32)  # one new array, then in place (same values)
    out *= np.float32(k)
    out += np.float32(0.5)
    return np.clip(out, 0, 1, out=out)


def refine_alpha(rgb: U8, alpha: F32, quality: Quality = "balanced", *, pool: Executor | None = None) -> F32:
    """Edge refinement of a full-resolution alpha (same shape as ``rgb``'s first two axes).

    ``balanced``/``best``: the uncertain band (trimap from the alpha, :data:`_TRIMAP`) is solved by
    closed-form matting at a capped working resolution (:data:`_MAT_WORK`) and brought back with
    the guided filter; certain regions are kept.
    ``balanced``/``best`` then raise the contrast of the matte around 0.5 (×2): the network's
    soft transition is about twice as wide as a real edge; true partial alpha (hair, glass)
    between ~0.25 and ~0.75 survives.
    ``pool``: a free worker for half of the full-resolution band stripes (same result).
    """
    _check_quality(quality)
    return _contrast(_refine_band(rgb, alpha, quality, pool), _CONTRAST[quality])


def _refine_band(rgb: U8, alpha: F32, quality: Quality, pool: Executor | None = None) -> F32:
    a = np.clip(np.asarray(alpha, np.float32), 0, 1)
    h, w = a.shape
    work = (_MAT_WORK_PREVIEW if h * w <= PREVIEW_PIXELS else _MAT_WORK)[quality]
    if not work:
        return a
    s = min(1.0, work / max(h, w))
    ww, wh = max(1, round(w * s)), max(1, round(h * s))
    a_w = _resize_f(a, ww, wh) if s < 1 else a
    lo, hi, erode = _TRIMAP[quality]
    tri = trimap_from_alpha(a_w, erode, lo, hi)
    if not (tri == 0.5).any():
        return a
    img_w = (_resize_rgb(rgb[..., :3], ww, wh) if s < 1 else rgb[..., :3]).astype(np.float32) * np.float32(
        1 / 255
    )
    m_w = solve_band(img_w, tri, trimap_alpha=a_w)
    if s >= 1:
        unk = (tri == 0.5) & (a <= hi)
        a[unk] = m_w[unk]
        return a
    # back to full resolution: guided coefficients at working resolution, applied in stripes
    ca, cb = _guided_coeffs(img_w, m_w, 1, 1e-5)
    # pixels the alpha holds as certain at full resolution keep it: thin parts (whiskers, spokes)
    # vanish in the working resolution's trimap but not here
    unk_full = (_resize_f((tri == 0.5).astype(np.float32), w, h) > 0) & (a <= hi)
    full = np.zeros((h, w), np.float32)
    _apply_coeffs_striped(rgb, ca, cb, full, where=unk_full, pool=pool)  # only where it is used
    a[unk_full] = np.clip(full[unk_full], 0, 1)
    return a


#: the refined matte keeps the model's sure values: where the model's alpha (bilinear at full size) is
#: ≥ 1 − this, the refined alpha is not lower; where ≤ this, not higher (issue 18: refinement must not
#: remove what the model was sure of nor add what it was sure was background). 0 = off. Chosen by 5-fold
#: cross-validation on the dev set (docs/engineering/quality.md).
_SURE = {"fast": 0.0, "balanced": 0.1, "best": 0.1}


def keep_sure(alpha: F32, alpha_low: npt.NDArray[np.floating], tau: float) -> F32:
    """Clamp ``alpha`` (H×W, in place) to the model's sure values (see :data:`_SURE`), in 512-row stripes
    (the model alpha is sampled bilinearly per stripe: no second full-resolution array)."""
    if tau <= 0:
        return alpha
    low = np.asarray(alpha_low, np.float32)
    h, w = alpha.shape
    lh, lw = low.shape
    sy = lh / h
    xs = ((np.arange(w, dtype=np.float32) + 0.5) * (lw / w) - 0.5).astype(np.float32)
    hi = np.float32(1.0 - tau)
    for y0 in range(0, h, STRIPE_ROWS):
        y1 = min(h, y0 + STRIPE_ROWS)
        ly0 = max(0, int(np.floor((y0 + 0.5) * sy - 0.5)) - 1)
        ly1 = min(lh, int(np.ceil((y1 + 0.5) * sy - 0.5)) + 2)
        ys = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * sy - 0.5 - ly0).astype(np.float32)
        mx, my = np.meshgrid(xs, ys)
        m = cv2.remap(low[ly0:ly1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        a = alpha[y0:y1]
        np.maximum(a, m, out=a, where=m >= hi)
        np.minimum(a, m, out=a, where=m <= tau)
    return alpha


def refine_full(rgb: U8, alpha_low: npt.NDArray[np.floating], quality: Quality = "balanced", *,
                pool: Executor | None = None) -> F32:
    """The model alpha (any grid covering the frame) → the refined H×W alpha: :func:`upsample_alpha`, then
    :func:`refine_alpha`, then :func:`keep_sure` with :data:`_SURE`.

    Where the guided filter works below full resolution (``balanced``/``best`` on images over 1024 px a
    side), they run as two compiled passes over the full-resolution pixels
    (:func:`openbg_emulator.pipeline.kernels.alpha_rows`: the guided alpha; then band, contrast and sure
    values in place) instead of a dozen numpy passes with full-resolution float temporaries. Same result
    as the three functions within float rounding (tested). ``pool``: a free worker for half of the rows
    (same result)."""
    _check_quality(quality)
    h, w = rgb.shape[:2]
    low = np.clip(np.asarray(alpha_low, np.float32), 0, 1)
    work = _GF_WORK.get(quality, 0)
    if not work or work >= max(h, w) or max(w / low.shape[1], h / low.shape[0]) <= 1.0:
        a = refine_alpha(rgb, upsample_alpha(rgb, low, quality, pool=pool), quality, pool=pool)
        return keep_sure(a, alpha_low, _SURE[quality])
    from . import kernels

    rgb = np.ascontiguousarray(rgb[..., :3])
    # guided upsampling's coefficients at its working resolution (as upsample_alpha; the per-pixel algebra compiled)
    s = work / max(h, w)
    ww, wh = max(1, round(w * s)), max(1, round(h * s))
    p = _resize_f(low, ww, wh)
    foot = max(ww / low.shape[1], wh / low.shape[0])
    k = 2 * max(2, round(2 * foot)) + 1
    planes = np.empty((wh, ww, 13), np.float32)
    kernels.guided_stack(_resize_rgb(rgb, ww, wh), p, planes)
    means = cv2.boxFilter(planes, -1, (k, k), borderType=cv2.BORDER_REFLECT)
    del planes, p
    ga = np.empty((wh, ww, 4), np.float32)
    kernels.guided_solve(means, np.float32(_GF_EPS), ga)
    ga = np.ascontiguousarray(cv2.boxFilter(ga, -1, (k, k), borderType=cv2.BORDER_REFLECT), dtype=np.float32)
    del means
    gy, gx = kernels.lin_index(h, wh), kernels.lin_index(w, ww)
    m_low = np.ascontiguousarray(alpha_low, dtype=np.float32)
    my, mx = kernels.lin_index(h, m_low.shape[0]), kernels.lin_index(w, m_low.shape[1])
    tau, con = np.float32(_SURE[quality]), np.float32(_CONTRAST[quality])
    no_f3, no_u2 = np.zeros((1, 1, 4), np.float32), np.zeros((1, 1), np.uint8)
    out = np.empty((h, w), np.float32)

    def run(guided: bool, band: tuple[object, ...] | None, tau: np.float32, k: np.float32) -> None:
        b = band or (*gy, *gx, no_f3, no_u2, np.float32(1))
        kernels.rows(lambda y0, y1: kernels.alpha_rows(rgb, y0, y1, guided, *gy, *gx, ga, band is not None, *b,
                                                       *my, *mx, m_low, tau, k, out), h, pool)

    # the band (as _refine_band): its trimap from the guided alpha at full resolution, area-reduced
    mat = (_MAT_WORK_PREVIEW if h * w <= PREVIEW_PIXELS else _MAT_WORK)[quality]
    if not mat:
        run(True, None, tau, con)
        return out
    run(True, None, np.float32(0), np.float32(1))  # the guided alpha alone (upsample_alpha)
    lo, hi, erode = _TRIMAP[quality]
    bs = min(1.0, mat / max(h, w))
    bw, bh = max(1, round(w * bs)), max(1, round(h * bs))
    a_w = _resize_f(out, bw, bh)
    tri = trimap_from_alpha(a_w, erode, lo, hi)
    if not (tri == 0.5).any():
        run(False, None, tau, con)
        return out
    img_w = _resize_rgb(rgb, bw, bh).astype(np.float32) * np.float32(1 / 255)
    m_w = solve_band(img_w, tri, trimap_alpha=a_w)
    ca, cb = _guided_coeffs(img_w, m_w, 1, 1e-5)
    band = (*kernels.lin_index(h, bh), *kernels.lin_index(w, bw), np.ascontiguousarray(np.dstack([ca, cb]), np.float32),
            (tri == 0.5).astype(np.uint8), np.float32(hi))
    run(False, band, tau, con)
    return out
