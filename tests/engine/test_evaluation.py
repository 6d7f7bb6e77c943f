"""The evaluation metrics against hand-computed cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from openbg_emulator import evaluation as ev
from PIL import Image


def test_binary_band_hand_case() -> None:
    # 4×4 GT: left half foreground, one band pixel (128) that must be ignored.
    gt = np.array([[255, 255, 0, 0], [255, 255, 0, 0], [255, 128, 0, 0], [255, 255, 0, 0]], np.uint8)
    pred = np.array(
        [
            [1.0, 1.0, 0.0, 0.0],
            [1.0, 0.4, 0.6, 0.0],  # one FN (0.4 ≤ 0.5), one FP (0.6)
            [1.0, 0.0, 0.0, 0.0],  # the band pixel is wrong but ignored
            [1.0, 1.0, 0.0, 0.2],
        ],
        np.float32,
    )
    s = ev.score(pred, gt, "binary_band")
    # valid: 15 px. GT fg (valid): 7; pred fg (valid): 1+1+1 (row0) ... count: row0 2, row1 1+1(0.6), row2 1, row3 2 → 7
    # intersection: row0 2, row1 1, row2 1, row3 2 = 6; union: 7 + 7 - 6 = 8
    assert s.iou == pytest.approx(6 / 8)
    # abs errors (valid): row1: 0.6 + 0.6, row3: 0.2 → 1.4 / 15
    assert s.mae == pytest.approx(1.4 / 15, abs=1e-6)
    # every pixel lies within 15 px of the boundary → edge MAE = MAE here
    assert s.edge_mae == pytest.approx(1.4 / 15, abs=1e-6)
    assert s.sad is None and s.grad is None


def test_binary_counts_128_as_foreground_when_not_band() -> None:
    gt = np.array([[128, 0]], np.uint8)
    s = ev.score(np.array([[1.0, 0.0]], np.float32), gt, "binary")
    assert s.iou == 1.0
    assert s.mae == pytest.approx((1 - 128 / 255) / 2)


def test_edge_region_radius() -> None:
    gt = np.zeros((1, 60), np.uint8)
    gt[:, :30] = 255  # boundary pixels: columns 29 and 30
    region = ev.edge_region(gt > 127)
    # within 15 px of column 29 or 30: columns 14..45
    assert np.flatnonzero(region[0]).tolist() == list(range(14, 46))
    pred = np.zeros((1, 60), np.float32)
    pred[:, :30] = 1.0
    pred[0, 0] = 0.0  # error far from the edge: counts in MAE, not edge MAE
    pred[0, 40] = 0.5  # error near the edge
    s = ev.score(pred, gt, "binary")
    assert s.mae == pytest.approx(1.5 / 60)
    assert s.edge_mae == pytest.approx(0.5 / 32)


def test_alpha_rows_sad_and_gradient() -> None:
    gt = np.zeros((20, 20), np.uint8)
    gt[5:15, 5:15] = 255
    pred = gt.astype(np.float32) / 255.0
    s = ev.score(pred, gt, "alpha")
    assert s.sad == 0.0 and s.grad == 0.0 and s.iou == 1.0
    pred2 = pred.copy()
    pred2[0, 0] = 0.5
    s2 = ev.score(pred2, gt, "alpha")
    assert s2.sad == pytest.approx(0.5 / 1000)
    assert s2.grad is not None and s2.grad > 0
    # gradient error equals the sum of squared magnitude differences, by definition
    d = ev.gaussian_gradient_magnitude(pred2) - ev.gaussian_gradient_magnitude(pred)
    assert s2.grad == pytest.approx(float((d * d).sum()) / 1000)


def test_gradient_kernel_and_ramp() -> None:
    k = ev.gauss_gradient_kernel(1.4)
    # half size ceil(1.4*sqrt(-2 ln(sqrt(2 pi)*1.4*0.01))) = ceil(3.62) = 4 → 9×9, unit L2 norm, odd in x
    assert k.shape == (9, 9)
    assert float((k * k).sum()) == pytest.approx(1.0)
    assert np.allclose(k, -k[:, ::-1]) and np.allclose(k, k[::-1, :])
    assert ev.gaussian_gradient_magnitude(np.full((20, 20), 0.7)).max() == pytest.approx(0.0, abs=1e-12)
    # a ramp of slope c has magnitude c·Σ|x·k(y, x)| in the interior, along x only
    ramp = np.tile(np.arange(40, dtype=np.float64) * 0.01, (30, 1))
    u = np.arange(-4, 5)
    expected = 0.01 * abs(float((k * u[None, :]).sum()))
    g = ev.gaussian_gradient_magnitude(ramp)
    assert g[15, 20] == pytest.approx(expected, rel=1e-9)
    assert ev.gaussian_gradient_magnitude(ramp.T)[20, 15] == pytest.approx(expected, rel=1e-9)


def test_summaries() -> None:
    a = ev.ImageScore("a", "cat", "binary", 1.0, 0.1, 0.2, None, None, 1.0)
    b = ev.ImageScore("b", "dog", "alpha", 0.5, 0.3, math.nan, 10.0, 2.0, 3.0)
    rows = dict(ev.table([a, b]))
    assert rows["overall"].iou == 0.75 and rows["overall"].mae == pytest.approx(0.2)
    assert rows["overall"].edge_mae == 0.2  # NaN (no boundary) is left out
    assert rows["overall"].sad == 10.0 and rows["cat"].sad is None
    assert rows["overall"].seconds == 2.0
    text = ev.format_table([a, b])
    assert "overall" in text and "cat" in text and "dog" in text


def _tiny_folder(tmp: Path) -> Path:
    """Two synthetic photos (a dark disc on a light textured ground): ``good`` has the true mask,
    ``bad`` an inverted one, so the engine scores ~1 and ~0 IoU on them."""
    rng = np.random.default_rng(3)
    (tmp / "im").mkdir(parents=True)
    (tmp / "gt").mkdir()
    yy, xx = np.mgrid[:160, :200]
    disc = (yy - 80) ** 2 + (xx - 100) ** 2 < 50**2
    img = np.clip(200 + rng.normal(0, 12, (160, 200, 3)), 0, 255).astype(np.uint8)
    img[disc] = (40, 60, 150)
    Image.fromarray(img).save(tmp / "im" / "disc.png")
    Image.fromarray(np.where(disc, 255, 0).astype(np.uint8)).save(tmp / "gt" / "good.png")
    Image.fromarray(np.where(disc, 0, 255).astype(np.uint8)).save(tmp / "gt" / "bad.png")
    (tmp / "manifest.csv").write_text(
        "name,image,gt,category,gt_kind,source,note\n"
        "good,im/disc.png,gt/good.png,product,binary,synthetic,test\n"
        "bad,im/disc.png,gt/bad.png,product,binary,synthetic,test\n"
    )
    return tmp


def test_compare_lists_images_worse_than_the_reference() -> None:
    s = [ev.ImageScore("a", "x", "binary", 0.90, 0, 0, None, None),
         ev.ImageScore("b", "x", "binary", 0.97, 0, 0, None, None),
         ev.ImageScore("c", "y", "binary", 0.50, 0, 0, None, None),
         ev.ImageScore("d", "y", "binary", 0.10, 0, 0, None, None)]
    worse, missing = ev.compare(s, {"a": 0.95, "b": 0.985, "c": 0.60})
    assert [(w.name, round(w.delta, 3)) for w in worse] == [("c", -0.1), ("a", -0.05)]  # b: −0.015 ≤ 0.02
    assert missing == ["d"]
    text = ev.format_comparison(s, {"a": 0.95, "b": 0.985, "c": 0.60}, "last run")
    assert "2 worse by more than 0.02 IoU" in text and "not in the reference: d" in text


def test_eval_reference_raw_and_saved_runs(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from openbg.cli import main

    d = _tiny_folder(tmp_path / "set")
    r = CliRunner().invoke(main, ["eval", str(d), "--json", "--reference", "raw"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    ious = {i["name"]: i["iou"] for i in out["images"]}
    assert ious["good"] > 0.9 and ious["bad"] < 0.1
    ref = out["reference"]
    assert ref["source"] == "raw" and ref["iou"]["good"] > 0.9 and ref["iou"]["bad"] < 0.1  # the raw model scored too
    # a saved run in which `bad` scored 1.0 and `good` 0.95: only `bad` is listed
    saved = tmp_path / "last.json"
    saved.write_text(json.dumps({"images": [{"name": "good", "iou": min(1.0, ious["good"] + 0.015)},
                                            {"name": "bad", "iou": 1.0}]}))
    r = CliRunner().invoke(main, ["eval", str(d), "--reference", str(saved)])
    assert r.exit_code == 0, r.output
    assert "1 worse by more than 0.02 IoU" in r.output and "bad" in r.output.split("worse by")[1]
    assert "good " not in r.output.split("worse by")[1]
    csv_ref = tmp_path / "last.csv"
    csv_ref.write_text("name,iou\ngood,1.0\n")  # `bad` missing; `good` worse only with a 0 margin
    r = CliRunner().invoke(main, ["eval", str(d), "--reference", str(csv_ref), "--worse-by", "0"])
    assert r.exit_code == 0, r.output
    assert "not in the reference: bad" in r.output
    r = CliRunner().invoke(main, ["eval", str(d), "--reference", str(tmp_path / "none.json")])
    assert r.exit_code != 0 and "--reference" in r.output
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{}")
    r = CliRunner().invoke(main, ["eval", str(d), "--reference", str(bad_json)])
    assert r.exit_code != 0 and "openbg eval --json" in r.output
