"""Run ``openbg eval`` with the framing/TTA of issue 6 wired in (matting.segment_alpha).

    .venv/bin/python bench/quality_eval.py DIR --quality balanced [--cached] [--raw] [--limit N]

The engine's ``model_mask`` calls ``pipeline.segment.segment`` (which runs
``matting.segment_alpha``, like ``openbg eval``); this script patches it so ``--cached`` can
serve the model outputs from disk. ``--raw`` instead scores the raw model (stretched, bilinear, no
refinement). ``--cached`` takes the model outputs from /tmp/qcache (bench/quality_cache.py) instead
of running the model, for quick metric runs on a busy machine (seconds/img are then meaningless).
"""
from __future__ import annotations

import hashlib
import os
import sys

import cv2
import numpy as np

from openbg_emulator import cli, engine
from openbg_emulator.pipeline import matting, refine

args = sys.argv[1:]
raw = "--raw" in args
cached = "--cached" in args
args = [a for a in args if a not in ("--raw", "--cached")]
q = args[args.index("--quality") + 1] if "--quality" in args else "balanced"

_by_hash: dict[str, str] = {}
if cached:
    import csv
    from PIL import Image

    root = args[0]
    for r in csv.DictReader(open(os.path.join(root, "manifest.csv"))):
        rgb = np.asarray(Image.open(os.path.join(root, r["image"])).convert("RGB"))
        _by_hash[hashlib.sha1(rgb.tobytes()).hexdigest()] = r["name"]


def _cached_predict(rgb_full: np.ndarray):  # type: ignore[no-untyped-def]
    name = _by_hash.get(hashlib.sha1(np.ascontiguousarray(rgb_full).tobytes()).hexdigest())
    c = dict(np.load(f"/tmp/qcache/{name}.npz"))
    pad_img, meta = matting._pad_frame(rgb_full, 1024)
    st_img = matting._resize_rgb(rgb_full, 1024, 1024)

    def predict(x: np.ndarray) -> np.ndarray:
        if np.array_equal(x, pad_img):
            return c["pad"].astype(np.float32)
        if np.array_equal(x, pad_img[:, ::-1]):
            return c["padf"].astype(np.float32)[:, ::-1]
        if np.array_equal(x, st_img):
            return c["st"].astype(np.float32)
        if np.array_equal(x, st_img[:, ::-1]):
            return c["stf"].astype(np.float32)[:, ::-1]
        raise KeyError("uncached pass")

    return predict


def _segment(seg, rgb, quality=None, **kw):  # type: ignore[no-untyped-def]  # engine passes quality, size
    predict = seg.predict
    if cached and rgb.shape[:2] != (96, 128):  # not the warm-up image
        predict = _cached_predict(rgb)
    if raw:  # the raw model: stretched to 1024, one pass
        return predict(matting._resize_rgb(rgb, 1024, 1024))
    return matting.segment_alpha(predict, rgb, q)


_orig_refine = refine.refine


def _raw_refine(rgb, alpha_lowres, quality="balanced", *, foreground=True):  # type: ignore[no-untyped-def]
    h, w = rgb.shape[:2]
    a = np.clip(cv2.resize(alpha_lowres, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
    return a, rgb


engine._segment.segment = _segment  # type: ignore[attr-defined]
if raw:
    engine._refine.refine = _raw_refine  # type: ignore[attr-defined]
cli.eval_.main(args=args, standalone_mode=True)
