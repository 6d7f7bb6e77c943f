"""Alpha to the working resolution, and edge colour (foreground) estimation.

``refine(rgb, alpha_lowres, quality) -> (alpha, foreground_rgb)``:

* ``rgb``: H×W×3 uint8, the image at the working resolution;
* ``alpha_lowres``: the model's alpha (float32 in [0, 1]) at any resolution covering the same frame;
* returns ``alpha`` (H×W float32 in [0, 1]) and ``foreground_rgb`` (H×W×3 uint8): the subject's
  colour with the old background removed from partially transparent pixels (edge colour
  correction), equal to ``rgb`` where the subject is opaque.

Memory stays bounded for 50 MP inputs: the foreground is solved at a reduced size and applied
in strips of rows at full size; no full-resolution float64 arrays are made.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np

# Pixels solved by the multi-level foreground estimation, per quality.
FOREGROUND_PIXELS = {"fast": 0, "balanced": 250_000, "best": 1_000_000}
STRIP_ROWS = 512


def upsample_alpha(alpha_lowres: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize the alpha to ``size`` (w, h): bilinear up, area down; clamped to [0, 1]."""
    h, w = alpha_lowres.shape
    if (w, h) == size:
        return alpha_lowres.astype(np.float32, copy=True)
    interp = cv2.INTER_AREA if (size[0] <= w and size[1] <= h) else cv2.INTER_LINEAR
    out = cv2.resize(alpha_lowres.astype(np.float32, copy=False), size, interpolation=interp)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def foreground_pixels(quality: str) -> int:
    """Pixels of the reduced-size foreground solve for ``quality`` (:data:`FOREGROUND_PIXELS`)."""
    return FOREGROUND_PIXELS.get(quality, FOREGROUND_PIXELS["balanced"])


def _fit(w: int, h: int, max_pixels: int) -> tuple[int, int]:
    if w * h <= max_pixels:
        return w, h
    s = (max_pixels / (w * h)) ** 0.5
    return max(1, int(w * s)), max(1, int(h * s))


