"""Time of the second-opinion models against the balanced pipeline, side by side in one process.

    flock /tmp/openbg-heavy.lock .venv/bin/python bench/second_opinion_time.py PHOTO [--repeat 5]

Prints the median seconds of: ``engine.matte`` balanced (model + refinement, no cache), and each
second-opinion call (:mod:`openbg_emulator.extra_models`, pre/post-processing included), after one
warm-up call each, and the ratio of balanced + each model to balanced alone.
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
from openbg_emulator import engine, extra_models
from PIL import Image


def med(f, n: int) -> float:  # type: ignore[no-untyped-def]
    f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("photo", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    data = a.photo.read_bytes()
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    print(f"{a.photo.name}: {rgb.shape[1]}x{rgb.shape[0]}")
    base = med(lambda: engine.matte(data, quality="balanced", use_cache=False, foreground=False), a.repeat)
    print(f"balanced (engine.matte)  {base:.3f} s")
    for m in ("u2netp", "modnet", "u2net"):
        t = med(lambda m=m: extra_models.modnet_alpha(rgb) if m == "modnet" else extra_models.u2net_alpha(rgb, m),
                a.repeat)
        print(f"{m:<24} {t:.3f} s   balanced + {m}: {(base + t) / base:.2f}x")


if __name__ == "__main__":
    main()
