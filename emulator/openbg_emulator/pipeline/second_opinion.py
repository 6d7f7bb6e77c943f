"""Second opinions on a refined matte: rules that combine it with another model's alpha (issue 18).

Plain arrays in, a matte out; no model runs here (the caller passes the other model's alpha, e.g.
from :mod:`openbg_emulator.extra_models`). All arrays are float32 in [0, 1] of one shape.

* :func:`median3` — the per-pixel median of the refined matte, the raw model and a second segmenter:
  where two agree, their value wins.
* :func:`vote_fallback` — regions where the refined matte is on the other side of 0.5 from both the
  raw model and the second opinion, which agree, fall back to the raw value (regions smaller than
  ``min_area`` of the image are left alone).
* :func:`doubt_fallback` — pixels where the second opinion differs from the refined matte by more
  than ``delta`` and the raw model is closer to it fall back to the raw value.
* :func:`modnet_band` — in the matte's soft band (dilated by ``radius`` px), move toward MODNet's
  alpha by ``weight`` (portrait hair).
"""

from __future__ import annotations

import cv2
import numpy as np


def median3(b: np.ndarray, r: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-pixel median of three mattes."""
    return np.maximum(np.minimum(b, r), np.minimum(np.maximum(b, r), u))


def vote_fallback(b: np.ndarray, r: np.ndarray, u: np.ndarray, *, min_area: float = 0.0) -> np.ndarray:
    """``b`` with the raw value ``r`` where ``r`` and ``u`` agree (same side of 0.5) against ``b``, in
    connected regions of at least ``min_area`` × the image's pixels."""
    bb, rb, ub = b > 0.5, r > 0.5, u > 0.5
    outvoted = (bb != rb) & (rb == ub)
    if not outvoted.any():
        return b
    if min_area > 0:
        _, lab, stats, _ = cv2.connectedComponentsWithStats(outvoted.astype(np.uint8), connectivity=8)
        big = stats[:, cv2.CC_STAT_AREA] >= min_area * b.size
        big[0] = False
        outvoted = big[lab]
    return np.where(outvoted, r, b)


def doubt_fallback(b: np.ndarray, r: np.ndarray, u: np.ndarray, *, delta: float = 0.5) -> np.ndarray:
    """``b`` with ``r`` where ``|b − u| > delta`` and ``r`` is closer to ``u`` than ``b`` is."""
    db = np.abs(b - u)
    doubt = (db > delta) & (np.abs(r - u) < db)
    return np.where(doubt, r, b)


def modnet_band(b: np.ndarray, m: np.ndarray, *, weight: float = 0.5, radius: int = 8) -> np.ndarray:
    """``b`` moved toward ``m`` by ``weight`` within its soft band (0.02 < b < 0.98) dilated by ``radius`` px."""
    band = ((b > 0.02) & (b < 0.98)).astype(np.uint8)
    if radius > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        band = cv2.dilate(band, k)
    out = b.copy()
    sel = band.astype(bool)
    out[sel] = b[sel] + np.float32(weight) * (m[sel] - b[sel])
    return out


def veto(b: np.ndarray, u: np.ndarray, *, sure: float = 0.1, min_area: float = 0.002) -> np.ndarray:
    """``b`` lowered to ``u`` in connected regions (of at least ``min_area`` × the image's pixels) where
    ``b`` keeps a pixel (> 0.5) that the second opinion is sure is background (``u < sure``)."""
    cand = (b > 0.5) & (u < sure)
    if not cand.any():
        return b
    _, lab, stats, _ = cv2.connectedComponentsWithStats(cand.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= min_area * b.size
    big[0] = False
    sel = big[lab]
    return np.where(sel, np.minimum(b, u), b)
