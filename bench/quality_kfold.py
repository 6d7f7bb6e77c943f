"""k-fold cross-validation of a tuned setting over per-image scores (bench/quality_cv.py output).

    .venv/bin/python bench/quality_kfold.py SCORES.json --reference raw --candidates 'balanced@...;balanced@...' [--k 5]

Folds are stratified by category (images sorted by name within a category, dealt round-robin from
a seeded offset). For each fold the candidate chosen on the other folds is the one with the fewest
images more than 0.02 IoU below the reference, then the highest mean IoU; its scores on the held-out
fold are reported (mean IoUs within 0.0005 count as a tie, broken by the lower MAE). Prints the held-out per-category table (IoU, MAE, edge MAE), the per-fold choices
and every image worse than the reference by more than 0.02 IoU (held-out).
"""
from __future__ import annotations

import argparse
import json
import math
import random
from collections import defaultdict
from pathlib import Path

WORSE_BY = 0.02


def folds(images: list[dict], k: int, seed: int = 18) -> dict[str, int]:
    by_cat: dict[str, list[str]] = defaultdict(list)
    for im in images:
        by_cat[im["category"]].append(im["name"])
    rnd = random.Random(seed)
    out, start = {}, 0
    for cat in sorted(by_cat):
        names = sorted(by_cat[cat])
        rnd.shuffle(names)
        for i, n in enumerate(names):
            out[n] = (start + i) % k
        start = (start + len(names)) % k
    return out


def mean(xs: list[float]) -> float:
    v = [x for x in xs if x is not None and not math.isnan(x)]
    return sum(v) / len(v) if v else math.nan


#: mean IoUs closer than this count as a tie, broken by the lower MAE
IOU_TIE = 0.0005


def objective(rows: list[dict], ref: dict[str, float]) -> tuple[int, float, float]:
    worse = sum(1 for r in rows if r["iou"] < ref[r["name"]] - WORSE_BY)
    return (-worse, round(mean([r["iou"] for r in rows]) / IOU_TIE), -mean([r["mae"] for r in rows]))


def table(rows: list[dict], title: str) -> str:
    cats = sorted({r["category"] for r in rows})
    lines = [title, f"{'category':<10} {'n':>3} {'IoU':>7} {'MAE':>7} {'edgeMAE':>8}"]
    for c in cats + ["overall"]:
        rs = [r for r in rows if c == "overall" or r["category"] == c]
        lines.append(f"{c:<10} {len(rs):>3} {mean([r['iou'] for r in rs]):>7.4f} {mean([r['mae'] for r in rs]):>7.4f} "
                     f"{mean([r['edge_mae'] for r in rs]):>8.4f}")
    return "\n".join(lines)


def worst(rows: list[dict], ref: dict[str, float], n: int = 8) -> str:
    d = sorted(rows, key=lambda r: r["iou"] - ref[r["name"]])
    out = []
    for r in d[:n]:
        flag = " <-- worse by > 0.02" if r["iou"] < ref[r["name"]] - WORSE_BY else ""
        out.append(f"  {r['name']:<40} {r['category']:<9} {ref[r['name']]:.3f} -> {r['iou']:.3f} "
                   f"({r['iou'] - ref[r['name']]:+.3f}){flag}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scores", nargs="+")
    ap.add_argument("--reference", default="raw")
    ap.add_argument("--candidates", required=True, help="variant names separated by ;")
    ap.add_argument("--baseline", default=None, help="a variant to show side by side (e.g. today's balanced)")
    ap.add_argument("--k", type=int, default=5)
    a = ap.parse_args()
    data: dict[str, list[dict]] = {}
    for path in a.scores:
        data.update(json.loads(Path(path).read_text()))
    ref_rows = data[a.reference]
    ref = {r["name"]: r["iou"] for r in ref_rows}
    cands = [c for c in a.candidates.split(";") if c]
    by = {c: {r["name"]: r for r in data[c]} for c in cands}
    fold = folds(ref_rows, a.k)
    held: list[dict] = []
    for f in range(a.k):
        train = [n for n in fold if fold[n] != f]
        test = [n for n in fold if fold[n] == f]
        best = max(cands, key=lambda c: objective([by[c][n] for n in train], ref))
        print(f"fold {f}: {len(test)} held out, chosen on the other {len(train)}: {best}")
        held += [dict(by[best][n], chosen=best) for n in test]
    print(table(ref_rows, f"\n{a.reference} (reference)"))
    if a.baseline:
        print(table(data[a.baseline], f"\n{a.baseline} (no tuning)"))
        print(worst(data[a.baseline], ref))
    print(table(held, f"\nheld-out ({a.k}-fold, stratified by category)"))
    print(worst(held, ref))


if __name__ == "__main__":
    main()
