"""What a new user meets (issue 16): remove.bg's own rules for ``size=auto``, ``Result.save`` by extension, the
key/server footgun, the official CLI's habits (``--size auto``, ``--confirm-batch-over``, ``--extra-api-options``,
URL inputs, stopping at the first 401/402/403, a visible rate-limit countdown, no silent skip of a named output,
``--watch``). Each test fails on the code before that issue."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from openbg import InsufficientCreditsError, RemoveBg, Result
from openbg.cli import main
from PIL import Image

from tests.wrapper.wrapper_support import make_photo

OPENBG = Path(sys.executable).with_name("openbg")


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    """800×600 (0.48 MP): above the preview tier, so size=auto would be a full-size (1 credit) result."""
    return make_photo(0, (800, 600))


def _env(live_server: Any, key: str | None = None) -> dict[str, str]:
    return {**os.environ, "REMOVE_BG_API_KEY": key or live_server.api_key, "OPENBG_BASE_URL": live_server.base_url}


# ------------------------------------------------------------------------------------------ the API's rules
def test_size_auto_with_free_calls_only_is_a_free_preview(live_server: Any, big_photo: bytes) -> None:
    key = live_server.create_key("free-only", credits=0, free_calls=2)
    with RemoveBg(key, live_server.base_url) as c:
        r = c.remove_background(big_photo, size="auto")
        assert r.credits_charged == 0
        assert r.width is not None and r.height is not None and r.width * r.height <= 250_000
        assert (r.width, r.height) == (577, 433)  # the preview tier of 800×600
        assert c.account().free_calls == 1
        full = live_server.create_key("one-credit", credits=1, free_calls=0)
    with RemoveBg(full, live_server.base_url) as c:  # with a credit, auto is the full size
        r = c.remove_background(big_photo, size="auto")
        assert (r.width, r.height, r.credits_charged) == (800, 600, 1)


def test_size_full_without_credits_says_free_calls_pay_for_previews(live_server: Any, big_photo: bytes) -> None:
    key = live_server.create_key("free-only-full", credits=0, free_calls=5)
    with RemoveBg(key, live_server.base_url) as c, pytest.raises(InsufficientCreditsError) as info:
        c.remove_background(big_photo, size="full")
    assert "1 credit;" in str(info.value) and "free calls pay for previews only" in str(info.value)


def _result(image: Image.Image, fmt: str) -> Result:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return Result.from_response(buf.getvalue(), {"content-type": f"image/{fmt.lower()}"})


def test_save_converts_to_the_extension(tmp_path: Path) -> None:
    jpeg = _result(Image.new("RGB", (8, 6), (200, 10, 10)), "JPEG")
    png_path = jpeg.save(tmp_path / "x.png")
    assert png_path.read_bytes().startswith(b"\x89PNG") and Image.open(png_path).size == (8, 6)
    webp = jpeg.save(tmp_path / "x.webp")
    assert Image.open(webp).format == "WEBP"
    assert jpeg.save(tmp_path / "x.jpeg").read_bytes() == jpeg.content  # already JPEG: unchanged
    assert jpeg.save(tmp_path / "x.bin").read_bytes() == jpeg.content  # unknown extension: unchanged
    cutout = _result(Image.new("RGBA", (8, 6), (0, 0, 0, 0)), "PNG")
    with pytest.raises(ValueError, match="transparency"):
        cutout.save(tmp_path / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()
    opaque = _result(Image.new("RGBA", (8, 6), (1, 2, 3, 255)), "PNG")
    assert Image.open(opaque.save(tmp_path / "o.jpg")).format == "JPEG"
    with pytest.raises(ValueError, match="ZIP"):
        jpeg.save(tmp_path / "x.zip")


def test_live_jpeg_result_saved_as_png(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    with RemoveBg(live_server.api_key, live_server.base_url) as c:
        r = c.remove_background(warm_photo, size="full", bg_color="white")
    assert r.content_type == "image/jpeg"  # format=auto chose JPEG: nothing is transparent
    assert Image.open(r.save(tmp_path / "photo.png")).format == "PNG"


def test_an_openbg_key_is_never_sent_to_remove_bg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBG_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENBG_BASE_URL"):
        RemoveBg("obg_0123456789")
    with pytest.raises(ValueError, match="api.remove.bg"):
        RemoveBg("obg_0123456789", "https://api.remove.bg/v1.0")
    RemoveBg("obg_0123456789", "http://127.0.0.1:9/v1.0").close()  # an openbg server: fine
    RemoveBg("0123456789abcdef").close()  # a remove.bg key: fine
    env = {k: v for k, v in os.environ.items() if k != "OPENBG_BASE_URL"}
    for args in (["remove", "x.jpg", "-o", "x.png"], ["account"]):
        r = CliRunner().invoke(main, args, env={**env, "REMOVE_BG_API_KEY": "obg_0123456789"})
        assert r.exit_code == 1 and "OPENBG_BASE_URL" in r.output and "Traceback" not in r.output, r.output


# ------------------------------------------------------------------------------------------ the CLI
def test_cli_defaults_to_size_auto(live_server: Any, big_photo: bytes, tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(big_photo)
    r = CliRunner().invoke(main, ["remove", str(tmp_path / "big.jpg"), "-o", str(tmp_path / "out.png")],
                           env=_env(live_server))
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "out.png").size == (800, 600)  # remove.bg's preview default would be 577×433


def test_cli_refuses_to_skip_a_named_output_silently(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    (tmp_path / "in.jpg").write_bytes(warm_photo)
    (tmp_path / "out.png").write_bytes(b"old")
    r = CliRunner().invoke(main, ["remove", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "out.png")],
                           env=_env(live_server))
    assert r.exit_code == 1 and "--reprocess-existing" in r.output
    assert (tmp_path / "out.png").read_bytes() == b"old"


def test_cli_confirms_a_big_batch_with_a_credit_estimate(live_server: Any, warm_photo: bytes, big_photo: bytes,
                                                         tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(warm_photo)
    (src / "b.jpg").write_bytes(warm_photo)
    (src / "c.jpg").write_bytes(big_photo)
    args = ["remove", str(src), "-o", str(tmp_path / "out"), "--confirm-batch-over", "2"]
    no = CliRunner().invoke(main, args, env=_env(live_server), input="n\n")
    assert no.exit_code == 1 and "Process 3 images, up to 1.5 credits (size=auto" in no.output, no.output
    assert not (tmp_path / "out").exists()  # nothing was sent
    yes = CliRunner().invoke(main, args, env=_env(live_server), input="y\n")
    assert yes.exit_code == 0 and "3 done" in yes.output, yes.output


def test_cli_extra_api_options_are_sent(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    (tmp_path / "in.jpg").write_bytes(warm_photo)
    r = CliRunner().invoke(main, ["remove", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "c.png"),
                                  "--extra-api-options", "crop=true&crop_margin=0px"], env=_env(live_server))
    assert r.exit_code == 0, r.output
    w, h = Image.open(tmp_path / "c.png").size
    assert w < 160 and h < 120  # cropped to the subject
    bad = CliRunner().invoke(main, ["remove", str(tmp_path / "in.jpg"), "-o", str(tmp_path / "d.png"),
                                    "--extra-api-options", "=x"], env=_env(live_server))
    assert bad.exit_code == 2 and "key=value" in bad.output


def test_cli_takes_url_inputs(live_server: Any, warm_photo: bytes, file_server: tuple[str, Path],
                              tmp_path: Path) -> None:
    base, folder = file_server
    (folder / "from-url.jpg").write_bytes(warm_photo)
    r = CliRunner().invoke(main, ["remove", f"{base}/from-url.jpg?size=1", "-o", str(tmp_path / "out")],
                           env=_env(live_server))
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "out" / "from-url.png").mode == "RGBA"
    local = CliRunner().invoke(main, ["remove", "--local", f"{base}/from-url.jpg", "-o", str(tmp_path / "l")])
    assert local.exit_code == 2 and "drop --local" in local.output


def test_cli_stops_at_the_first_wrong_key(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(10):
        (src / f"{i}.jpg").write_bytes(warm_photo)
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "out"), "--parallel", "1"],
                           env=_env(live_server, "obg_not-a-key"))
    assert r.exit_code == 1
    assert r.output.count("stopped:") == 1 and "9 not sent" in r.output, r.output
    assert r.output.count("FAILED") == 1


def test_cli_stops_at_the_first_402(live_server: Any, big_photo: bytes, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        (src / f"{i}.jpg").write_bytes(big_photo)
    key = live_server.create_key("one-credit-batch", credits=1, free_calls=0)
    r = CliRunner().invoke(main, ["remove", str(src), "-o", str(tmp_path / "out"), "--parallel", "1",
                                  "--size", "full"], env=_env(live_server, key))
    assert r.exit_code == 1
    assert "1 done" in r.output and "4 not sent" in r.output and r.output.count("FAILED") == 1, r.output


def _run_in_pty(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run ``cmd`` with its stderr (and stdout) on a terminal, as a person would see it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, env={**env, "COLUMNS": "160", "TERM": "xterm"}, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(10)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def test_cli_shows_a_rate_limit_countdown_and_an_eta(emulator_factory: Any, warm_photo: bytes,
                                                     tmp_path: Path) -> None:
    server = emulator_factory(env={"OPENBG_RATE_WINDOW_S": "4"})
    key = server.create_key("slow-lane", credits=10, rate_limit=1)
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        (src / f"{i}.jpg").write_bytes(warm_photo)
    env = {**os.environ, "REMOVE_BG_API_KEY": key, "OPENBG_BASE_URL": server.base_url}
    rc, screen = _run_in_pty([str(OPENBG), "remove", str(src), "-o", str(tmp_path / "out"), "--parallel", "1"],
                             env, timeout=120)
    assert rc == 0, screen
    assert "rate limited (429): resuming in" in screen, screen
    assert "ETA" in screen
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_cli_watch_processes_new_files(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    proc = subprocess.Popen([str(OPENBG), "remove", "--watch", str(inbox), "-o", str(out)], env=_env(live_server),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        (inbox / ".part").write_bytes(warm_photo[:100])  # hidden and half-written files are left alone
        (inbox / "arrived.jpg").write_bytes(warm_photo)
        deadline = time.monotonic() + 90
        while not (out / "arrived.png").exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert (out / "arrived.png").exists()
        assert Image.open(out / "arrived.png").mode == "RGBA"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "1 done" in err and "stopped watching" in err
    assert sorted(p.name for p in out.iterdir()) == ["arrived.png"]


def test_cli_watch_ctrl_c_during_a_cut_out_finishes_it_then_stops(live_server: Any, tmp_path: Path) -> None:
    """Ctrl-C while an image is in flight: that image is finished and written, the next one of the same batch
    is not sent, and the watch stops with status 0. (asyncio.run's own Ctrl-C handling used to cancel the
    batch, which absorbed it, and the watch went on.) The signal is sent once the server's worker pool
    has the request (``openbg_queue_depth`` on ``/metrics``), so the test does not depend on timing."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    big = Image.open(io.BytesIO(make_photo(7, (800, 600)))).resize((4000, 3000), Image.Resampling.BILINEAR)
    proc = subprocess.Popen([str(OPENBG), "remove", "--watch", str(inbox), "-o", str(out), "--size", "full",
                             "--parallel", "1"],
                            env=_env(live_server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def in_engine() -> float:
        for line in httpx.get(f"{live_server.root_url}/metrics", timeout=10).text.splitlines():
            if line.startswith("openbg_queue_depth "):
                return float(line.split()[1])
        raise AssertionError("no openbg_queue_depth on /metrics")

    try:
        assert proc.stderr is not None
        assert "watching" in proc.stderr.readline()
        for name in ("a.jpg", "b.jpg"):  # written under a hidden name, then moved in: complete when seen
            big.save(inbox / f".{name}", quality=90)
        for name in ("a.jpg", "b.jpg"):
            (inbox / f".{name}").rename(inbox / name)
        deadline = time.monotonic() + 120
        while in_engine() < 1:
            assert time.monotonic() < deadline and proc.poll() is None, "the request never reached the server"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "1 done, 0 skipped, 0 failed, 1 not sent" in err and "stopped watching" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["a.png"], err
    assert Image.open(out / "a.png").mode == "RGBA"


def test_refused_loopback_url_says_how_to_allow_it(emulator_factory: Any, warm_photo: bytes) -> None:
    server = emulator_factory(env={"OPENBG_ALLOW_PRIVATE_URLS": "0"})
    r = httpx.post(f"{server.base_url}/removebg", headers={"X-API-Key": server.api_key},
                   data={"image_url": "http://127.0.0.1:9/photo.jpg"}, timeout=60)
    assert r.status_code == 400
    assert "OPENBG_ALLOW_PRIVATE_URLS=1" in r.json()["errors"][0]["detail"]


def test_readyz_waits_for_the_warm_up(emulator_factory: Any) -> None:
    server = emulator_factory(args=["--log-level", "info"])
    assert httpx.get(f"{server.root_url}/readyz", timeout=5).status_code == 200
    log = server.log_tail(200_000)
    assert "warm-up done; ready" in log, log
    assert log.index("model loaded; warming up") < log.index("warm-up done; ready")
