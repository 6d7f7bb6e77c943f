"""Geometry: size tiers, credits, roi, crop + crop_margin, scale and position (pure).

Conventions
* Sizes are ``(width, height)``; boxes are ``(left, top, width, height)`` in pixels.
* ``roi`` percentages are of the input width (x) / height (y); bare numbers and ``px`` are input
  pixels. The region is ``[x1, x2) × [y1, y2)``; ``100%`` is the right/bottom edge.
* ``crop_margin`` px values are result pixels; % values are of the subject's size (top/bottom of its
  height, left/right of its width). Per side at most 50 % of the subject or 500 px.
* ``scale``: the subject's box is resized so that its larger side *relative to the canvas* equals
  ``scale`` (0.1–1.0). ``position`` (x %, y %) puts the subject's box at that fraction of the free
  space (0 % = left/top, 50 % = centred, 100 % = right/bottom); ``center`` when only scale is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ApiError
from ..options import Margin, Roi

PREVIEW_PIXELS = 250_000
TIER_PIXELS: dict[str, int] = {
    "preview": PREVIEW_PIXELS,
    "small": PREVIEW_PIXELS,
    "regular": PREVIEW_PIXELS,
    "medium": 1_500_000,
    "hd": 4_000_000,
    "full": 25_000_000,
    "4k": 25_000_000,
    "50MP": 50_000_000,
    "auto": 25_000_000,
}
MAX_MARGIN_FRACTION = 0.5
MAX_MARGIN_PX = 500
FOREGROUND_THRESHOLD = 0.1  # alpha above this counts for the foreground box


def fit_pixels(w: int, h: int, max_pixels: float) -> tuple[int, int]:
    """Largest size ≤ ``max_pixels`` with the aspect of ``w``×``h``; never upscaled."""
    if w * h <= max_pixels:
        return w, h
    s = math.sqrt(max_pixels / (w * h))
    nw, nh = max(1, int(w * s + 1e-9)), max(1, int(h * s + 1e-9))
    while nw * nh > max_pixels and nw > 1 and nh > 1:
        if nw >= nh:
            nw -= 1
        else:
            nh -= 1
    return nw, nh


def png_capped(fmt: str, channels: str, bg_color: tuple[int, int, int, int] | None, has_bg_image: bool) -> bool:
    """Whether the result will be a PNG (so the PNG megapixel cap applies).

    ``auto`` gives PNG unless the result is known to be opaque (an opaque ``bg_color``, a background
    image, or ``channels=alpha``); auto results that turn out fully opaque are then sent as JPG.
    """
    if fmt == "png":
        return True
    if fmt != "auto":
        return False
    if channels == "alpha" or has_bg_image:
        return False
    return not (bg_color is not None and bg_color[3] == 255)


def output_size(
    width: int, height: int, size: str, *, png: bool = False, png_max_megapixels: float = 10.0
) -> tuple[int, int]:
    """The working/result size for an input of ``width``×``height`` at tier ``size``."""
    cap = TIER_PIXELS.get(size)
    if cap is None:
        raise ApiError("invalid_size", detail=f"Unknown size {size!r}")
    if png:
        cap = min(cap, int(png_max_megapixels * 1_000_000))
    return fit_pixels(width, height, cap)


def max_size(width: int, height: int) -> tuple[int, int]:
    """Largest output for this input (``size=50MP``): X-Max-Width / X-Max-Height."""
    return fit_pixels(width, height, TIER_PIXELS["50MP"])


def is_preview(size: str, width: int, height: int) -> bool:
    """A preview-priced result: ``size=preview`` (or its aliases), or ``auto`` within the preview cap."""
    if TIER_PIXELS.get(size) == PREVIEW_PIXELS:
        return True
    return size == "auto" and width * height <= PREVIEW_PIXELS


def credits(size: str, width: int, height: int) -> float:
    return 0.25 if is_preview(size, width, height) else 1.0


def rate_cost(width: int, height: int) -> int:
    """Rate-limit cost: ceil(input megapixels), at least 1 (§10, §13)."""
    return max(1, math.ceil(width * height / 1_000_000 - 1e-9))


# --------------------------------------------------------------------------- roi
def _coord(v: float, unit: str, ref: int) -> float:
    return v * ref / 100.0 if unit == "%" else v


def roi_box(roi: Roi | None, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``(x1, y1, x2, y2)`` in input pixels, or None for the whole image.

    Raises ``roi_exceeds_bounds`` when a corner lies outside the image, ``roi_region_empty`` when
    the rectangle has no area.
    """
    if roi is None:
        return None
    x1 = _coord(roi.x1.value, roi.x1.unit, width)
    y1 = _coord(roi.y1.value, roi.y1.unit, height)
    x2 = _coord(roi.x2.value, roi.x2.unit, width)
    y2 = _coord(roi.y2.value, roi.y2.unit, height)
    eps = 1e-6
    if min(x1, y1, x2, y2) < -eps or max(x1, x2) > width + eps or max(y1, y2) > height + eps:
        raise ApiError(
            "roi_exceeds_bounds",
            detail=f"The roi ({x1:g} {y1:g} {x2:g} {y2:g}) exceeds the image bounds ({width}x{height})",
        )
    ix1, iy1 = math.floor(x1 + eps), math.floor(y1 + eps)
    ix2, iy2 = math.ceil(x2 - eps), math.ceil(y2 - eps)
    ix1, iy1 = max(0, ix1), max(0, iy1)
    ix2, iy2 = min(width, ix2), min(height, iy2)
    if ix2 <= ix1 or iy2 <= iy1:
        raise ApiError("roi_region_empty")
    if (ix1, iy1, ix2, iy2) == (0, 0, width, height):
        return None
    return ix1, iy1, ix2, iy2


