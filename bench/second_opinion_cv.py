"""k-fold cross-validation of second-opinion rules on bench/second_opinion_dump.py's dumps (issue 18).

    .venv/bin/python bench/second_opinion_cv.py /tmp/q2/dump --types /tmp/qcv/final.json [--k 5] [--json OUT]

Every rule maps (balanced B, raw R, a second opinion U or MODNet M, the X-Type) to a matte; each
family's thresholds are chosen per fold on the other folds with bench/quality_kfold.py's objective
(fewest images > 0.02 IoU below raw, then mean IoU, then MAE), and the family is reported on the
held-out folds. ``balanced`` (no rule) is always a candidate, so a family that does not help is
chosen off. ``--types``: a bench/quality_cv.py JSON whose ``remove-balanced`` rows carry the X-Type
(level 2) the engine gave each image — the gate of the MODNet rules (no oracle categories).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from openbg_emulator.evaluation import BAND_VALUE, edge_region
from openbg_emulator.pipeline import second_opinion as so
from quality_kfold import folds, objective, table, worst


class Img:
    def __init__(self, path: Path, alias: dict[str, str] | None = None) -> None:
        d = np.load(path)
        self.name = path.stem
        self.category = str(d["category"])
        kind = str(d["gt_kind"])
        gt = d["gt"]
        self.g = gt.astype(np.float32) / 255.0
        self.valid = (gt != BAND_VALUE) if kind == "binary_band" else np.ones(gt.shape, bool)
        self.gb = self.g > 0.5
        self.edge = edge_region(self.gb) & self.valid
        alias = alias or {}
        self.maps = {k: d[alias.get(k, k)].astype(np.float32) / 255.0
                     for k in ("raw", "balanced", "u2net", "u2netp", "modnet") if alias.get(k, k) in d}
        self.t = {k[2:]: float(d["t_" + alias.get(k[2:], k[2:])]) for k in d.files if k.startswith("t_")
                  and "t_" + alias.get(k[2:], k[2:]) in d}
        self.type: str | None = None

    def score(self, p: np.ndarray) -> dict:
        pb = p > 0.5
        inter = np.count_nonzero(pb & self.gb & self.valid)
        union = np.count_nonzero((pb | self.gb) & self.valid)
        err = np.abs(p - self.g)
        return {"name": self.name, "category": self.category, "iou": 1.0 if union == 0 else inter / union,
                "mae": float(err[self.valid].mean()),
                "edge_mae": float(err[self.edge].mean()) if self.edge.any() else math.nan}


Rule = Callable[[Img], np.ndarray]


def gfx(im: Img, f: Rule) -> np.ndarray:
    """``f(im)`` on images the engine typed ``graphics``, else the balanced matte."""
    return f(im) if im.type == "graphics" else im.maps["balanced"]


def families() -> dict[str, dict[str, Rule]]:
    fam: dict[str, dict[str, Rule]] = {}
    for second in ("u2net", "u2netp"):
        fam[f"median3-{second}"] = {"on": lambda im, s=second: so.median3(im.maps["balanced"], im.maps["raw"],
                                                                           im.maps[s])}
        fam[f"vote-{second}"] = {
            f"area={a}": (lambda im, s=second, a=a: so.vote_fallback(im.maps["balanced"], im.maps["raw"],
                                                                     im.maps[s], min_area=a))
            for a in (0.0, 0.0005, 0.002, 0.005, 0.01, 0.02)}
        fam[f"doubt-{second}"] = {
            f"d={d}": (lambda im, s=second, d=d: so.doubt_fallback(im.maps["balanced"], im.maps["raw"],
                                                                   im.maps[s], delta=d))
            for d in (0.3, 0.5, 0.7, 0.9)}
        fam[f"blend-{second}"] = {
            f"w={w}": (lambda im, s=second, w=w: im.maps["balanced"] + w * (im.maps[s] - im.maps["balanced"]))
            for w in (0.15, 0.3, 0.5)}
        # graphics (by X-Type) only: U²-Net is better than IS-Net there in full (dev 0.971 / 0.977 vs 0.958)
        fam[f"gfx-median3-{second}"] = {"on": lambda im, s=second: gfx(im, lambda im: so.median3(
            im.maps["balanced"], im.maps["raw"], im.maps[s]))}
        fam[f"gfx-vote-{second}"] = {
            f"area={a}": (lambda im, s=second, a=a: gfx(im, lambda im: so.vote_fallback(
                im.maps["balanced"], im.maps["raw"], im.maps[s], min_area=a))) for a in (0.0, 0.002, 0.01)}
        fam[f"gfx-blend-{second}"] = {
            f"w={w}": (lambda im, s=second, w=w: gfx(im, lambda im: im.maps["balanced"]
                                                     + w * (im.maps[s] - im.maps["balanced"])))
            for w in (0.15, 0.3, 0.5, 1.0)}
    for second in ("u2net", "u2netp", "both"):
        get = (lambda im: np.maximum(im.maps["u2net"], im.maps["u2netp"])) if second == "both" else \
            (lambda im, s=second: im.maps[s])
        for m in (1, 2, 3):
            fam[f"gfx-vetom-{second}-margin{m}"] = {
                f"sure={t},area={a}": (lambda im, get=get, t=t, a=a, m=m: gfx(im, lambda im: so.veto(
                    im.maps["balanced"], get(im), sure=t, min_area=a,
                    margin=math.ceil(m * max(im.g.shape) / 320))))
                for t in (0.05, 0.2) for a in (0.0005, 0.002)}
        for gate in ("", "gfx-"):
            fam[f"{gate}veto-{second}"] = {
                f"sure={t},area={a}": (lambda im, get=get, t=t, a=a, gate=gate: so.veto(
                    im.maps["balanced"], get(im), sure=t, min_area=a)
                    if not gate or im.type == "graphics" else im.maps["balanced"])
                for t in (0.05, 0.1, 0.2) for a in (0.0005, 0.002, 0.005, 0.01)}
    fam["modnet-hair"] = {
        f"w={w},r={r}": (lambda im, w=w, r=r: so.modnet_band(im.maps["balanced"], im.maps["modnet"], weight=w, radius=r)
                         if im.type == "person" else im.maps["balanced"])
        for w in (0.25, 0.5, 0.75, 1.0) for r in (3, 8, 16)}
    fam["modnet-vote"] = {
        f"area={a}": (lambda im, a=a: so.vote_fallback(im.maps["balanced"], im.maps["raw"], im.maps["modnet"], min_area=a)
                      if im.type == "person" else im.maps["balanced"])
        for a in (0.0, 0.002, 0.01)}
    return fam


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dump", type=Path)
    ap.add_argument("--types", type=Path, default=None)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--only-family", default="")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--alias", default="", help="NAME=KEY,…: score NAME's rules on the dump's KEY map (u2netp=u2netp_ov)")
    a = ap.parse_args()
    alias = dict(kv.split("=", 1) for kv in a.alias.split(",") if kv)
    imgs = [Img(p, alias) for p in sorted(a.dump.glob("*.npz"))]
    if a.types:
        t = {r["name"]: r.get("type") for r in json.loads(a.types.read_text())["remove-balanced"]}
        for im in imgs:
            im.type = t.get(im.name)
    print(f"{len(imgs)} images; X-Type person for {sum(im.type == 'person' for im in imgs)}")
    rows: dict[str, dict[str, dict]] = {"raw": {}, "balanced": {}}
    for im in imgs:
        rows["raw"][im.name] = im.score(im.maps["raw"])
        rows["balanced"][im.name] = im.score(im.maps["balanced"])
        for m in ("u2net", "u2netp", "modnet"):
            rows.setdefault(m, {})[im.name] = im.score(im.maps[m])
    ref = {n: r["iou"] for n, r in rows["raw"].items()}
    ref_rows = list(rows["raw"].values())
    fold = folds(ref_rows, a.k)
    for m in ("raw", "balanced", "u2net", "u2netp", "modnet"):
        print(table(list(rows[m].values()), f"\n{m} (in full, nothing tuned)"))
    print("\nbalanced worst vs raw:\n" + worst(list(rows["balanced"].values()), ref))
    out = {"raw": list(rows["raw"].values()), "balanced": list(rows["balanced"].values())}
    for fname, cands in families().items():
        if a.only_family and a.only_family not in fname:
            continue
        per = {"off": rows["balanced"]}
        for cname, rule in cands.items():
            per[cname] = {im.name: im.score(np.clip(rule(im), 0, 1)) for im in imgs}
        held, chosen = [], []
        for f in range(a.k):
            train = [n for n in fold if fold[n] != f]
            best = max(per, key=lambda c: objective([per[c][n] for n in train], ref))
            chosen.append(best)
            held += [per[best][n] for n in fold if fold[n] == f]
        print(f"\n=== {fname}: chosen per fold {chosen}")
        print("in-sample (every candidate on all 72, for reading only):")
        for c, r in per.items():
            rs = list(r.values())
            w = sum(1 for x in rs if x["iou"] < ref[x["name"]] - 0.02)
            print(f"  {c:<14} IoU {np.mean([x['iou'] for x in rs]):.4f} MAE {np.mean([x['mae'] for x in rs]):.4f} "
                  f"edge {np.nanmean([x['edge_mae'] for x in rs]):.4f} worse>0.02: {w}")
        print(table(held, f"held-out {fname}"))
        print(worst(held, ref, 5))
        out[fname] = held
    print("\nseconds per image (model call incl. pre/post, first call of a process included):")
    for m in ("balanced", "u2net", "u2netp", "modnet"):
        ts = sorted(im.t.get(m, math.nan) for im in imgs)
        print(f"  {m:<9} median {ts[len(ts) // 2]:.3f}  mean {np.nanmean(ts):.3f}")
    if a.json:
        a.json.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
