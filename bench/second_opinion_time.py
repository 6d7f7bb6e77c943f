"""Time of OPENBG_SECOND_OPINION: engine.remove with the step on and off, side by side in one process.

    flock /tmp/openbg-heavy.lock .venv/bin/python bench/second_opinion_time.py PHOTO... [--repeat 7]

For each photo: the median seconds of ``engine.remove`` (size=full, PNG, no mask cache) with the step
off and on, run alternately after a warm-up each, for ``type_level=1`` (classification runs anyway) and
``type_level=none`` (the step makes the engine classify), the X-Type, and the ratio on/off. Also the
second opinion's own call (U²-Net-small, pre/post-processing included).
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from openbg_emulator.engine import Engine
from openbg_emulator.options import parse_options
from openbg_emulator.settings import Settings
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("photos", type=Path, nargs="+")
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    base = Settings.from_env()
    engines = {"on": Engine(replace(base, second_opinion=True)), "off": Engine(replace(base, second_opinion=False))}
    for photo in a.photos:
        data = photo.read_bytes()
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        for level in ("1", "none"):
            opts = parse_options({"image_file": data, "size": "full", "format": "png", "type_level": level})
            runs: dict[str, list[float]] = {"off": [], "on": []}
            typ = None
            for e in engines.values():
                e.remove(data, opts, use_cache=False)
            for _ in range(a.repeat):
                for name, e in engines.items():
                    t0 = time.perf_counter()
                    r = e.remove(data, opts, use_cache=False)
                    runs[name].append(time.perf_counter() - t0)
                    typ = r.type if level == "1" else typ
            t_off, t_on = statistics.median(runs["off"]), statistics.median(runs["on"])
            print(f"{photo.name[:36]:<36} {rgb.shape[1]}x{rgb.shape[0]} type_level={level:<4} X-Type {typ!s:<9} "
                  f"off {t_off:.3f} s  on {t_on:.3f} s  on/off {t_on / t_off:.2f}", flush=True)
        second = engines["on"].second_opinion()
        assert second is not None
        second(rgb)
        ts = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            second(rgb)
            ts.append(time.perf_counter() - t0)
        print(f"{'':<36} u2netp call {statistics.median(ts):.3f} s")


if __name__ == "__main__":
    main()
