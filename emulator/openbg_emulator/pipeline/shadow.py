"""Shadows drawn under the subject: ``drop``, ``3D`` and ``car`` (remove.bg ``shadow_type``).

:func:`render_shadow` turns the subject's alpha into a shadow *opacity layer* of the same size: a
float32 array in [0, 1] that the compositor paints (black, or a darkened background) over the
background and UNDER the subject.  The layer is made at a reduced working resolution (the long side
at most ``work_size`` pixels) and the blurred result is upsampled, so a 25 MP alpha costs about as
much as a 1 MP one.  Everything is drawn inside the canvas (the output has the input's shape).

The three kinds:

* ``drop`` — the alpha moved a little down and to the right and blurred: a floating, studio drop
  shadow.  The offset is larger than the blur reach, so nothing lies above the subject's top row.
* ``3D`` — the subject's silhouette cast on the ground plane *behind* it by a light in front of and
  above the subject: an affine squash of the alpha anchored at the subject's base (its lowest row),
  leaning back (up the image) and a little to the side; it gets blurrier and fainter with distance
  from the base, plus a small dark contact shadow where the subject stands.
* ``car`` — a soft contact shadow under body and wheels: a dark thin band along the ground line (the
  lower convex hull of the bottoms of the columns that reach the lowest quarter of the subject —
  wheels, sills, feet; not mirrors or ears) that is darkest where the mask meets it, over a wider,
  fainter ambient band spanning that footprint.  Separate footprints (a car and a person beside
  it) get separate ground lines.  Nothing above the subject.

The layer's maximum is ``opacity / 100`` times the kind's own peak density (≤ 1), so opacity scales
the layer linearly.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

ShadowKind = Literal["car", "3D", "drop"]

#: Long side of the working resolution.
WORK_SIZE = 768
#: alpha above this is "subject" when finding its extent.
_ON = 0.5


def render_shadow(
    alpha: np.ndarray,
    kind: ShadowKind | str,
    opacity: float,
    *,
    work_size: int = WORK_SIZE,
) -> np.ndarray:
    """Shadow opacity layer (H×W float32 in [0, 1]) for ``alpha`` (H×W, float in [0, 1]).

    ``kind`` is ``"drop"``, ``"3D"`` or ``"car"`` (``"none"`` gives an all-zero layer);
    ``opacity`` 0–100 scales the layer linearly.
    """
    a = np.asarray(alpha)
    if a.ndim != 2:
        raise ValueError(f"alpha must be H×W, got shape {a.shape}")
    h, w = a.shape
    out_zero = np.zeros((h, w), np.float32)
    op = float(np.clip(float(opacity), 0.0, 100.0)) / 100.0
    if kind == "none" or op <= 0.0 or h == 0 or w == 0:
        return out_zero
    if kind not in ("drop", "3D", "car"):
        raise ValueError(f"unknown shadow kind {kind!r}")
    a32 = a.astype(np.float32, copy=False)
    if a32.dtype != np.float32 or a.dtype == np.uint8:
        a32 = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)

    # Working resolution.
    s = min(1.0, float(work_size) / max(h, w))
    if s < 1.0:
        sw, sh = max(1, round(w * s)), max(1, round(h * s))
        small = cv2.resize(a32, (sw, sh), interpolation=cv2.INTER_AREA)
    else:
        small = np.ascontiguousarray(a32)
    small = np.clip(small, 0.0, 1.0)
    box = _bbox(small)
    if box is None:
        return out_zero

    if kind == "drop":
        layer = _drop(small, box)
    elif kind == "3D":
        layer = _cast_3d(small, box)
    else:
        layer = _car(small, box)

    if layer.shape != (h, w):
        layer = cv2.resize(layer, (w, h), interpolation=cv2.INTER_LINEAR)
    layer *= op
    np.clip(layer, 0.0, 1.0, out=layer)
    return layer.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- helpers


def _bbox(a: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) inclusive of pixels with alpha > 0.5, or None."""
    on = a > _ON
    rows = np.flatnonzero(on.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(on.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur whose kernel is cut at 3 sigma (so its reach is known)."""
    if sigma < 0.3:
        return img.astype(np.float32, copy=True)
    k = 2 * int(np.ceil(3.0 * sigma)) + 1
    return cv2.GaussianBlur(img, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)


def _shift(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out


# ----------------------------------------------------------------------------- drop

#: peak density of a drop shadow at opacity 100
DROP_DENSITY = 0.85


def _drop(a: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = box
    size = max(bottom - top + 1, right - left + 1)
    sigma = max(0.8, 0.012 * size)
    reach = int(np.ceil(3.0 * sigma))
    dy = reach + max(1, round(0.008 * size))  # below the blur's upward reach: nothing above the top
    dx = max(1, round(0.6 * dy))
    layer = _blur(_shift(a, dx, dy), sigma)
    return layer * DROP_DENSITY


# ----------------------------------------------------------------------------- 3D

#: peak density of the cast shadow at opacity 100
CAST_DENSITY = 0.75
#: the cast silhouette is this fraction of the subject's height (ground-plane foreshortening)
CAST_SQUASH = 0.32
#: horizontal lean of the cast, per unit of height (the light is a little to the side)
CAST_SKEW = 0.45


def _cast_3d(a: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    h, w = a.shape
    top, left, bottom, right = box
    sh = bottom - top + 1
    size = max(sh, right - left + 1)
    base = float(bottom)
    # (x, y) → (x + skew·(base − y), base − squash·(base − y)): a point at height t above the base
    # lands t·squash behind it on the ground and t·skew to the side.
    m = np.array(
        [[1.0, -CAST_SKEW, CAST_SKEW * base], [0.0, CAST_SQUASH, base * (1.0 - CAST_SQUASH)]],
        np.float32,
    )
    cast = cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # Distance behind the base, 0 at the base and 1 at the far tip of the cast.
    depth = max(1.0, CAST_SQUASH * sh)
    ys = np.arange(h, dtype=np.float32)
    d = np.clip((base - ys) / depth, 0.0, 1.0)[:, None]
    near = _blur(cast, max(0.8, 0.006 * size))
    far = _blur(cast, max(1.5, 0.035 * size))
    layer = (near * (1.0 - d) + far * d) * (1.0 - 0.75 * d)
    # Contact shadow where the subject stands: the base rows of the silhouette, flattened and blurred.
    foot = np.zeros_like(a)
    band = max(1, round(0.015 * sh))
    foot[max(0, bottom - band) : bottom + 1] = a[max(0, bottom - band) : bottom + 1]
    foot = _blur(foot, max(0.8, 0.01 * size))
    layer = np.maximum(layer, 1.2 * foot)
    return np.clip(layer, 0.0, 1.0) * CAST_DENSITY


# ----------------------------------------------------------------------------- car

#: peak density of the car shadow at opacity 100
CAR_DENSITY = 1.0


#: columns whose lowest subject pixel lies in this bottom fraction of the subject stand on the ground
CAR_FOOT_BAND = 0.25
#: runs of standing columns closer than this fraction of the subject's width share one ground line
CAR_JOIN_GAP = 0.12


def _car(a: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    h, w = a.shape
    top, left, bottom, right = box
    sh = bottom - top + 1
    sw = right - left + 1
    on = a > _ON
    cols = np.arange(left, right + 1)
    # Lowest subject row of each column (−1 where the column is empty).
    colon = on[:, left : right + 1]
    has = np.asarray(colon.any(axis=0), dtype=bool)
    low = np.where(has, h - 1 - np.argmax(colon[::-1], axis=0), -1)
    # Columns that reach down to the ground (wheels, sills, feet) — not ears, mirrors or frames.
    stand: np.ndarray = np.logical_and(has, low >= bottom - CAR_FOOT_BAND * sh)
    layer = np.zeros((h, w), np.float32)
    yy = np.arange(h, dtype=np.float32)[:, None]
    for g0, g1 in _runs(stand, max(1, round(CAR_JOIN_GAP * sw))):
        gcols = cols[g0:g1]
        sel = stand[g0:g1]
        pts = np.stack([gcols[sel], low[g0:g1][sel]], axis=1).astype(np.int32)
        # Ground line: the lower convex hull of the standing columns' bottoms.
        ground = _lower_hull_line(pts, gcols)
        glow = np.where(has[g0:g1], low[g0:g1], ground - sh)
        gap = np.clip(ground - glow, 0, None).astype(np.float32)
        # Contact strength per column: 1 where the subject touches the ground line, fading with the gap.
        touch = np.exp(-gap / max(1.0, 0.03 * sh))
        # Footprint: softly tapered at both ends of the run.
        n = g1 - g0
        rel = np.arange(n, dtype=np.float32) / max(1.0, n - 1.0)
        span = np.clip(np.minimum(rel, 1.0 - rel) / 0.06, 0.0, 1.0) if n > 4 else np.ones(n, np.float32)
        dy = yy - ground[None, :].astype(np.float32)  # > 0 below the ground line
        below_ok = dy >= -max(1.0, 0.04 * sh)  # (the part above the line is hidden by the body)
        # Ambient: soft, wider band below the ground line.
        amb_depth = max(1.0, 0.05 * sh)
        amb = np.exp(-np.square(np.maximum(dy, 0.0) / amb_depth)) * below_ok * (0.55 * span)[None, :]
        # Contact: thin and dark right at the line, strongest where wheels/body touch.
        con_depth = max(0.7, 0.012 * sh)
        con = np.exp(-np.square(dy / con_depth)) * (span * (0.35 + 0.65 * touch))[None, :] * below_ok
        x0 = left + g0
        layer[:, x0 : x0 + n] = np.maximum(layer[:, x0 : x0 + n], np.maximum(amb, con))
    layer = _blur(layer, max(0.7, 0.006 * max(sh, sw)))
    # Nothing above the car.
    layer[: top + 1] = 0.0
    return np.clip(layer, 0.0, 1.0) * CAR_DENSITY


def _runs(mask: np.ndarray, join: int) -> list[tuple[int, int]]:
    """[start, end) index runs of True in ``mask``; runs separated by fewer than ``join`` False merge."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > join)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _lower_hull_line(pts: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """y of the lower convex hull (largest y, image coordinates) of ``pts`` at each of ``cols``."""
    if len(pts) == 1:
        return np.full(cols.shape, float(pts[0, 1]))
    # Monotone chain on (x, y) with y pointing down: keep the chain that bounds the points from below.
    order = np.lexsort((-pts[:, 1], pts[:, 0]))
    p = pts[order]
    # keep the lowest point of each x
    _, first = np.unique(p[:, 0], return_index=True)
    p = p[first]
    hull: list[tuple[int, int]] = []
    for x, y in p.tolist():
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # cross > 0 means a left turn in image coords; for the lower hull (max y) keep right turns.
            cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append((x, y))
    hx = np.array([q[0] for q in hull], np.float64)
    hy = np.array([q[1] for q in hull], np.float64)
    return np.interp(cols, hx, hy)