def estimate_foreground(
    rgb: np.ndarray, alpha: np.ndarray, max_pixels: int, *, pool: Executor | None = None
) -> np.ndarray:
    """Edge-colour-corrected foreground (uint8, same shape as ``rgb``).

    Solves foreground F and background B with pymatting's multi-level estimation on an image of at
    most ``max_pixels``; at full size, B is upsampled and F solved per pixel from the compositing
    equation I = αF + (1−α)B, blended with the upsampled F where α is small (ill-conditioned).

    ``pool``: an executor with a free worker (the engine's, for a request alone on the machine). While
    this thread runs the reduced-size solve (one core), the worker copies the image and gathers the
    partial pixels of every strip; afterwards the strips are finished half here, half there. The
    arithmetic per pixel is the same, so the result is identical to ``pool=None`` (tested).
    """
    h, w = alpha.shape
    lo, hi = 1.0 / 255.0, 254.0 / 255.0
    if max_pixels <= 0 or not bool(((alpha > lo) & (alpha < hi)).any()):
        return rgb.copy()
    from pymatting import estimate_foreground_ml

    sw, sh = _fit(w, h, max_pixels)
    if (sw, sh) != (w, h):
        rgb_s = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
        a_s = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    else:
        rgb_s, a_s = rgb, alpha
    out = np.empty_like(rgb)
    strips = [(y0, min(h, y0 + STRIP_ROWS)) for y0 in range(0, h, STRIP_ROWS)]

    def prep_all() -> list[_Strip | None]:
        return [_prep_strip(rgb, alpha, out, y0, y1, lo, hi) for y0, y1 in strips]

    prep_fut = pool.submit(prep_all) if pool is not None else None
    f_s, b_s = estimate_foreground_ml(
        rgb_s.astype(np.float32) / 255.0, np.ascontiguousarray(a_s, dtype=np.float32), return_background=True
    )
    to_u8 = lambda x: np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    f_s8, b_s8 = to_u8(f_s), to_u8(b_s)
    del f_s, b_s
    if (sw, sh) != (w, h):
        f_up = cv2.resize(f_s8, (w, h), interpolation=cv2.INTER_LINEAR)
        b_up = cv2.resize(b_s8, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        f_up, b_up = f_s8, b_s8
    preps = prep_fut.result() if prep_fut is not None else prep_all()

    def finish(idx: range) -> None:
        for k in idx:
            p = preps[k]
            if p is not None:
                _finish_strip(out, f_up, b_up, strips[k][0], strips[k][1], p)

    n = len(strips)
    if pool is not None and n > 1:
        half = pool.submit(finish, range(n // 2, n))
        finish(range(n // 2))
        half.result()
    else:
        finish(range(n))
    return out


@dataclass
class _Strip:
    band: np.ndarray  # partial pixels of the strip (bool)
    ab: np.ndarray  # their alpha, N×1 float32
    i: np.ndarray  # their colour, N×3 float32
    wgt: np.ndarray  # weight of the solved colour, N×1 float32
    clear: np.ndarray  # transparent pixels of the strip, h×w×1 bool


def _prep_strip(rgb: np.ndarray, alpha: np.ndarray, out: np.ndarray, y0: int, y1: int, lo: float, hi: float
                ) -> _Strip | None:
    """What a strip needs that does not depend on the reduced-size solve; copies the strip's colour
    into ``out``. None when the strip has no partial pixel (it then keeps the image's colour)."""
    out[y0:y1] = rgb[y0:y1]
    a = alpha[y0:y1]
    band = (a > lo) & (a < hi)
    if not band.any():
        return None
    ab = a[band][:, None]
    i = rgb[y0:y1][band].astype(np.float32)
    wgt = np.clip((ab - 0.15) / 0.35, 0.0, 1.0)
    return _Strip(band, ab, i, wgt, (a <= lo)[..., None])


def _finish_strip(out: np.ndarray, f_up: np.ndarray, b_up: np.ndarray, y0: int, y1: int, p: _Strip) -> None:
    b = b_up[y0:y1][p.band].astype(np.float32)
    fu = f_up[y0:y1][p.band].astype(np.float32)
    solved = (p.i - (1.0 - p.ab) * b) / np.maximum(p.ab, 1e-3)
    f = p.wgt * solved + (1.0 - p.wgt) * fu
    strip = out[y0:y1]
    strip[p.band] = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    # Transparent pixels carry the estimated colour too (useful for color.jpg and resampling).
    np.copyto(strip, f_up[y0:y1], where=p.clear)  # masked copy, no gather/scatter


def refine(
    rgb: np.ndarray, alpha_lowres: np.ndarray, quality: str = "balanced", *, foreground: bool = True,
    pool: Executor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha at rgb's size, float32 [0, 1]; edge-corrected foreground colour, uint8).

    ``foreground=False`` skips the colour estimation (the second item is then ``rgb`` itself):
    for a matte-only result (``channels=alpha``) or the evaluation, where only alpha matters.
    ``pool``: see :func:`estimate_foreground`; the guided upsampling hands it half of its full-resolution
    stripes too (same result, two cores).
    """
    from . import matting  # edge-aware upsampling + band refinement per quality (issue 6)

    q = quality if quality in ("fast", "balanced", "best") else "balanced"
    alpha = matting.refine_alpha(rgb, matting.upsample_alpha(rgb, alpha_lowres, q, pool=pool), q,  # type: ignore[arg-type]
                                 pool=pool)
    matting.keep_sure(alpha, alpha_lowres, matting._SURE[q])  # what the model was sure of stays (issue 18)
    if not foreground:
        return alpha, rgb
    fg = estimate_foreground(rgb, alpha, foreground_pixels(quality), pool=pool)
    return alpha, fg
