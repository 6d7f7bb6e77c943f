"""Helpers for the live-emulator tests: small deterministic images, pixel checks, error-shape checks."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
from PIL import Image, ImageDraw

# The subject of the synthetic image: a red ellipse with a blue cap on a light grey background.
SUBJECT_POINT = (160, 125)  # inside the ellipse: opaque in the result
BACKGROUND_POINT = (8, 8)  # a corner: transparent in the result


def synthetic(size: tuple[int, int] = (320, 240), fmt: str = "JPEG", variant: int = 0) -> bytes:
    w, h = size
    im = Image.new("RGB", size, (235, 235, 235))
    d = ImageDraw.Draw(im)
    sx, sy = w / 320, h / 240
    d.ellipse((110 * sx, 50 * sy, 210 * sx, 200 * sy), fill=(180, 40 + variant, 40))
    d.rectangle((140 * sx, 30 * sy, 180 * sx, 70 * sy), fill=(40, 40, 160))
    b = io.BytesIO()
    im.save(b, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return b.getvalue()


def png_declaring(w: int, h: int) -> bytes:
    """A small, valid PNG whose header declares w×h (rows mostly missing: probe must not decode)."""

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (w + 1) * min(h, 4), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def alpha_at(img: Image.Image, xy: tuple[int, int]) -> int:
    im = img.convert("RGBA")
    return int(im.getpixel(xy)[3])


def assert_cutout(data: bytes, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """The result is an image of ``size`` whose subject is opaque and whose background is transparent."""
    im = Image.open(io.BytesIO(data))
    im.load()
    assert im.size == size
    assert "A" in im.getbands()
    sx, sy = size[0] / 320, size[1] / 240
    assert alpha_at(im, (int(SUBJECT_POINT[0] * sx), int(SUBJECT_POINT[1] * sy))) >= 240
    assert alpha_at(im, (int(BACKGROUND_POINT[0] * sx), int(BACKGROUND_POINT[1] * sy))) <= 15
    return im


def error_code(r: httpx.Response) -> str:
    body = r.json()
    assert isinstance(body["errors"], list) and body["errors"], body
    assert "title" in body["errors"][0]
    return str(body["errors"][0].get("code"))


