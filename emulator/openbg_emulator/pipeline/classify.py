"""Subject type (``X-Type``) from the pixels and the alpha, and ``type=`` subject selection.

:func:`classify` returns a level-2 class (person, product, animal, car, car_interior, car_part,
transportation, graphics, other); :func:`to_level1` maps it to level 1 (person, product, animal, car,
other).  :func:`select_subject` keeps the connected parts of the alpha that match a requested
``type`` when the image holds several subjects.

Evidence, in order:

1. an object detector (COCO classes) when its weights are installed (see
   :mod:`openbg_emulator.detectors`); its detections are matched against the subject mask — a
   detection counts for the share of the subject it covers;
2. image statistics of the subject for *graphics*: rendered artwork is noise-free — many pixels
   have an exactly zero Laplacian, there are large flat areas and few distinct colours — while
   photographs carry sensor noise and texture everywhere;
3. *product* for a single compact, solid subject when nothing else speaks; *other* when the alpha
   holds no clear subject (empty, tiny, or a scatter of fragments).

Everything works on a copy reduced to at most :data:`WORK_SIZE` pixels on the long side; the
engine gives the detector the original image (``detector_rgb``) so that it is resampled once.

``car_part``: a subject with sure car evidence that the frame cuts on at least :data:`PART_SIDES`
sides, each over at least :data:`PART_RUN` of that side (the front half of a car, a door, a corner
with its wheel).  A whole car, however tightly framed, is cut by the frame on at most one side in
the photos measured (it stands on its wheels inside the picture); crops of car photos are cut on
two or three.  The detector gives no evidence for a lone wheel or lamp (it answers nothing, or
"cake"/"bed"), so those are not recognised as parts.

``car_interior`` is never returned: COCO has no class for seats or dashboards, and there are no
interior photos to measure a rule on; it is left to a detector that knows it.  Level 1 is ``car``
for all three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

LEVEL2 = (
    "person",
    "product",
    "animal",
    "car",
    "car_interior",
    "car_part",
    "transportation",
    "graphics",
    "other",
)
_TO_LEVEL1 = {
    "person": "person",
    "product": "product",
    "animal": "animal",
    "car": "car",
    "car_interior": "car",
    "car_part": "car",
    "transportation": "other",
    "graphics": "other",
    "other": "other",
}
#: request ``type`` value → the level-2 classes it selects
_WANTED = {
    "person": ("person",),
    "product": ("product",),
    "car": ("car", "car_interior", "car_part"),
    "animal": ("animal",),
    "graphic": ("graphics",),
    "graphics": ("graphics",),
    "transportation": ("transportation", "car", "car_part"),
}

#: long side of the working copy used for statistics
WORK_SIZE = 512
#: graphics: interior (alpha eroded by CORE_ERODE px) with at least GFX_ZERO_LAP of exactly-zero
#: Laplacian, median |Laplacian| at most GFX_NOISE, and fewer distinct 15-bit colours per pixel
#: than GFX_COLOURS
CORE_ERODE = 9  # the edge of a predicted mask often holds some background texture
GFX_ZERO_LAP = 0.10
GFX_NOISE = 4.0
GFX_COLOURS = 0.025
#: a detection's vote = score · min(1, share/SHARE_FULL) · min(1, fill/FILL_FULL), where share is
#: the part of the subject inside its box and fill the part of the box that is subject; a class is
#: sure when its combined vote (noisy-or of its detections) reaches VOTE_MIN, and among sure classes the one with the
#: strongest single detection wins (near-duplicate weak boxes of one object add up to a sure vote, but
#: must not outvote a stronger detection of another class: dev 69 → 70 of 72 on ground-truth masks, 70
#: on the model's; one of the 81 photos changes, a seated woman called product → person).
SHARE_FULL = 0.5
FILL_FULL = 0.3
VOTE_MIN = 0.25
#: vehicles need stronger evidence (a wrong "car" also brings the dark car shadow by default)
VOTE_MIN_BY_CLASS = {"car": 0.4, "transportation": 0.4}
#: car_part: the subject (alpha > 0.5) covers at least PART_RUN of a frame side on PART_SIDES sides
PART_RUN = 0.3
PART_SIDES = 2
_ON = 0.5


def to_level1(cls: str) -> str:
    """Level-1 class for a level-2 class (unknown names give ``"other"``)."""
    return _TO_LEVEL1.get(cls, "other")


@dataclass(frozen=True)
class Detection:
    """One detector hit: a level-2 class, a score in [0, 1] and a box in pixels of the input image."""

    cls: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    label: str = ""  # the detector's own class name, for information


#: A detector takes the RGB image (H×W×3 uint8) and returns detections in its pixel coordinates.
Detector = Callable[[np.ndarray], Sequence[Detection]]


@dataclass
class Evidence:
    """What :func:`classify` looked at (for the benchmark and for debugging)."""

    cls: str
    coverage: float = 0.0
    zero_lap: float = 0.0
    flat: float = 0.0
    noise: float = 0.0
    colours: float = 0.0
    graphics: bool = False
    votes: dict[str, float] = field(default_factory=dict)
    top: dict[str, float] = field(default_factory=dict)  # each class's best single detection vote
    cut_sides: int = 0  # frame sides the subject runs into (car_part)


#: the detector's copy of a large image keeps at least this short side (the detector stretches its
#: input to 512×512, so it then only shrinks it: no up-and-down resampling)
DETECT_SHORT = 512


def work_copies(
    rgb: np.ndarray, alpha: np.ndarray, size: int = WORK_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(small, small_alpha, detector_rgb)`` for :func:`classify` from the original ``rgb`` and an
    ``alpha`` at any resolution (the model's): a ≤ ``size`` px copy, the alpha resized to it, and the
    detector's copy.  The original is read once: a large image is reduced to a copy whose short side
    is :data:`DETECT_SHORT` (the detector's), and the small copy is made from that.
    """
    h, w = rgb.shape[:2]
    g = DETECT_SHORT / max(1, min(h, w))
    det = rgb
    if g < 0.5:
        det = cv2.resize(rgb, (max(1, round(w * g)), max(1, round(h * g))), interpolation=cv2.INTER_AREA)
    f = min(1.0, size / max(h, w))
    sz = (max(1, round(w * f)), max(1, round(h * f)))
    small = det if det.shape[1::-1] == sz else cv2.resize(det, sz, interpolation=cv2.INTER_AREA)
    a = np.asarray(alpha, np.float32)
    if a.shape[1::-1] != sz:
        down = sz[0] <= a.shape[1] and sz[1] <= a.shape[0]
        a = cv2.resize(a, sz, interpolation=cv2.INTER_AREA if down else cv2.INTER_LINEAR)
    return small, a, det


