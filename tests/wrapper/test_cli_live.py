"""``openbg remove`` / ``account`` / ``zip2png`` against the live emulator."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openbg import RemoveBg, zip2png
from openbg.cli import main
from PIL import Image

from tests.wrapper.wrapper_support import make_photo

OPENBG = Path(sys.executable).with_name("openbg")


def _env(live_server: Any, base_url: str | None = None) -> dict[str, str]:
    return {"REMOVE_BG_API_KEY": live_server.api_key, "OPENBG_BASE_URL": base_url or live_server.base_url}


def test_batch_of_20_survives_a_killed_connection(live_server: Any, warm_photo: bytes, fault_proxy: Any,
                                                  tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    photos = [warm_photo, make_photo(1)]  # the server caches masks by content: 2 inferences
    for i in range(20):
        (src / f"img{i:02d}.jpg").write_bytes(photos[i % len(photos)])
    proxy = fault_proxy(kill=lambda n: n == 8)  # the 8th request dies half-way through its response
    out = tmp_path / "out"
    env = {**os.environ, **_env(live_server, proxy.base_url())}
    cmd = [str(OPENBG), "remove", str(src), "-o", str(out), "--retries", "3", "--verbose"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proxy.killed == 1 and proxy.requests >= 21, (proxy.killed, proxy.requests)
    assert proc.stderr.count("Connection failed") == 1, proc.stderr  # the dropped one, retried
    outputs = sorted(out.iterdir())
    assert [p.name for p in outputs] == [f"img{i:02d}.png" for i in range(20)]
    for p in outputs:
        im = Image.open(p)
        assert im.format == "PNG" and im.mode == "RGBA" and im.size == (160, 120)
    assert "20 done, 0 skipped, 0 failed" in proc.stderr
    sent = proxy.requests
    # a second run skips every existing output and sends nothing
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "skipping 20 existing" in again.stderr
    assert proxy.requests == sent
    assert time.monotonic() - t0 < 200


def test_failures_are_named_and_exit_non_zero(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.jpg").write_bytes(warm_photo)
    (src / "broken.jpg").write_bytes(b"definitely not an image")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["remove", str(src / "*.jpg"), "-o", str(out), "-q"], env=_env(live_server))
    assert r.exit_code == 1
    assert "FAILED" in r.output and "broken.jpg" in r.output and "invalid_file_type" in r.output
    assert (out / "good.png").exists() and not (out / "broken.png").exists()
    assert not list(out.glob(".*.part"))


def test_single_output_file_and_options(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(warm_photo)
    env = _env(live_server)
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "x.jpg"), "--bg-color", "ff0000",
                                  "--size", "preview", "--type", "auto", "--crop", "--crop-margin", "1px"], env=env)
    assert r.exit_code == 0, r.output
    im = Image.open(tmp_path / "x.jpg")
    assert im.format == "JPEG" and im.width < 160  # cropped
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "x.zip")], env=env)
    assert r.exit_code == 0 and (tmp_path / "x.zip").read_bytes()[:2] == b"PK"
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "x.webp"),
                                  "--shadow-type", "other=drop", "--shadow-opacity", "other=60"], env=env)
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "x.webp").format == "WEBP"
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "y.png")],
                           env={"REMOVE_BG_API_KEY": "", "OPENBG_BASE_URL": live_server.base_url})
    assert r.exit_code == 2 and "no API key" in r.output
    r = CliRunner().invoke(main, ["remove", str(tmp_path / "missing.jpg"), "-o", str(tmp_path)], env=env)
    assert r.exit_code == 2 and "no such file" in r.output


def test_account_and_zip2png_commands(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["account"], env=_env(live_server))
    assert r.exit_code == 0 and "credits:" in r.output and "free calls:" in r.output
    r = CliRunner().invoke(main, ["account", "--json"], env=_env(live_server))
    assert r.exit_code == 0 and '"free_calls"' in r.output
    r = CliRunner().invoke(main, ["account", "--api-key", "wrong"], env={"OPENBG_BASE_URL": live_server.base_url})
    assert r.exit_code == 1 and "403" in r.output
    with RemoveBg(live_server.api_key, live_server.base_url) as c:
        z = c.remove_background(warm_photo, format="zip").content
    (tmp_path / "r.zip").write_bytes(z)
    r = CliRunner().invoke(main, ["zip2png", str(tmp_path / "r.zip"), str(tmp_path / "r.png")])
    assert r.exit_code == 0 and (tmp_path / "r.png").read_bytes() == zip2png(z)
    (tmp_path / "bad.zip").write_bytes(b"nope")
    r = CliRunner().invoke(main, ["zip2png", str(tmp_path / "bad.zip"), str(tmp_path / "bad.png")])
    assert r.exit_code == 1 and "not a valid ZIP" in r.output


@pytest.mark.server_python_only
def test_local_mode(warm_photo: bytes, tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(warm_photo)
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "out"), "--local", "--size", "preview"])
    assert r.exit_code == 0, r.output
    im = Image.open(io.BytesIO((tmp_path / "out" / "photo.png").read_bytes()))
    assert im.mode == "RGBA" and im.size == (160, 120)


@pytest.mark.server_python_only
def test_both_clis_plan_a_tree_alike(warm_photo: bytes, tmp_path: Path) -> None:
    """One job planner: ``openbg remove --local`` and the emulator's own ``remove-local`` read the same tree
    the same way: a folder gives the images directly in it (``.jfif`` too, any case; not its subfolders),
    a quoted ``**`` glob recurses, and both write the same files with the same bytes."""
    from openbg_emulator.cli import remove_local_command

    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    png = io.BytesIO()
    Image.open(io.BytesIO(warm_photo)).save(png, "PNG")
    files = {"a.jpg": warm_photo, "b.JFIF": warm_photo, "c.png": png.getvalue(), "notes.txt": b"not an image",
             "sub/d.jpg": warm_photo, "sub/deeper/e.jpeg": warm_photo}
    for name, data in files.items():
        (tree / name).write_bytes(data)

    def both(source: str, name: str) -> set[str]:
        wrapper_out, emulator_out = tmp_path / f"{name}-wrapper", tmp_path / f"{name}-emulator"
        r = CliRunner().invoke(main, ["remove", source, "-o", str(wrapper_out), "--local", "--size", "preview",
                                      "--confirm-batch-over", "-1"])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(remove_local_command, [source, "-o", str(emulator_out), "--field", "size=preview"])
        assert r.exit_code == 0, r.output
        written = {p.name: p.read_bytes() for p in wrapper_out.iterdir()}
        assert written == {p.name: p.read_bytes() for p in emulator_out.iterdir()}
        return set(written)

    assert both(str(tree), "folder") == {"a.png", "b.png", "c.png"}
    assert both(str(tree / "**" / "*.jp*g"), "glob") == {"a.png", "d.png", "e.png"}


@pytest.mark.server_python_only
def test_local_mode_stdin_to_stdout(warm_photo: bytes, tmp_path: Path) -> None:
    """`openbg remove --local - -o -`: the image on stdin, the PNG on stdout (a real subprocess)."""
    exe = Path(sys.executable).parent / "openbg"
    r = subprocess.run([str(exe), "remove", "--local", "-", "-o", "-", "--format", "png"], input=warm_photo,
                       capture_output=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    im = Image.open(io.BytesIO(r.stdout))
    assert im.format == "PNG" and im.mode == "RGBA" and im.size == (160, 120)
    bad = subprocess.run([str(exe), "remove", "--local", "-", "-o", "-"], input=b"not an image",
                         capture_output=True, timeout=300, check=False)
    assert bad.returncode == 1 and b"invalid_file_type" in bad.stderr and bad.stdout == b""
