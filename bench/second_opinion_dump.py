"""Dump, per eval image, the raw IS-Net matte, the balanced matte and the second opinions (issue 18).

    .venv/bin/python bench/second_opinion_dump.py DEV --out /tmp/q2/dump [--cache /tmp/qcv/model]
        [--only a,b] [--models u2net,u2netp,modnet]

Writes ``OUT/NAME.npz`` with uint8 maps at the image's size: ``gt``, ``raw`` (stretched IS-Net,
bilinear back: issue 18's reference), ``balanced`` (``Engine.matte`` without the second opinion, the engine's own code path) and
one per second-opinion model (:mod:`openbg_emulator.extra_models`), plus ``t_MODEL`` (seconds of that
model's call, pre/post-processing included) and ``t_balanced``. IS-Net calls are memoised on disk
(``--cache``, as bench/quality_cv.py). bench/second_opinion_cv.py scores rules on these dumps.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).parent))
from openbg_emulator import evaluation, extra_models
from openbg_emulator.engine import Engine
from openbg_emulator.settings import Settings
from quality_cv import cached_predict, raw_matte


def u8(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(a * 255 + 0.5, 0, 255), np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qcv/model"))
    ap.add_argument("--only", default="")
    ap.add_argument("--models", default="u2net,u2netp,modnet")
    ap.add_argument("--suffix", default="", help="store each model's map as MODEL+SUFFIX (e.g. _ort with OPENBG_RUNTIME=onnxruntime)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    a.cache.mkdir(parents=True, exist_ok=True)
    rows = evaluation.read_manifest(a.directory)
    if a.only:
        keep = set(a.only.split(","))
        rows = [r for r in rows if r.name in keep]
    settings = Settings.from_env().with_(second_opinion=False)  # the balanced column is the pipeline without it
    engine = Engine(settings)
    seg = engine.segmenter()
    sessions = {m: extra_models.load_session(m, settings) for m in a.models.split(",") if m}
    seg.predict = cached_predict(seg.predict, a.cache)  # type: ignore[method-assign]
    names = [m for m in a.models.split(",") if m]
    for r in rows:
        p = a.out / f"{r.name}.npz"
        have = dict(np.load(p)) if p.exists() else {}
        data = r.image.read_bytes()
        gt = evaluation.load_gt(r.gt)
        h, w = gt.shape
        im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        rgb = np.asarray(im if im.size == (w, h) else im.resize((w, h), Image.Resampling.LANCZOS))
        if "gt" not in have:
            have["gt"] = gt
            have["raw"] = u8(raw_matte(seg, data, (w, h)))
            t0 = time.perf_counter()
            have["balanced"] = u8(engine.matte(data, quality="balanced", size=(w, h), use_cache=False,
                                               foreground=False)[0])
            have["t_balanced"] = np.array(time.perf_counter() - t0)
        for m in names:
            if m + a.suffix in have:
                continue
            t0 = time.perf_counter()
            sess = sessions[m]
            y = extra_models.modnet_alpha(rgb, sess) if m == "modnet" else extra_models.u2net_alpha(rgb, sess)
            have["t_" + m + a.suffix] = np.array(time.perf_counter() - t0)
            have[m + a.suffix] = u8(y)
        have["category"] = np.array(r.category)
        have["gt_kind"] = np.array(r.gt_kind)
        np.savez_compressed(p, **have)
        print(r.name, " ".join(f"{k}={float(v):.2f}s" for k, v in have.items() if k.startswith("t_")), flush=True)


if __name__ == "__main__":
    main()