def classify(
    rgb: np.ndarray, alpha: np.ndarray, *, detector: Detector | None = None, detector_rgb: np.ndarray | None = None
) -> str:
    """Level-2 subject class of ``rgb`` (H×W×3 uint8) cut out by ``alpha`` (H×W float in [0, 1]).

    ``detector_rgb``: the same picture at another resolution (the original, when ``rgb`` is a
    reduced copy) for the detector, which then resamples it once instead of twice.
    """
    return explain(rgb, alpha, detector=detector, detector_rgb=detector_rgb).cls


def looks_like_graphics(rgb: np.ndarray, alpha: np.ndarray) -> bool:
    """Whether :func:`classify` could answer ``graphics``: its image statistics alone, no detector. False
    means it cannot, whatever the detector says (``graphics`` needs those statistics), so a step that only
    asks "graphics or not" need not run the detector."""
    return explain(rgb, alpha, detector=None).graphics


def explain(
    rgb: np.ndarray,
    alpha: np.ndarray,
    *,
    detector: Detector | None = None,
    detections: Sequence[Detection] | None = None,
    detector_rgb: np.ndarray | None = None,
) -> Evidence:
    """Like :func:`classify`, returning the evidence as well.

    ``detections`` (already made on ``rgb``) are used instead of running the detector again.
    ``detector_rgb``: the detector runs on it (the same picture at any resolution; its boxes are
    scaled to ``rgb``'s).  Measured on the dev set through the engine: detecting on the original
    rather than on the ≤ 512 px copy is 3 images better (a twice-resampled input flips borderline
    votes).
    """
    rgb = np.asarray(rgb)
    a = np.asarray(alpha, dtype=np.float32)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    rgb = rgb[..., :3]
    if rgb.dtype != np.uint8:
        rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    h, w = a.shape
    if h == 0 or w == 0:
        return Evidence("other")
    det: Detector | None = None
    if detections is None:
        det = detector

    s = min(1.0, WORK_SIZE / max(h, w))
    if s < 1.0:
        size = (max(1, round(w * s)), max(1, round(h * s)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        sa = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    else:
        small, sa = rgb, a
    on = sa > _ON
    coverage = float(on.mean())
    ev = Evidence("other", coverage=coverage)
    if coverage < 0.002:
        return ev

    # --- graphics statistics (on the subject's interior; its outline is not evidence)
    core = cv2.erode(on.astype(np.uint8), np.ones((CORE_ERODE, CORE_ERODE), np.uint8)) > 0
    if core.sum() < 50:
        core = on
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=1))
    ev.zero_lap = float((lap[core] == 0).mean())
    ev.noise = float(np.median(lap[core]))
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    ev.flat = float((np.hypot(gx, gy)[core] < 4).mean())
    q = small[core].astype(np.int32) // 8
    ev.colours = float(len(np.unique((q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2])) / max(1, int(core.sum())))
    ev.graphics = ev.zero_lap >= GFX_ZERO_LAP and ev.noise <= GFX_NOISE and ev.colours < GFX_COLOURS

    # --- detector votes: share of the subject covered by each class's boxes, weighted by score
    if det is not None:
        # the whole image: the detector was trained on scenes, and context helps it (measured:
        # running it on the subject's box alone loses 7 points on the dev set)
        if detector_rgb is None or detector_rgb.shape[:2] == rgb.shape[:2]:
            detections = list(det(rgb))
        else:
            dh, dw = detector_rgb.shape[:2]
            fx, fy = w / dw, h / dh
            detections = [
                Detection(
                    d.cls, d.score, (d.box[0] * fx, d.box[1] * fy, d.box[2] * fx, d.box[3] * fy), d.label
                )
                for d in det(np.asarray(detector_rgb)[..., :3])
            ]
    if detections:
        sub_area = float(a.sum())
        for d in detections:
            x1, y1, x2, y2 = (round(v) for v in d.box)
            x1, y1 = max(0, x1), max(0, y1)
            x2, y2 = min(w, x2), min(h, y2)
            if x2 <= x1 or y2 <= y1:
                continue
            inside = float(a[y1:y2, x1:x2].sum())
            share = inside / max(1e-6, sub_area)  # how much of the subject the box explains
            fill = inside / float((x2 - x1) * (y2 - y1))  # how much of the box is subject
            v = d.score * min(1.0, share / SHARE_FULL) * min(1.0, fill / FILL_FULL)
            v = min(1.0, v)
            prev = ev.votes.get(d.cls, 0.0)
            ev.votes[d.cls] = 1.0 - (1.0 - prev) * (1.0 - v)  # several hits of one class add up (noisy-or)
            ev.top[d.cls] = max(ev.top.get(d.cls, 0.0), v)
    sure = {c: v for c, v in ev.votes.items() if v >= VOTE_MIN_BY_CLASS.get(c, VOTE_MIN)}
    if sure:
        best = max(sure, key=lambda k: (ev.top[k], sure[k]))
        # artwork of a car or a phone is still graphics; people and animals in it are what it shows
        if not (ev.graphics and best not in ("person", "animal")):
            ev.cls = best
            if best == "car":
                ev.cut_sides = cut_sides(on)
                if ev.cut_sides >= PART_SIDES:
                    ev.cls = "car_part"
            return ev

    if ev.graphics:
        ev.cls = "graphics"
        return ev

    # --- shape: one compact solid subject is a product; a scatter of fragments is "other"
    n, _, stats, _ = cv2.connectedComponentsWithStats(on.astype(np.uint8), connectivity=8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1] if n > 1 else np.zeros(0)
    if areas.size == 0 or areas[0] < 0.5 * areas.sum():
        ev.cls = "other"
        return ev
    ev.cls = "product"
    return ev


