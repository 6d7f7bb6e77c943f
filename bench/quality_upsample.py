"""12 MP ``upsample_alpha`` (balanced): one thread vs half the full-resolution stripes in a helper thread.

    .venv/bin/python bench/quality_upsample.py [--repeat 7] [--mp 12]

The image is a scikit-image sample photo upscaled to ``--mp`` megapixels (made here, not stored);
the low-resolution alpha is a soft disc at 1024×1024. Both settings (no ``pool``, and a one-worker
pool as the engine gives a request alone) run alternately in this one process, so the ratio compares medians under the same load;
wall and CPU seconds are printed, and the two outputs are compared bit for bit.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import cv2
import numpy as np
from openbg_emulator.pipeline import matting


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--mp", type=float, default=12.0)
    a = ap.parse_args()
    from skimage import data

    src = data.astronaut()
    h = round((a.mp * 1e6 * 3 / 4) ** 0.5)
    w = round(h * 4 / 3)
    rgb = np.ascontiguousarray(cv2.resize(src, (w, h), interpolation=cv2.INTER_CUBIC))
    yy, xx = np.mgrid[0:1024, 0:1024].astype(np.float32)
    low = np.clip(0.5 - (np.hypot(yy - 512, xx - 512) - 300) / 6, 0, 1).astype(np.float32)
    print(f"image {w}×{h} ({w * h / 1e6:.1f} MP), load {os.getloadavg()[0]:.2f}, {a.repeat} rounds each")
    wall: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    outs: dict[int, np.ndarray] = {}
    from concurrent.futures import ThreadPoolExecutor

    helper = ThreadPoolExecutor(max_workers=1)
    for i in range(a.repeat + 1):  # the first round warms up
        for n in ((1, 2) if i % 2 == 0 else (2, 1)):
            t, c = time.perf_counter(), time.process_time()
            outs[n] = matting.upsample_alpha(rgb, low, "balanced", pool=helper if n == 2 else None)
            if i:
                wall[n].append(time.perf_counter() - t)
                cpu[n].append(time.process_time() - c)
    helper.shutdown()
    for n in (1, 2):
        print(f"threads {n}: wall median {statistics.median(wall[n]):.3f} s, CPU median {statistics.median(cpu[n]):.3f} s")
    print(f"wall ratio 2/1: {statistics.median(wall[2]) / statistics.median(wall[1]):.3f}; "
          f"max |diff| {float(np.abs(outs[1] - outs[2]).max())}; load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
