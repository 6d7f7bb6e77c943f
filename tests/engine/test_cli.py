"""openbg models/eval/sheet and remove_local with the real engine."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from openbg import RemovalOptions
from openbg.cli import main
from openbg_emulator import cli
from PIL import Image

from tests.engine.engine_images import astronaut_jpeg, encode, engine_for


def test_commands_registered() -> None:
    r = CliRunner().invoke(main, ["models", "list"])
    assert r.exit_code == 0, r.output
    assert "isnet-medium.onnx" in r.output and "Apache-2.0" in r.output and "[ok]" in r.output
    assert CliRunner().invoke(main, ["models", "fetch", "-q"]).exit_code == 0  # idempotent, no download
    # fetch made the derived copy of the default model; list shows it (it is what the engine loads)
    rows = {row["name"]: row for row in json.loads(CliRunner().invoke(main, ["models", "list", "--json"]).output)}
    derived = rows["medium"]["derived"]
    assert derived["state"] == "ok" and Path(derived["path"]).is_file() and derived["size"] > 1_000_000
    assert ".fast-b6e8497ba978a6f5-" in derived["path"]
    assert "derived copy" in CliRunner().invoke(main, ["models", "list"]).output


def _dataset(tmp: Path) -> Path:
    (tmp / "im").mkdir()
    (tmp / "gt").mkdir()
    (tmp / "im" / "astro.jpg").write_bytes(astronaut_jpeg())
    alpha, _ = engine_for().matte(astronaut_jpeg())
    gt = np.where(alpha > 0.5, 255, 0).astype(np.uint8)
    gt[:, :3] = 128  # a band column, ignored for binary_band
    Image.fromarray(gt).save(tmp / "gt" / "astro.png")
    (tmp / "manifest.csv").write_text(
        "name,image,gt,category,gt_kind,source,note\n"
        "astro,im/astro.jpg,gt/astro.png,person,binary_band,skimage,test\n"
        "astro2,im/astro.jpg,gt/astro.png,animal,alpha,skimage,test\n"
    )
    return tmp


def test_eval_prints_table_and_json(tmp_path: Path) -> None:
    d = _dataset(tmp_path)
    r = CliRunner().invoke(main, ["eval", str(d), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [i["name"] for i in out["images"]] == ["astro", "astro2"]
    assert set(out["summary"]) == {"animal", "person", "overall"}
    assert out["summary"]["person"]["iou"] > 0.99  # against its own thresholded matte
    assert out["summary"]["animal"]["sad"] is not None and out["summary"]["person"]["sad"] is None
    assert all(i["seconds"] > 0 for i in out["images"])
    r = CliRunner().invoke(main, ["eval", str(d), "--limit", "1"])
    assert r.exit_code == 0, r.output
    lines = {ln.split()[0]: ln.split() for ln in r.output.splitlines()[2:]}
    assert set(lines) == {"person", "overall"} and float(lines["overall"][2]) > 0.99
    r = CliRunner().invoke(main, ["eval", str(tmp_path / "im")])
    assert r.exit_code != 0 and "manifest.csv" in r.output


def test_sheet(tmp_path: Path) -> None:
    d = tmp_path / "photos"
    d.mkdir()
    (d / "a.jpg").write_bytes(astronaut_jpeg())
    (d / "notes.txt").write_text("not an image")
    out = tmp_path / "sheet.png"
    r = CliRunner().invoke(main, ["sheet", str(d), "-o", str(out), "--height", "128"])
    assert r.exit_code == 0, r.output
    im = Image.open(out)
    assert im.size == (4 * 128 + 3 * 6, 128 + 6)
    px = np.asarray(im.convert("RGB"))
    assert px[2, 3 * (128 + 6) + 124].max() < 10  # the alpha column: top-right corner is black
    assert px[50, 3 * (128 + 6) + 60].min() > 245  # the face is white


def test_sheet_shadows(tmp_path: Path) -> None:
    out = tmp_path / "shadows.png"
    src = tmp_path / "a.jpg"
    src.write_bytes(astronaut_jpeg())
    r = CliRunner().invoke(main, ["sheet", str(src), "-o", str(out), "--height", "128", "--shadows"])
    assert r.exit_code == 0, r.output
    px = np.asarray(Image.open(out).convert("RGB")).astype(np.int32)
    n = len(cli.SHADOW_COLUMNS) + 1  # the photo, then one tile per shadow_type
    assert px.shape == (128 + 6, n * 128 + (n - 1) * 6, 3)
    tile = {name: px[:128, i * 134 : i * 134 + 128] for i, name in enumerate(("photo", *cli.SHADOW_COLUMNS))}
    body = slice(24, 128)  # below the labels
    none = tile["none"][body]
    # the light bg_color where there is no subject (the astronaut's top-right corner is background)
    assert abs(int(np.median(tile["none"][30:40, 110:126])) - 0xEE) <= 3
    for kind in ("drop", "3D", "car"):
        darker = (none - tile[kind][body]).sum(axis=2)
        assert darker.max() > 30, kind  # a visible shadow somewhere
        assert (tile[kind][body] - none).max() <= 12, kind  # a shadow only darkens (JPEG-free PNG tiles)
    # the astronaut is a person: auto draws the 3D shadow
    assert np.abs(tile["auto"][body] - tile["3D"][body]).max() <= 2
    assert not np.array_equal(tile["drop"][body], tile["3D"][body])


def test_remove_local_folder_skip_and_single(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(astronaut_jpeg())
    (src / "b.jpg").write_bytes(astronaut_jpeg())
    (src / "bad.png").write_bytes(b"%PDF-1.4 not really a png")
    out = tmp_path / "out"
    failures = cli.remove_local([str(src)], str(out), RemovalOptions(size="preview", format="zip"), False, quiet=True)
    assert [Path(f[0]).name for f in failures] == ["bad.png"] and "invalid_file_type" in failures[0][1]
    assert sorted(p.name for p in out.iterdir()) == ["a.zip", "b.zip"]
    (out / "a.zip").write_bytes(b"keep")
    cli.remove_local([str(src / "*.jpg")], str(out), RemovalOptions(format="zip"), False, quiet=True)
    assert (out / "a.zip").read_bytes() == b"keep"  # skipped
    cli.remove_local([str(src / "*.jpg")], str(out), RemovalOptions(format="zip"), True, quiet=True)
    assert (out / "a.zip").read_bytes() != b"keep"  # reprocessed
    # the wrapper's per-file call: remove_local(path, target, options); raises on failure
    target = tmp_path / "one.png"
    cli.remove_local(src / "a.jpg", target, RemovalOptions(format="png", size="full", crop=True))
    im = Image.open(target)
    assert im.mode == "RGBA" and im.size[1] < 512  # cropped to the subject (it spans the full width)
    bg = encode(np.full((20, 20, 3), 7, np.uint8), "PNG")
    cli.remove_local(src / "a.jpg", tmp_path / "two.jpg", RemovalOptions(format="jpg", bg_image=bg))
    assert Image.open(tmp_path / "two.jpg").getpixel((2, 2))[0] < 20


def test_remove_local_stdin_stdout() -> None:
    r = CliRunner().invoke(cli.remove_local_command, ["-", "-o", "-", "--field", "format=png"],
                           input=astronaut_jpeg())
    assert r.exit_code == 0, r.output
    data = r.stdout_bytes
    im = Image.open(io.BytesIO(data))
    assert im.size == (500, 500) and im.mode == "RGBA"