def cut_sides(on: np.ndarray, run: float = PART_RUN) -> int:
    """How many sides of the frame the subject mask ``on`` runs into over at least ``run`` of their length."""
    if on.size == 0:
        return 0
    return sum(float(edge.mean()) >= run for edge in (on[0], on[-1], on[:, 0], on[:, -1]))


def select_subject(
    alpha: np.ndarray,
    rgb: np.ndarray,
    wanted_type: str,
    *,
    detector: Detector | None = None,
) -> np.ndarray:
    """Keep the parts of ``alpha`` whose class matches ``wanted_type`` (a request ``type`` value).

    The alpha is split into connected components (alpha > 0.5, dilated a little so that a subject's
    thin gaps do not split it); components smaller than 2 % of the largest are left as they are.
    With one subject, with ``auto``, or when nothing matches, ``alpha`` is returned unchanged.
    """
    a = np.asarray(alpha, dtype=np.float32)
    wanted = _WANTED.get(wanted_type)
    if wanted is None or a.size == 0:
        return alpha
    h, w = a.shape
    s = min(1.0, WORK_SIZE / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    sa = cv2.resize(a, size, interpolation=cv2.INTER_AREA) if s < 1.0 else a
    on = (sa > _ON).astype(np.uint8)
    grow = max(1, round(0.01 * max(size)))
    joined = cv2.dilate(on, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    if n <= 2:
        return alpha
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    big = [i + 1 for i, ar in enumerate(areas) if ar >= 0.02 * areas.max()]
    if len(big) <= 1:
        return alpha
    det = detector
    dets = list(det(np.asarray(rgb)[..., :3])) if det is not None else None  # once, for all parts
    keep_small = np.zeros(labels.shape, bool)
    matched = False
    for lab in big:
        comp = labels == lab
        full = (
            cv2.resize(comp.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
            if s < 1.0
            else comp
        )
        ev = explain(rgb, a * full, detector=None, detections=dets)
        if ev.cls in wanted:
            keep_small |= comp
            matched = True
    if not matched:
        return alpha
    for lab in range(1, n):  # fragments too small to judge stay as they are
        if lab not in big:
            keep_small |= labels == lab
    keep = (
        cv2.resize(keep_small.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        if s < 1.0
        else keep_small
    )
    return (a * keep).astype(np.float32)
