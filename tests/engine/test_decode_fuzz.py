"""Bad bytes never escape as anything but ApiError (probe and decode)."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openbg_emulator.errors import ApiError
from openbg_emulator.pipeline import decode as dec
from skimage import data

from tests.engine.engine_images import encode


@functools.cache
def samples() -> list[bytes]:
    img = data.coffee()[:64, :96]
    return [encode(img, "JPEG"), encode(img, "PNG"), encode(img, "WEBP")]


def _check(blob: bytes) -> None:
    try:
        dec.probe(blob)
        dec.decode(blob)
    except ApiError as e:
        assert e.code in {"invalid_file_type", "invalid_dimensions", "failed_to_read_image",
                          "resolution_too_high"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, 2), cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)),
                                                                     max_size=8))
def test_mangled_images(which: int, cut: float, flips: list[tuple[float, int]]) -> None:
    blob = bytearray(samples()[which])
    for pos, val in flips:
        blob[min(len(blob) - 1, int(pos * len(blob)))] = val
    _check(bytes(blob[: max(1, int(cut * len(blob)))]))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes(blob: bytes) -> None:
    with pytest.raises(ApiError):
        _check_strict(blob)


def _check_strict(blob: bytes) -> None:
    dec.decode(blob)
