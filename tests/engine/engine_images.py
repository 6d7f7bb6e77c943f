"""Engine test images: real photos (scikit-image) as encoded bytes.

Image bytes are deterministic so the engine's mask cache
(keyed by the bytes' sha256) shares one inference per image across the whole run.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from openbg_emulator.engine import Engine
from openbg_emulator.settings import Settings
from PIL import Image
from skimage import data


def encode(arr: np.ndarray, fmt: str = "JPEG", **kw: object) -> bytes:
    b = io.BytesIO()
    Image.fromarray(arr).save(b, fmt, **kw)
    return b.getvalue()


@functools.cache
def astronaut_jpeg() -> bytes:
    return encode(data.astronaut(), "JPEG", quality=92)


@functools.cache
def chelsea_jpeg() -> bytes:
    return encode(data.chelsea(), "JPEG", quality=92)


@functools.cache
def astronaut_2400x1600() -> bytes:
    im = Image.fromarray(data.astronaut()).resize((2400, 1600), Image.Resampling.BICUBIC)
    b = io.BytesIO()
    im.save(b, "JPEG", quality=85)
    return b.getvalue()


def decode_result(content: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(content))
    im.load()
    return im


@functools.lru_cache(maxsize=2)
def engine_for(settings: Settings | None = None) -> Engine:
    """An :class:`Engine` for ``settings`` (default: the environment's), kept for the next test that
    asks for the same settings; at most two are kept, as each holds its own model session."""
    return Engine(settings if settings is not None else Settings.from_env())
