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


def _fit(w: int, h: int, max_pixels: int) -> tuple[int, int]:
    if w * h <= max_pixels:
        return w, h
    s = (max_pixels / (w * h)) ** 0.5
    return max(1, int(w * s)), max(1, int(h * s))


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray, max_pixels: int) -> np.ndarray:
    """Edge-colour-corrected foreground (uint8, same shape as ``rgb``).

    Solves foreground F and background B with pymatting's multi-level estimation on an image of at
    most ``max_pixels``; at full size, B is upsampled and F solved per pixel from the compositing
    equation I = αF + (1−α)B, blended with the upsampled F where α is small (ill-conditioned).
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
    out = rgb.copy()
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        a = alpha[y0:y1]
        band = (a > lo) & (a < hi)
        if not band.any():
            continue
        ab = a[band][:, None]
        i = rgb[y0:y1][band].astype(np.float32)
        b = b_up[y0:y1][band].astype(np.float32)
        fu = f_up[y0:y1][band].astype(np.float32)
        solved = (i - (1.0 - ab) * b) / np.maximum(ab, 1e-3)
        wgt = np.clip((ab - 0.15) / 0.35, 0.0, 1.0)
        f = wgt * solved + (1.0 - wgt) * fu
        strip = out[y0:y1]
        strip[band] = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        # Transparent pixels carry the estimated colour too (useful for color.jpg and resampling).
        np.copyto(strip, f_up[y0:y1], where=(a <= lo)[..., None])  # masked copy, no gather/scatter
    return out


def refine(
    rgb: np.ndarray, alpha_lowres: np.ndarray, quality: str = "balanced", *, foreground: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha at rgb's size, float32 [0, 1]; edge-corrected foreground colour, uint8).

    ``foreground=False`` skips the colour estimation (the second item is then ``rgb`` itself):
    for a matte-only result (``channels=alpha``) or the evaluation, where only alpha matters.
    """
    from . import matting  # edge-aware upsampling + band refinement per quality (issue 6)

    q = quality if quality in ("fast", "balanced", "best") else "balanced"
    alpha = matting.refine_alpha(rgb, matting.upsample_alpha(rgb, alpha_lowres, q), q)  # type: ignore[arg-type]
    if not foreground:
        return alpha, rgb
    fg = estimate_foreground(rgb, alpha, FOREGROUND_PIXELS.get(quality, FOREGROUND_PIXELS["balanced"]))
    return alpha, fg
