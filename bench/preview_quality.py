"""What a smaller model input costs on previews: dev-set scores at a preview-sized output (issue 7).

    .venv/bin/python bench/preview_quality.py /work/shared/eval/dev [--sizes 1024,640,512] [--limit N]
                                              [--quality balanced] [--json out.json]
    .venv/bin/python bench/preview_quality.py /work/shared/eval/dev --sizes 640 --preview-work 0,400,256

``--preview-work`` (issue 6) compares band-matting working sizes for preview-sized outputs
(``matting._MAT_WORK_PREVIEW``; 0 = no band matting) instead of model input sizes: the model runs
once per image (memoised) at the first of ``--sizes``, every variant refines that same mask, and the
CPU seconds are those of the refinement alone.

For every row of the manifest, the alpha is computed by ``engine.matte`` at the preview size of the
image (the largest size of the same aspect within 0.25 MP, as ``size=preview`` delivers), once per
model input size, alternating the sizes per image (same machine load for each), mask cache off.
The ground truth is resized to that size too (area filter for ``alpha`` rows, nearest for the binary
ones, so the uncertain band of ``binary_band`` rows keeps its value) and scored with
``openbg eval``'s metrics. Also prints the CPU seconds of each ``matte`` call, and the IoU of each
smaller size against the 1024 alpha (agreement with the full path, not with the ground truth).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from openbg_emulator import engine, evaluation
from openbg_emulator.pipeline import layout


def _preview_gt(row: evaluation.Row) -> tuple[np.ndarray, int, int]:
    """The row's ground truth at the preview-tier output size, and that size."""
    gt_full = evaluation.load_gt(row.gt)
    h, w = gt_full.shape
    pw, ph = layout.fit_pixels(w, h, layout.PREVIEW_PIXELS)
    interp = cv2.INTER_AREA if row.gt_kind == "alpha" else cv2.INTER_NEAREST
    gt = gt_full if (pw, ph) == (w, h) else cv2.resize(gt_full, (pw, ph), interpolation=interp)
    return gt, pw, ph

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--sizes", default="1024,640,512")
    ap.add_argument("--quality", default="balanced")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--preview-work", help="compare band-matting working sizes on previews, e.g. 0,400,256")
    a = ap.parse_args(argv)
    if a.preview_work:
        return _compare_work(a)
    sizes = [int(x) for x in a.sizes.split(",")]
    rows = evaluation.read_manifest(a.directory)[: a.limit]
    scores: dict[int, list[evaluation.ImageScore]] = {n: [] for n in sizes}
    cpu: dict[int, list[float]] = {n: [] for n in sizes}
    agree: dict[int, list[float]] = {n: [] for n in sizes}
    for i, row in enumerate(rows):
        gt, pw, ph = _preview_gt(row)
        data = row.image.read_bytes()
        ref = None
        order = sizes if i % 2 == 0 else sizes[::-1]
        preds = {}
        for n in order:
            t = time.process_time()
            alpha, _ = engine.matte(data, quality=a.quality, size=(pw, ph), use_cache=False, foreground=False,
                                    model_size=n)
            cpu[n].append(time.process_time() - t)
            preds[n] = alpha
        ref = preds[max(sizes)] > 0.5
        for n in sizes:
            s = evaluation.score(preds[n], gt, row.gt_kind, name=row.name, category=row.category)
            s.seconds = cpu[n][-1]
            scores[n].append(s)
            p = preds[n] > 0.5
            union = np.count_nonzero(p | ref)
            agree[n].append(1.0 if union == 0 else np.count_nonzero(p & ref) / union)
        print(f"{i + 1}/{len(rows)} {row.name} {pw}×{ph} " + " ".join(
            f"{n}: IoU {scores[n][-1].iou:.3f} cpu {cpu[n][-1]:.2f}s" for n in sizes), file=sys.stderr, flush=True)
    out = {}
    for n in sizes:
        print(evaluation.format_table(scores[n], f"model input {n}, preview-sized output, quality={a.quality}, "
                                                 f"{len(rows)} images (s/img = CPU s)"))
        print(f"IoU vs the {max(sizes)} alpha: mean {statistics.mean(agree[n]):.4f}, min {min(agree[n]):.4f}; "
              f"CPU s/img median {statistics.median(cpu[n]):.2f}")
        print()
        out[n] = {name: vars(sm) for name, sm in evaluation.table(scores[n])}
        out[n]["agreement"] = {"mean": statistics.mean(agree[n]), "min": min(agree[n])}
    if a.json:
        a.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


def _compare_work(a: argparse.Namespace) -> int:
    from openbg_emulator.pipeline import matting, segment

    works = [int(x) for x in a.preview_work.split(",")]
    msize = int(a.sizes.split(",")[0])
    memo: dict[bytes, np.ndarray] = {}
    orig = segment.segment

    def memo_segment(seg, rgb, quality="balanced", **kw):  # type: ignore[no-untyped-def]
        key = rgb.tobytes()[:: 997] + bytes(str((rgb.shape, quality, kw)), "ascii")
        if key not in memo:
            memo.clear()  # one image at a time
            memo[key] = orig(seg, rgb, quality, **kw)
        return memo[key].copy()

    engine._segment.segment = memo_segment  # type: ignore[attr-defined]
    rows = evaluation.read_manifest(a.directory)[: a.limit]
    scores: dict[int, list[evaluation.ImageScore]] = {n: [] for n in works}
    cpu: dict[int, list[float]] = {n: [] for n in works}
    saved = dict(matting._MAT_WORK_PREVIEW)
    for i, row in enumerate(rows):
        gt, pw, ph = _preview_gt(row)
        data = row.image.read_bytes()
        engine.matte(data, quality=a.quality, size=(pw, ph), use_cache=False, foreground=False, model_size=msize)
        for n in works if i % 2 == 0 else works[::-1]:
            matting._MAT_WORK_PREVIEW[a.quality] = n
            t = time.process_time()
            alpha, _ = engine.matte(data, quality=a.quality, size=(pw, ph), use_cache=False, foreground=False,
                                    model_size=msize)
            cpu[n].append(time.process_time() - t)
            s = evaluation.score(alpha, gt, row.gt_kind, name=row.name, category=row.category)
            s.seconds = cpu[n][-1]
            scores[n].append(s)
        matting._MAT_WORK_PREVIEW.update(saved)
        print(f"{i + 1}/{len(rows)} {row.name} {pw}×{ph} " + " ".join(
            f"work {n}: IoU {scores[n][-1].iou:.3f} cpu {cpu[n][-1]:.3f}s" for n in works), file=sys.stderr, flush=True)
    for n in works:
        print(evaluation.format_table(scores[n], f"preview band-matting work {n} (model input {msize}), "
                                                 f"quality={a.quality}, {len(rows)} images (s/img = CPU s, mask memoised)"))
        print(f"CPU s/img (decode + refinement, model memoised) median {statistics.median(cpu[n]):.3f}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
