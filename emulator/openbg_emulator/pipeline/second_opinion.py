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
* :func:`veto` — regions the matte keeps that the second opinion is sure are background are lowered
  to it; :func:`graphics_veto` is the engine's step (``OPENBG_SECOND_OPINION``): the veto with
  U²-Net-small, on graphics subjects only.
* :func:`modnet_band` — in the matte's soft band (dilated by ``radius`` px), move toward MODNet's
  alpha by ``weight`` (portrait hair).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

#: :func:`graphics_veto`'s thresholds, chosen by stratified 5-fold cross-validation on the dev set
#: (bench/second_opinion_cv.py; issue 18): a second-opinion alpha below VETO_SURE counts as sure
#: background, and a region must cover VETO_MIN_AREA of the image
VETO_SURE = 0.05
VETO_MIN_AREA = 0.0005
#: regions within this many of the second model's input pixels (U²-Net: 320 a side) of its foreground
#: are not vetoed: at 320 its edge is a pixel or two tighter than a sharp graphic's (the same held-out
#: figures for 1, 2 and 3 on dev; without it a synthetic flat icon lost a 1-px rim, IoU 0.997 → 0.987)
VETO_MARGIN = 2
#: a veto that would remove more than this share of the matte's foreground is dropped: then the second
#: model more likely lost the subject than found background (a hedge against a photo typed graphics;
#: dev, ungated: it would remove 0.36 of a dog and 0.47 of a banana it lost, against ≤ 0.20 of the two
#: graphics it fixes — so it changes no dev figure)
VETO_MAX_SHARE = 0.3
SECOND_INPUT = 320
#: the subject classes (X-Type level 2) the veto runs on. U²-Net drops whole subjects of other kinds
#: (a banana, a dog, a person on dev), so ungated it loses more than it gains; on graphics it removes
#: texture (brick joints) that IS-Net pulls in.
VETO_CLASSES = frozenset({"graphics"})


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
    soft: np.ndarray = ((b > 0.02) & (b < 0.98)).astype(np.uint8)
    if radius > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        soft = cv2.dilate(soft, k)
    out = b.copy()
    sel = soft.astype(bool)
    out[sel] = b[sel] + np.float32(weight) * (m[sel] - b[sel])
    return out


def veto(b: np.ndarray, u: np.ndarray, *, sure: float = 0.1, min_area: float = 0.002, margin: int = 0) -> np.ndarray:
    """``b`` lowered to ``u`` in connected regions (of at least ``min_area`` × the image's pixels) where
    ``b`` keeps a pixel (> 0.5) that the second opinion is sure is background (``u < sure``), farther
    than ``margin`` px from the second opinion's foreground (``u > 0.5``): a second model that is
    tighter by a pixel or two along the subject's edge does not erode it."""
    cand = (b > 0.5) & (u < sure)
    if margin > 0 and cand.any():
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
        cand &= cv2.dilate((u > 0.5).astype(np.uint8), k) == 0
    if not cand.any():
        return b
    _, lab, stats, _ = cv2.connectedComponentsWithStats(cand.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= min_area * b.size
    big[0] = False
    sel = big[lab]
    return np.where(sel, np.minimum(b, u), b)


def graphics_veto(rgb: np.ndarray, alpha: np.ndarray, cls: Callable[[], str],
                  second: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The engine's step: when the subject's class (``cls()``, asked only here) is in VETO_CLASSES,
    :func:`veto` ``alpha`` with ``second(rgb)`` (an alpha of ``rgb``'s size), unless that would remove
    more than VETO_MAX_SHARE of the matte's foreground; else ``alpha`` unchanged."""
    if cls() not in VETO_CLASSES:
        return alpha
    u = np.asarray(second(rgb), np.float32)
    margin = math.ceil(VETO_MARGIN * max(alpha.shape) / SECOND_INPUT)
    out = np.asarray(veto(alpha, u, sure=VETO_SURE, min_area=VETO_MIN_AREA, margin=margin), np.float32)
    kept = alpha > 0.5
    if np.count_nonzero(kept & (out <= 0.5)) > VETO_MAX_SHARE * np.count_nonzero(kept):
        return alpha
    return out
