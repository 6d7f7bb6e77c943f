"""Measure subject-type detection (``X-Type``) on the dev set: accuracy, confusion table, timing.

Usage::

    python bench/classify_eval.py --eval DIR [--alpha gt|model] [--no-detector] [-v]

``--alpha gt`` (default) classifies each photo with its ground-truth mask as the alpha (so the
figure measures the classifier alone); ``--alpha model`` uses the emulator's own segmentation
(``openbg_emulator.pipeline.segment``), which is what a request sees.

Timing, side by side on each image in one process: the classify path as the engine runs it (a
≤ 512 px copy of the image and the alpha, then :func:`classify.explain` with the detector) against
one segmentation model call (``Segmenter.predict`` on the 1024² input); medians, totals and the
ratio are printed.

The dev set's ``category`` column is mapped to the level-2 classes accepted as correct:
product → product; animal → animal; person → person; graphics → graphics;
vehicle → car or transportation; plant → product or other.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from openbg_emulator.engine import CLASSIFY_SIZE, Engine
from openbg_emulator.pipeline import classify as C
from openbg_emulator.settings import Settings
from PIL import Image

ENGINE = Engine(Settings.from_env())

ACCEPT = {
    "product": {"product"},
    "animal": {"animal"},
    "person": {"person"},
    "graphics": {"graphics"},
    "vehicle": {"car", "transportation"},
    "plant": {"product", "other"},
}


def _model_alpha(rgb: np.ndarray) -> np.ndarray:
    """The emulator's own alpha (framing and passes of the default quality), at the image's size."""
    import cv2
    from openbg_emulator.pipeline import segment

    a = segment.segment(ENGINE.segmenter(), rgb)
    a = cv2.resize(a, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.asarray(a, np.float32)


def _predict_seconds(rgb: np.ndarray) -> float:
    """Seconds of one segmentation model call (``Segmenter.predict`` on the 1024² model input)."""
    from openbg_emulator.pipeline import segment

    seg = ENGINE.segmenter()
    x = segment.model_input(rgb, seg.input_size)
    t = time.perf_counter()
    seg.predict(x)
    return time.perf_counter() - t


def _engine_classify(rgb: np.ndarray, alpha: np.ndarray, detector: object) -> C.Evidence:
    """What ``engine.model_mask`` does: :func:`classify.work_copies` (a ≤ CLASSIFY_SIZE copy and its
    alpha for the statistics, a ≥ 512 px copy for the detector), then explain()."""
    small, a, det_rgb = C.work_copies(rgb, alpha, CLASSIFY_SIZE)
    return C.explain(small, a, detector=detector, detector_rgb=det_rgb)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", required=True, help="an eval folder with manifest.csv")
    ap.add_argument("--alpha", choices=("gt", "model"), default="gt")
    ap.add_argument("--no-detector", action="store_true", help="statistics only (no COCO detector)")
    ap.add_argument("--det-size", type=int, default=None, help="detector input size (default: its RUN_SIZE)")
    ap.add_argument("--no-timing", action="store_true", help="skip the segmentation model timing")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    dev = Path(args.eval)
    with open(dev / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    detector = None if args.no_detector else ENGINE.detector()
    if detector is not None and args.det_size:
        detector.input_size = args.det_size  # type: ignore[attr-defined]
    name = "none (statistics only)" if detector is None else getattr(detector, "name", "yes")
    print(f"detector: {name} at {getattr(detector, 'input_size', '-')}")
    if detector is not None:  # warm up (session creation is a one-time cost)
        detector(np.zeros((64, 64, 3), np.uint8))
    if not args.no_timing:
        _predict_seconds(np.zeros((64, 64, 3), np.uint8))

    conf: dict[str, Counter[str]] = defaultdict(Counter)
    ok_by: Counter[str] = Counter()
    n_by: Counter[str] = Counter()
    t_cls: list[float] = []
    t_seg: list[float] = []
    for r in rows:
        rgb = np.array(Image.open(dev / r["image"]).convert("RGB"))
        if args.alpha == "gt":
            alpha = np.asarray(Image.open(dev / r["gt"]).convert("L"), np.float32) / 255.0
        else:
            alpha = _model_alpha(rgb)
        # side by side, image by image (the machine's load changes both alike)
        if not args.no_timing:
            t_seg.append(_predict_seconds(rgb))
        t = time.perf_counter()
        ev = _engine_classify(rgb, alpha, detector)
        t_cls.append(time.perf_counter() - t)
        cat = r["category"]
        ok = ev.cls in ACCEPT[cat]
        conf[cat][ev.cls] += 1
        n_by[cat] += 1
        ok_by[cat] += ok
        if args.verbose or not ok:
            votes = " ".join(f"{k}={v:.2f}" for k, v in sorted(ev.votes.items(), key=lambda kv: -kv[1])[:3])
            print(
                f"{'ok ' if ok else 'BAD'} {cat:9s} -> {ev.cls:14s} {r['name'][:44]:44s} "
                f"z0={ev.zero_lap:.2f} noise={ev.noise:.1f} flat={ev.flat:.2f} col={ev.colours:.3f} {votes}"
            )

    classes = [c for c in C.LEVEL2 if any(conf[k][c] for k in conf)]
    print(f"\nalpha: {'ground-truth mask' if args.alpha == 'gt' else 'model segmentation'}")
    print("confusion (rows: dev category, columns: predicted level-2 class)")
    head = f"{'':10s}" + "".join(f"{c[:10]:>11s}" for c in classes) + f"{'acc':>8s}"
    print(head)
    for cat in sorted(n_by):
        line = f"{cat:10s}" + "".join(f"{conf[cat][c]:>11d}" for c in classes)
        print(line + f"{ok_by[cat] / n_by[cat]:>8.1%}")
    total = sum(n_by.values())
    print(f"\noverall accuracy {sum(ok_by.values()) / total:.1%} ({sum(ok_by.values())}/{total})")
    tc = np.array(t_cls)
    print(
        f"classify (engine path: ≤512 copy + explain): median {np.median(tc) * 1000:.0f} ms, "
        f"total {tc.sum():.1f} s, max {tc.max() * 1000:.0f} ms"
    )
    if t_seg:
        ts = np.array(t_seg)
        print(
            f"segmentation model call (Segmenter.predict at 1024): median {np.median(ts) * 1000:.0f} ms, "
            f"total {ts.sum():.1f} s"
        )
        print(
            f"classify / segmentation: total {tc.sum() / ts.sum():.1%}, median of per-image ratios "
            f"{np.median(tc / ts):.1%}, worst image {np.max(tc / ts):.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
