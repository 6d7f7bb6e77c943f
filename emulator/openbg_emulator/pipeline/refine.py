"""Alpha to the working resolution, and edge colour (foreground) estimation.

``refine(rgb, alpha_lowres, quality) -> (alpha, foreground_rgb)``:

* ``rgb``: H×W×3 uint8, the image at the working resolution;
* ``alpha_lowres``: the model's alpha (float32 in [0, 1]) at any resolution covering the same frame;
* returns ``alpha`` (H×W float32 in [0, 1]) and ``foreground_rgb`` (H×W×3 uint8): the subject's
  colour with the old background removed from partially transparent pixels (edge colour
  correction), equal to ``rgb`` where the subject is opaque.

Memory stays bounded for 50 MP inputs: the foreground is solved at a reduced size and applied
at full size by one compiled pass (:mod:`.kernels`); no full-resolution float temporaries are made.
"""

from __future__ import annotations

from concurrent.futures import Executor

import cv2
import numpy as np

# Pixels solved by the multi-level foreground estimation, per quality.
FOREGROUND_PIXELS = {"fast": 0, "balanced": 250_000, "best": 1_000_000}
#: rows per strip of the full-size pass; a strip without partial pixels keeps the image's colour throughout
STRIP_ROWS = 512
#: outputs of at least this many pixels sample the reduced estimates in the pass (see estimate_foreground)
SAMPLED_PIXELS = 4_000_000


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
    most ``max_pixels``; at full size (one compiled pass, :func:`.kernels.foreground_rows`), F and B are
    upsampled bilinearly (as uint8 images) and F solved per pixel from the compositing equation
    I = αF + (1−α)B, blended with the upsampled F where α is small (ill-conditioned). Opaque pixels keep
    the image's colour; transparent ones take the upsampled F, in every strip of :data:`STRIP_ROWS` rows
    that holds a partial pixel (the others keep the image's colour).

    Below :data:`SAMPLED_PIXELS` the upsampled F and B are OpenCV's (the pre-kernel numbers exactly); from
    it the pass samples the reduced estimates itself (no two full-size images; within one level).

    ``pool``: an executor with a free worker (the engine's, for a request alone on the machine): half of
    the strips are finished there. The result is identical to ``pool=None`` (tested).
    """
    from . import kernels

    h, w = alpha.shape
    lo, hi = np.float32(1.0 / 255.0), np.float32(254.0 / 255.0)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    rgb = np.ascontiguousarray(rgb[..., :3])
    strips = [(y0, min(h, y0 + STRIP_ROWS)) for y0 in range(0, h, STRIP_ROWS)]
    partial = [kernels.any_between(alpha[y0:y1], lo, hi) for y0, y1 in strips] if max_pixels > 0 else []
    if not any(partial):
        return rgb.copy()
    from pymatting import estimate_foreground_ml

    sw, sh = _fit(w, h, max_pixels)
    if (sw, sh) != (w, h):
        rgb_s = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA)
        a_s = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    else:
        rgb_s, a_s = rgb, alpha
    f_s, b_s = estimate_foreground_ml(
        rgb_s.astype(np.float32) / 255.0, np.ascontiguousarray(a_s, dtype=np.float32), return_background=True
    )
    to_u8 = lambda x: np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    f_s8, b_s8 = to_u8(f_s), to_u8(b_s)
    del f_s, b_s
    if (sw, sh) != (w, h) and h * w < SAMPLED_PIXELS:
        f_s8 = cv2.resize(f_s8, (w, h), interpolation=cv2.INTER_LINEAR)
        b_s8 = cv2.resize(b_s8, (w, h), interpolation=cv2.INTER_LINEAR)
        sw, sh = w, h
    fy, fx = kernels.lin_index(h, sh), kernels.lin_index(w, sw)
    out = np.empty((h, w, 3), np.uint8)

    def run(first: int, last: int) -> None:  # strips first:last
        for k in range(first, last):
            y0, y1 = strips[k]
            if partial[k]:
                kernels.foreground_rows(rgb, alpha, y0, y1, *fy, *fx, f_s8, b_s8, lo, hi, out)
            else:
                out[y0:y1] = rgb[y0:y1]

    kernels.rows(run, len(strips), pool, min_split=2)
    return out


def refine(
    rgb: np.ndarray, alpha_lowres: np.ndarray, quality: str = "balanced", *, foreground: bool = True,
    pool: Executor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha at rgb's size, float32 [0, 1]; edge-corrected foreground colour, uint8).

    ``foreground=False`` skips the colour estimation (the second item is then ``rgb`` itself):
    for a matte-only result (``channels=alpha``) or the evaluation, where only alpha matters.
    ``pool``: see :func:`estimate_foreground`; the alpha's full-resolution passes hand it half of their
    rows too (same result, two cores).
    """
    from . import matting  # edge-aware upsampling + band refinement per quality (issue 6)

    q = quality if quality in ("fast", "balanced", "best") else "balanced"
    # upsampling, band, contrast, and what the model was sure of stays (issue 18)
    alpha = matting.refine_full(rgb, alpha_lowres, q, pool=pool)  # type: ignore[arg-type]
    if not foreground:
        return alpha, rgb
    fg = estimate_foreground(rgb, alpha, foreground_pixels(quality), pool=pool)
    return alpha, fg
