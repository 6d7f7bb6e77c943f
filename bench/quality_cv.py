"""Per-image scores of raw / balanced variants on an eval folder, with the model's outputs cached on disk.

    .venv/bin/python bench/quality_cv.py DIR --out /tmp/qcv/scores.json [--cache /tmp/qcv/model] [--variants raw,balanced]

Every call of the segmenter's ``predict`` is memoised on disk under ``--cache`` (key: sha1 of the
model input), so the first run costs one model run per framing and image and later runs (tuning
loops) none. Everything else is the engine's own code path (``Engine.matte``), so the figures are
what ``openbg eval`` gives. Variants: ``raw`` (the raw model: stretched to the model's square input,
bilinear back, no refinement — the reference of issue 18) and ``fast``/``balanced``/``best``, each
optionally with ``@KEY=VALUE`` overrides of :mod:`matting` module constants (``balanced@_FUSE_DELTA=0.5``).
The output JSON maps variant → list of per-image scores (name, category, iou, mae, edge_mae, sad; ``type``: the level-2 X-Type for ``remove-*`` variants).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from openbg_emulator import evaluation
from openbg_emulator.engine import Engine
from openbg_emulator.pipeline import matting
from openbg_emulator.pipeline import segment as seg_mod
from openbg_emulator.settings import Settings

ENGINE = Engine(Settings.from_env())


def cached_predict(predict, cache: Path):  # type: ignore[no-untyped-def]
    def f(x: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()
        p = cache / f"{key}.npy"
        if p.exists():
            return np.load(p).astype(np.float32)
        y = predict(x)
        np.save(p, y.astype(np.float16))
        return y
    return f


def raw_matte(seg, data: bytes, size: tuple[int, int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    import io

    import cv2
    from PIL import Image
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    a = seg.predict(seg_mod.model_input(rgb, seg.input_size))
    return np.clip(cv2.resize(a, size, interpolation=cv2.INTER_LINEAR), 0, 1)


TYPES: list[str | None] = []  # X-Type (level 2) of each remove-* call, in order


def remove_matte(data: bytes, size: tuple[int, int], quality: str) -> np.ndarray:
    """What ``openbg remove --size full --channels alpha`` (default settings otherwise) returns."""
    import io

    from openbg_emulator.options import parse_options
    from PIL import Image

    opts = parse_options({"image_file": data, "size": "full", "channels": "alpha", "format": "png",
                          "quality": quality, "type_level": "2"})
    res = ENGINE.remove(data, opts, use_cache=False)
    TYPES.append(res.type)
    im = Image.open(io.BytesIO(res.content))
    a = np.asarray(im.getchannel("A") if im.mode in ("LA", "RGBA") else im.convert("L"), np.float32) / 255.0
    assert a.shape == (size[1], size[0]), (a.shape, size)
    return a


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qcv/model"))
    ap.add_argument("--variants", default="raw;balanced", help="separated by ;")
    ap.add_argument("--only", default="", help="comma-separated image names")
    a = ap.parse_args()
    a.cache.mkdir(parents=True, exist_ok=True)
    rows = evaluation.read_manifest(a.directory)
    if a.only:
        keep = set(a.only.split(","))
        rows = [r for r in rows if r.name in keep]
    seg = ENGINE.segmenter()
    seg.predict = cached_predict(seg.predict, a.cache)  # type: ignore[method-assign]
    out = json.loads(a.out.read_text()) if a.out.exists() else {}
    for v in filter(None, a.variants.split(";")):
        name, *over = v.split("@")
        saved = {}
        for kv in over:
            k, val = kv.split("=", 1)
            saved[k] = getattr(matting, k, None)
            setattr(matting, k, json.loads(val))
        t0 = time.time()
        if name == "raw":
            pred = lambda data, size: raw_matte(seg, data, size)
        elif name.startswith("remove-"):  # the CLI's path: engine.remove, size=full, channels=alpha
            pred = lambda data, size, q=name[7:]: remove_matte(data, size, q)
        else:
            pred = lambda data, size, name=name: ENGINE.matte(data, quality=name, size=size, use_cache=False,
                                                   foreground=False)[0]
        TYPES.clear()
        scores = evaluation.evaluate(rows, pred)
        types = TYPES[:] if len(TYPES) == len(scores) else [None] * len(scores)
        for k, val in saved.items():
            setattr(matting, k, val)
        out[v] = [{"name": s.name, "category": s.category, "iou": s.iou, "mae": s.mae, "edge_mae": s.edge_mae,
                   "sad": s.sad, "type": t} for s, t in zip(scores, types, strict=True)]
        m = evaluation.summarize(scores)
        print(f"{v:<40} IoU {m.iou:.4f} MAE {m.mae:.4f} edge {m.edge_mae:.4f} ({time.time() - t0:.0f} s)", flush=True)
        a.out.write_text(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
