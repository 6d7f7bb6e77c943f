"""Hypothesis on decoding (issue 9): any bytes — random, or real PNG/JPEG/WebP files mutated, truncated or
spliced — give a result or an ``ApiError``, never another exception. Bounded: a few hundred examples, well
under 30 s. (Option parsing has its own fuzz test in tests/engine/test_options_fuzz.py.)
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openbg_emulator.engine import Engine
from openbg_emulator.errors import ApiError
from openbg_emulator.pipeline import decode as dec
from openbg_emulator.settings import Settings
from PIL import Image

from tests.reliability.rel_helpers import jpeg_with_exif, palette_png_transparent, photo, png_16bit

SETTINGS = Settings()
ENGINE = Engine(SETTINGS)  # probe loads no model


def _webp() -> bytes:
    b = io.BytesIO()
    Image.open(io.BytesIO(photo((48, 36)))).save(b, "WEBP", quality=80)
    return b.getvalue()


SEEDS = [
    photo((48, 36)),
    photo((48, 36), fmt="JPEG", quality=80),
    photo((48, 36), fmt="JPEG", quality=80, progressive=True),
    _webp(),
    png_16bit(),
    palette_png_transparent(),
    jpeg_with_exif(2000),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        else:  # splice a piece of another seed in
            other = draw(st.sampled_from(SEEDS))
            j = draw(st.integers(0, len(other) - 1))
            data[i:i] = other[j:j + draw(st.integers(1, 256))]
    return bytes(data)


def check(data: bytes) -> None:
    try:
        info = ENGINE.probe(data)
    except ApiError:
        return
    assert info.width > 0 and info.height > 0 and info.format in ("jpeg", "png", "webp")
    try:
        im = dec.decode(data, min_size=(16, 16), max_megapixels=SETTINGS.max_megapixels)
    except ApiError:
        return
    assert im.mode in ("RGB", "RGBA")
    assert im.size == (info.width, info.height) or im.size[0] <= info.width


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@FUZZ
@given(mutated())
def test_mutated_images_decode_or_api_error(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.one_of(st.binary(max_size=2048),
                 st.builds(lambda magic, rest: magic + rest,
                           st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
                                            b"GIF89a", b"%PDF", b"II*\x00"]),
                           st.binary(max_size=1024))))
def test_random_bytes_decode_or_api_error(data: bytes) -> None:
    check(data)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_decode(seed: int) -> None:
    im = dec.decode(SEEDS[seed], max_megapixels=50)
    assert im.mode in ("RGB", "RGBA")
