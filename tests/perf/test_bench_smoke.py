"""Smoke run of the benchmark (``bench/bench.py --smoke``): it runs and prints its table with every case.

Not a timed test: it never asserts timings or ratios (the machine is shared and noisy), only that each
case and ratio appears in the printed table. Tiny images and counts, and without the comparisons with ONNX
Runtime that only change a setting (start-up, 8 clients and 50 MP RSS on ``OPENBG_RUNTIME=onnxruntime``):
about a minute on 2 idle cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASES = [
    "bare-medium-1024", "bare-medium-orig-1024", "bare-medium-640", "bare-small-1024",
    "engine-preview-png", "engine-12mp-zip", "engine-12mp-jpg", "engine-12mp-png", "engine-12mp-webp",
    "engine-50mp-zip", "engine-50mp-png", "engine-12mp-zip-cached",
    "http-preview-png", "http-12mp-zip", "http-12mp-jpg", "http-12mp-png", "http-12mp-webp", "http-50mp-zip",
    "http-50mp-png",
    "rembg-preview", "rembg-12mp",
    "batch-async", "clients-8", "overflow-burst", "memory",
    "bare-ort-1024", "bare-ov-f32-1024", "bare-ort-640", "bare-ov-f32-640", "startup-openvino",
]
NOT_IN_SMOKE = ["startup-onnxruntime", "clients-8-onnxruntime", "rss-50mp-onnxruntime"]
RATIOS = [
    "http-12mp-zip / bare-medium-1024", "rembg-12mp / http-12mp-zip", "engine-preview-png / bare-medium-1024",
    "http-12mp-zip / engine-12mp-zip", "peak RSS engine-50mp-zip", "peak RSS engine-50mp-png", "bare-medium-1024 / bare-medium-orig-1024", "RSS after 12 / after 4 requests",
    "8-client throughput / solo throughput", "starved requests", "overflow answered 503 + Retry-After",
    "http-preview-png / bare-ort-1024", "rembg-12mp / http-12mp-png",
]


@pytest.mark.timeout(900)
def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "bench.py"), "--smoke", "--json", str(out)],
                       check=False, capture_output=True, text=True, cwd=REPO, timeout=880)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    table = r.stdout
    rows = {line.split()[0] for line in table.splitlines() if line.strip()}
    missing = [c for c in CASES if c not in rows]
    assert not missing, f"cases missing from the table: {missing}\n{table}"
    assert not rows & set(NOT_IN_SMOKE), table
    skipped = [line for line in table.splitlines() if line.split()[:1] and line.split()[0] in CASES
               and line.split()[1:2] == ["n/a"]]
    assert not skipped, f"cases that did not run (make test installs the bench extra: rembg):\n{skipped}"
    for name in RATIOS:
        assert name in table, f"ratio {name!r} missing\n{table}"
    assert out.is_file()
