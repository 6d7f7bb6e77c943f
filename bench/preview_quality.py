"""What a smaller model input costs on previews: dev-set scores at a preview-sized output (issue 7).

    .venv/bin/python bench/preview_quality.py DIR [--sizes 1024,640,512] [--limit N]
                                              [--quality balanced] [--json out.json]

For every row of the manifest, the alpha is computed by ``Engine.matte`` at the preview size of the
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
from openbg_emulator import evaluation
from openbg_emulator.engine import Engine
from openbg_emulator.settings import Settings

ENGINE = Engine(Settings.from_env())
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
    a = ap.parse_args(argv)
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
            alpha, _ = ENGINE.matte(data, quality=a.quality, size=(pw, ph), use_cache=False, foreground=False,
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


if __name__ == "__main__":
    sys.exit(main())
