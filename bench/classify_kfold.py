"""X-Type thresholds by k-fold cross-validation on the dev set (held-out accuracy).

    flock /tmp/openbg-heavy.lock .venv/bin/python bench/classify_kfold.py DEV [--k 5]

Each photo is classified as the engine does it (the model's alpha at 1024 — model outputs cached on
disk as in bench/quality_cv.py — then ``classify.work_copies`` and ``classify.classify`` with the
detector on the original); detections are memoised, so a grid of thresholds costs only the
statistics. Folds are stratified by category (as bench/quality_kfold.py); each fold's setting is the
one with the best accuracy on the other folds (ties: the one nearest today's defaults). Prints
today's accuracy (in-sample), the held-out accuracy and the per-fold choices.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify_eval import ACCEPT
from openbg_emulator import evaluation
from openbg_emulator.engine import CLASSIFY_SIZE, Engine, composite_white
from openbg_emulator.pipeline import classify as C
from openbg_emulator.pipeline import decode as D
from openbg_emulator.pipeline import segment as S
from openbg_emulator.settings import Settings
from quality_cv import cached_predict
from quality_kfold import folds

GRID = {
    "VOTE_MIN": [0.15, 0.2, 0.25, 0.3, 0.35],
    "VEHICLE_MIN": [0.3, 0.4, 0.5],
    "GFX_ZERO_LAP": [0.05, 0.1, 0.15],
}
DEFAULT = {"VOTE_MIN": C.VOTE_MIN, "VEHICLE_MIN": C.VOTE_MIN_BY_CLASS["car"], "GFX_ZERO_LAP": C.GFX_ZERO_LAP}


def apply(p: dict[str, float]) -> None:
    C.VOTE_MIN = p["VOTE_MIN"]
    C.VOTE_MIN_BY_CLASS = {"car": p["VEHICLE_MIN"], "transportation": p["VEHICLE_MIN"]}
    C.GFX_ZERO_LAP = p["GFX_ZERO_LAP"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qcv/model"))
    a = ap.parse_args()
    a.cache.mkdir(parents=True, exist_ok=True)
    engine = Engine(Settings.from_env())
    seg = engine.segmenter()
    seg.predict = cached_predict(seg.predict, a.cache)  # type: ignore[method-assign]
    det = engine.detector()
    assert det is not None, "the detector is not installed (openbg models fetch)"
    memo: dict[str, object] = {}

    def detector(x: np.ndarray):  # type: ignore[no-untyped-def]
        key = hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()
        if key not in memo:
            memo[key] = det(x)
        return memo[key]

    rows = evaluation.read_manifest(a.directory)
    inputs = []
    for r in rows:
        img = D.decode(r.image.read_bytes())
        rgb = composite_white(img)
        mask = S.segment(seg, rgb, "balanced")
        inputs.append(C.work_copies(rgb, mask, CLASSIFY_SIZE))
    cands = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
    right: dict[int, dict[str, bool]] = {}
    preds: dict[int, dict[str, str]] = {}
    for i, p in enumerate(cands):
        apply(p)
        preds[i] = {r.name: C.classify(small, al, detector=detector, detector_rgb=d)
                    for r, (small, al, d) in zip(rows, inputs, strict=True)}
        right[i] = {r.name: preds[i][r.name] in ACCEPT[r.category] for r in rows}
    apply(DEFAULT)
    fold = folds([{"name": r.name, "category": r.category} for r in rows], a.k)
    dist = lambda p: sum(abs(p[k] - DEFAULT[k]) / DEFAULT[k] for k in p)
    d0 = next(i for i, p in enumerate(cands) if p == DEFAULT)
    held: dict[str, bool] = {}
    for f in range(a.k):
        train = [r.name for r in rows if fold[r.name] != f]
        best = max(range(len(cands)), key=lambda i: (sum(right[i][n] for n in train), -dist(cands[i])))
        print(f"fold {f}: chosen {cands[best]} (train {sum(right[best][n] for n in train)}/{len(train)})")
        held.update({r.name: right[best][r.name] for r in rows if fold[r.name] == f})
    cats = sorted({r.category for r in rows})
    print(f"{'category':<10} {'n':>3} {'today (in-sample)':>18} {'held-out':>9}")
    for c in cats + ["overall"]:
        ns = [r.name for r in rows if c == "overall" or r.category == c]
        print(f"{c:<10} {len(ns):>3} {sum(right[d0][n] for n in ns):>12}/{len(ns):<5} {sum(held[n] for n in ns):>4}/{len(ns)}")
    print("wrong today:", ", ".join(f"{r.name} ({r.category} -> {preds[d0][r.name]})" for r in rows if not right[d0][r.name]))
    print("wrong held-out:", ", ".join(r.name for r in rows if not held[r.name]))


if __name__ == "__main__":
    main()
