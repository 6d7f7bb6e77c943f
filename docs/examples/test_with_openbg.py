"""Contract tests of your own code against a real openbg emulator (copy this file into your suite).

Needs: pip install 'openbg[testing]'; openbg models fetch (once); and in your conftest.py:
    pytest_plugins = ["openbg.testing"]
"""

from __future__ import annotations

import io
import time

import openbg
import pytest
from openbg.testing import Emulator
from PIL import Image, ImageDraw


def photo() -> bytes:
    """A small test photo made on the spot: a red disc on a grey background."""
    im = Image.new("RGB", (320, 240), (225, 228, 230))
    ImageDraw.Draw(im).ellipse((100, 40, 220, 200), fill=(190, 40, 30))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def make_thumbnail(client: openbg.RemoveBg, image: bytes) -> Image.Image:
    """The code under test: your application's use of the API."""
    return client.remove_background(image, size="preview").to_pil()


def test_a_cutout_has_transparency(removebg_client: openbg.RemoveBg) -> None:
    thumb = make_thumbnail(removebg_client, photo())
    assert thumb.mode == "RGBA"
    assert thumb.getchannel("A").getextrema() == (0, 255)


def test_retries_get_through_two_503s(openbg_emulator: Emulator) -> None:
    with openbg_emulator.failing(503, times=2, retry_policy=openbg.RetryPolicy(backoff_base=0.1)) as client:
        assert make_thumbnail(client, photo()).mode == "RGBA"


def test_a_429_is_raised_once_retries_run_out(openbg_emulator: Emulator) -> None:
    with openbg_emulator.rate_limited(retry_after=1, retries=0) as client:
        with pytest.raises(openbg.RateLimitError) as info:
            make_thumbnail(client, photo())
    assert info.value.retry_after == 1


def test_no_credits_is_a_typed_error(openbg_emulator: Emulator) -> None:
    with openbg_emulator.out_of_credits() as client, pytest.raises(openbg.InsufficientCreditsError):
        make_thumbnail(client, photo())


def test_a_slow_api_hits_my_timeout(openbg_emulator: Emulator) -> None:
    policy = openbg.RetryPolicy(retries=0, total_timeout=0.5)
    started = time.monotonic()
    with openbg_emulator.slow(3000, retry_policy=policy) as client, pytest.raises(openbg.RemoveBgTimeoutError):
        client.account()
    assert time.monotonic() - started < 2.5


def test_free_calls_run_out(openbg_emulator: Emulator) -> None:
    key = openbg_emulator.create_key("trial", credits=0, free_calls=1)
    with openbg_emulator.client(key) as client:
        make_thumbnail(client, photo())  # the one free preview
        with pytest.raises(openbg.InsufficientCreditsError):
            make_thumbnail(client, photo())