def scale_box(box: tuple[int, int, int, int], src: tuple[int, int], dst: tuple[int, int]) -> tuple[int, int, int, int]:
    """Map ``(x1, y1, x2, y2)`` from a ``src``-sized frame to a ``dst``-sized frame (covering)."""
    sx, sy = dst[0] / src[0], dst[1] / src[1]
    x1, y1, x2, y2 = box
    nx1, ny1 = math.floor(x1 * sx), math.floor(y1 * sy)
    nx2, ny2 = math.ceil(x2 * sx), math.ceil(y2 * sy)
    nx2, ny2 = min(dst[0], max(nx2, nx1 + 1)), min(dst[1], max(ny2, ny1 + 1))
    return nx1, ny1, nx2, ny2


# --------------------------------------------------------------------------- foreground box
def foreground_box(alpha: np.ndarray, threshold: float = FOREGROUND_THRESHOLD) -> tuple[int, int, int, int] | None:
    """``(left, top, width, height)`` of pixels with alpha > threshold, or None when there are none."""
    if alpha.dtype == np.uint8:
        mask = alpha > int(threshold * 255)
    else:
        mask = alpha > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    top, bottom = int(rows[0]), int(rows[-1])
    left, right = int(cols[0]), int(cols[-1])
    return left, top, right - left + 1, bottom - top + 1


def has_foreground(alpha: np.ndarray, min_fraction: float = 5e-5) -> bool:
    """Enough confidently-foreground pixels (alpha ≥ 0.5) to call it a subject."""
    n = int(np.count_nonzero(alpha >= 0.5))
    return n >= max(4, int(min_fraction * alpha.size))


# --------------------------------------------------------------------------- crop / scale / position
def _margin_px(m: Margin, box_w: int, box_h: int) -> tuple[int, int, int, int]:
    """(top, right, bottom, left) in pixels, each clamped to 50 % of the subject or 500 px."""

    def one(length: object, ref: int) -> int:
        value = float(length.value)  # type: ignore[attr-defined]
        unit = length.unit  # type: ignore[attr-defined]
        if unit == "%":
            px = min(value, MAX_MARGIN_FRACTION * 100) * ref / 100.0
        else:
            px = min(value, MAX_MARGIN_PX)
        return max(0, round(px))

    return one(m.top, box_h), one(m.right, box_w), one(m.bottom, box_h), one(m.left, box_w)


@dataclass(frozen=True)
class Placement:
    """How the subject goes onto the result canvas."""

    canvas: tuple[int, int]  # result (w, h)
    src_box: tuple[int, int, int, int]  # (left, top, w, h) of the region taken from the working image
    dst_box: tuple[int, int, int, int]  # (left, top, w, h) where it lands on the canvas (may resize)


def plan(
    working: tuple[int, int],
    subject: tuple[int, int, int, int],
    *,
    crop: bool,
    crop_margin: Margin,
    scale: float | None,
    position: tuple[float, float] | None,
) -> Placement:
    """Plan the result canvas from the subject box (in working pixels) and the options."""
    ww, wh = working
    sl, st, sw, sh = subject
    if crop:
        mt, mr, mb, ml = _margin_px(crop_margin, sw, sh)
        cw, ch = sw + ml + mr, sh + mt + mb
        origin = (sl - ml, st - mt)  # canvas origin in working coordinates (may be negative)
    else:
        cw, ch = ww, wh
        origin = (0, 0)
    if scale is None and position is None:
        # The working image (or its crop) as is: copy the overlap of canvas and image.
        x0, y0 = origin
        il, it = max(0, x0), max(0, y0)
        ir, ib = min(ww, x0 + cw), min(wh, y0 + ch)
        return Placement((cw, ch), (il, it, ir - il, ib - it), (il - x0, it - y0, ir - il, ib - it))
    f = 1.0 if scale is None else scale / max(sw / cw, sh / ch)
    nw = max(1, min(cw, round(sw * f)))
    nh = max(1, min(ch, round(sh * f)))
    px, py = position if position is not None else (50.0, 50.0)
    left = round((cw - nw) * px / 100.0)
    top = round((ch - nh) * py / 100.0)
    return Placement((cw, ch), (sl, st, sw, sh), (left, top, nw, nh))


def apply(placement: Placement, fg: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Render the planned canvas: (foreground uint8 H×W×3, alpha float32 H×W); empty canvas is 0."""
    cw, ch = placement.canvas
    sl, st, sw, sh = placement.src_box
    dl, dt, dw, dh = placement.dst_box
    if (cw, ch) == (fg.shape[1], fg.shape[0]) and (sl, st, sw, sh) == (0, 0, cw, ch) and (dl, dt) == (0, 0):
        return fg, alpha
    out_fg = np.zeros((ch, cw, 3), np.uint8)
    out_a = np.zeros((ch, cw), np.float32)
    if sw <= 0 or sh <= 0 or dw <= 0 or dh <= 0:
        return out_fg, out_a
    src_fg = fg[st : st + sh, sl : sl + sw]
    src_a = alpha[st : st + sh, sl : sl + sw]
    if (dw, dh) != (sw, sh):
        interp = cv2.INTER_AREA if dw < sw else cv2.INTER_LINEAR
        src_fg = cv2.resize(np.ascontiguousarray(src_fg), (dw, dh), interpolation=interp)
        src_a = np.clip(cv2.resize(np.ascontiguousarray(src_a), (dw, dh), interpolation=interp), 0, 1)
    out_fg[dt : dt + dh, dl : dl + dw] = src_fg
    out_a[dt : dt + dh, dl : dl + dw] = src_a
    return out_fg, out_a
