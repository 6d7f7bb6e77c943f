"""CPU seconds per image: raw model (stretched, bilinear) vs fast / balanced / best alpha pipelines.

CPU time (all threads) is reported because the shared machine makes wall time noise; the ratio to
the raw model's CPU time is the figure to compare with the 1.4× budget.

    .venv/bin/python bench/quality_time.py DIR [--names a,b,c]    # DIR: an eval folder with manifest.csv
"""
from __future__ import annotations

import argparse
import csv
import os
import time

import cv2
import numpy as np
from openbg_emulator.engine import Engine
from openbg_emulator.pipeline import matting, refine
from openbg_emulator.settings import Settings
from PIL import Image

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("directory")
ap.add_argument("--names", default="dim_053d8b6_7_image,dim_5205b6c_9_image,grabcut_person1,"
                "coco_dog02_000000464522,graphics_printer__on_brick", help="manifest rows to time")
args = ap.parse_args()
DEV = args.directory
names = args.names.split(",")
with open(os.path.join(DEV, "manifest.csv")) as f:
    rows = {r["name"]: r for r in csv.DictReader(f)}
engine = Engine(Settings.from_env())
seg = engine.segmenter()
seg.predict(np.zeros((1024, 1024, 3), np.uint8))
imgs = [np.asarray(Image.open(os.path.join(DEV, rows[n]["image"])).convert("RGB")) for n in names]
imgs.append(cv2.resize(imgs[0], (2304, 1728)))  # ~4 MP
names.append("4MP (dim upscaled)")


def raw(rgb):
    h, w = rgb.shape[:2]
    a = seg.predict(cv2.resize(rgb, (1024, 1024), interpolation=cv2.INTER_AREA))
    return cv2.resize(a, (w, h))


def pipe(q):
    def f(rgb):
        low = matting.segment_alpha(seg.predict, rgb, q)
        return refine.refine(rgb, low, q, foreground=False)[0]
    return f


_jpegs: dict[int, bytes] = {}


def engine_balanced(rgb):
    """What a request's alpha costs: Engine.matte (JPEG decoding, model, refinement, the image statistics that
    rule graphics in or out, the detector and the second opinion where they do not), from a JPEG of the image
    made beforehand."""
    return engine.matte(_jpegs[id(rgb)], quality="balanced", use_cache=False, foreground=False)


for _rgb in imgs:
    _ok, _buf = cv2.imencode(".jpg", cv2.cvtColor(_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    _jpegs[id(_rgb)] = _buf.tobytes()


for rgb in imgs[:1]:  # untimed: compiles (numba kernels, OpenVINO sizes) and fills the first allocations
    for f in (raw, pipe("fast"), pipe("balanced"), pipe("best"), engine_balanced):
        f(rgb)
tot = {k: 0.0 for k in ("raw", "fast", "balanced", "best", "engine-balanced")}
for n, rgb in zip(names, imgs):
    line = [f"{n[:24]:24s} {rgb.shape[1]}x{rgb.shape[0]}"]
    for k, f in (("raw", raw), ("fast", pipe("fast")), ("balanced", pipe("balanced")), ("best", pipe("best")),
                 ("engine-balanced", engine_balanced)):
        t0 = time.process_time(); f(rgb); dt = time.process_time() - t0
        tot[k] += dt; line.append(f"{k} {dt:.2f}")
    print("  ".join(line), flush=True)
print("ratio to raw (CPU s): " + "  ".join(f"{k} {v / tot['raw']:.2f}x" for k, v in tot.items()))
