"""Encode composed pixels: png, jpg, webp, zip and ``auto`` (pure).

* ``auto``: PNG when any pixel is not fully opaque, else JPG (WebP is never chosen, §13).
* ``png``: RGBA (or L for a matte), lossless, written by OpenCV's libpng with the ``UP`` filter and
  run-length deflate (``PNG_PARAMS``): ~3× less CPU than Pillow at level 2 and ~15 % smaller files on
  photos (docs/engineering/performance.md); RGB under fully transparent pixels is zeroed, which makes files
  smaller and changes nothing visible.
* ``jpg``: no alpha. A transparent result is flattened on **white** (what remove.bg returns for
  ``format=jpg`` without a background).
* ``webp``: RGBA (lossy colour, exact alpha), ``image/webp``.
* ``zip``: ``color.jpg`` (RGB, edge-corrected colour, not flattened) + ``alpha.png`` (L), same size;
  the members are already compressed, so the archive deflates at level 0 (stored blocks: no CPU).
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

PNG_COMPRESS_LEVEL = 1
# Photo-like RGBA at 10 MP (CPU s / MB): Pillow level 2 0.55 / 8.5; these 0.19 / 7.2 (bench, docs/engineering/performance.md).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESS_LEVEL,
              cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV ≥ 4.11
    PNG_PARAMS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
ZIP_LEVEL = 0
JPEG_QUALITY = 90
WEBP_QUALITY = 90
WEBP_METHOD = 2
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "zip": "application/zip"}
STRIP_ROWS = 512


@dataclass(frozen=True)
class Encoded:
    content: bytes
    content_type: str
    format: str  # png | jpg | webp | zip


def is_opaque(pixels: np.ndarray) -> bool:
    if pixels.ndim == 2:
        return True
    return bool((pixels[..., 3] == 255).all())


def flatten_on(pixels: np.ndarray, color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """RGBA → RGB over a solid colour (in strips)."""
    h = pixels.shape[0]
    out = np.empty(pixels.shape[:2] + (3,), np.uint8)
    bg = np.asarray(color, np.float32)
    for y0 in range(0, h, STRIP_ROWS):
        p = pixels[y0 : y0 + STRIP_ROWS]
        a = p[..., 3:4].astype(np.float32) / 255.0
        out[y0 : y0 + STRIP_ROWS] = np.clip(p[..., :3] * a + bg * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    return out


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png(arr: np.ndarray) -> bytes:
    """PNG of an L or BGR(A) uint8 array (OpenCV channel order)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), PNG_PARAMS)
    if not ok:  # pragma: no cover - libpng fails only on impossible sizes
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


#: an RGBA PNG of at least this many pixels is deflated in two halves (:func:`_png_rgba_halves`), at once when
#: the engine's helper is free (the same bytes either way); smaller ones by libpng through OpenCV
PARALLEL_PNG_PIXELS = 2_000_000
_ADLER_BASE = 65521


def adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """The Adler-32 of A + B from those of A and B and the length of B (zlib's ``adler32_combine``)."""
    rem = len2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (adler2 & 0xFFFF) + _ADLER_BASE - 1
    sum2 += (adler1 >> 16) + (adler2 >> 16) + _ADLER_BASE - rem
    return (sum1 % _ADLER_BASE) | ((sum2 % _ADLER_BASE) << 16)


def _png_chunk(kind: bytes, *parts: bytes) -> list[bytes]:
    crc = zlib.crc32(kind)
    for p in parts:
        crc = zlib.crc32(p, crc)
    return [struct.pack(">I", sum(len(p) for p in parts)), kind, *parts, struct.pack(">I", crc)]


def _png_rgba_halves(pixels: np.ndarray, pool: Executor | None) -> bytes:
    """RGBA PNG with the settings of :data:`PNG_PARAMS` (UP filter, deflate level 1, run-length) whose two
    halves are filtered and deflated apart, at once with ``pool`` (pigz's method: the first half's raw
    deflate ends on a sync flush, the second's is final; one zlib stream, its Adler-32 combined). RGB is
    0 under fully transparent pixels, as in :func:`encode_png`. The same pixels as libpng's file; the same
    bytes with or without ``pool``."""
    from .kernels import png_up_rows

    px = np.ascontiguousarray(pixels)
    h, w = px.shape[:2]
    lines = np.empty((h, 1 + 4 * w), np.uint8)
    mid = h // 2

    def half(y0: int, y1: int, last: bool) -> tuple[bytes, int]:
        png_up_rows(px, y0, y1, lines)
        data = memoryview(lines[y0:y1]).cast("B")
        z = zlib.compressobj(PNG_COMPRESS_LEVEL, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
        return z.compress(data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH), zlib.adler32(data)

    second = pool.submit(half, mid, h, True) if pool is not None else None
    first, adler1 = half(0, mid, False)
    rest, adler2 = second.result() if second is not None else half(mid, h, True)
    adler = adler32_combine(adler1, adler2, (h - mid) * (1 + 4 * w))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA, deflate, adaptive filters, no interlace
    out = [b"\x89PNG\r\n\x1a\n", *_png_chunk(b"IHDR", ihdr),
           *_png_chunk(b"IDAT", b"\x78\x01", first, rest, struct.pack(">I", adler)), *_png_chunk(b"IEND")]
    return b"".join(out)


def encode_png(pixels: np.ndarray, pool: Executor | None = None) -> bytes:
    """``pool``: a free helper for :func:`_png_rgba_halves` (large RGBA; the same bytes without it)."""
    if pixels.ndim == 2:
        return _png(pixels)
    if is_opaque(pixels):
        return _png(cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGBA2BGR))
    if pixels.shape[0] * pixels.shape[1] >= PARALLEL_PNG_PIXELS and pixels.shape[0] >= 2:
        return _png_rgba_halves(pixels, pool)
    from .kernels import png_rows

    p = np.empty(pixels.shape, np.uint8)  # a copy: the caller's pixels stay
    png_rows(np.ascontiguousarray(pixels), 0, pixels.shape[0], p)  # BGRA, RGB zeroed under alpha 0
    return _png(p)


def encode_jpg_rgb(rgb: np.ndarray, *, scratch: bool = False) -> bytes:
    """JPEG of an H×W×3 RGB uint8 array (``color.jpg`` of a ZIP). OpenCV's libjpeg-turbo with Pillow's
    settings (quality 90, 4:2:0): the same bytes as Pillow's ``save``, without its copy into an image.
    ``scratch``: the caller no longer needs ``rgb`` (contiguous), which is turned into BGR in place
    instead of copied (75 MB less at 25 MP)."""
    src = np.ascontiguousarray(rgb)
    if scratch and src.flags.writeable:
        bgr = src
        for y0 in range(0, src.shape[0], STRIP_ROWS):  # in strips: OpenCV copies a whole source given as dst
            strip = src[y0 : y0 + STRIP_ROWS]
            cv2.cvtColor(strip, cv2.COLOR_RGB2BGR, dst=strip)
    else:
        bgr = cv2.cvtColor(src, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - libjpeg fails only on impossible sizes
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def encode_jpg(pixels: np.ndarray) -> bytes:
    if pixels.ndim == 2:
        return _save(Image.fromarray(pixels, "L"), "JPEG", quality=JPEG_QUALITY)
    if is_opaque(pixels):
        return encode_jpg_rgb(cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGBA2RGB), scratch=True)
    return encode_jpg_rgb(flatten_on(pixels), scratch=True)


def encode_webp(pixels: np.ndarray) -> bytes:
    if pixels.ndim == 2:
        im = Image.fromarray(pixels, "L").convert("RGB")
    elif is_opaque(pixels):
        im = Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB")
    else:
        im = Image.fromarray(pixels, "RGBA")
    return _save(im, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD, alpha_quality=100)


def zip_members(color_jpg: bytes, alpha_png: bytes) -> bytes:
    """The ZIP of ``color.jpg`` and ``alpha.png`` (stored blocks: both are compressed already)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as z:
        z.writestr("color.jpg", color_jpg)
        z.writestr("alpha.png", alpha_png)
    return buf.getvalue()


def encode_zip(pixels: np.ndarray, pool: Executor | None = None) -> bytes:
    """``pool``: alpha.png is encoded there while color.jpg is encoded here (same bytes)."""
    if pixels.ndim == 2:
        color = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_GRAY2RGB)
        alpha = np.full(pixels.shape, 255, np.uint8)
    else:
        px = np.ascontiguousarray(pixels)
        color = cv2.cvtColor(px, cv2.COLOR_RGBA2RGB)  # faster than a strided copy
        alpha = cv2.extractChannel(px, 3)
    alpha_fut = pool.submit(_png, alpha) if pool is not None else None
    color_bytes = encode_jpg_rgb(color, scratch=True)
    alpha_bytes = alpha_fut.result() if alpha_fut is not None else _png(alpha)
    return zip_members(color_bytes, alpha_bytes)


def resolve_format(fmt: str, pixels: np.ndarray) -> str:
    if fmt == "auto":
        return "jpg" if is_opaque(pixels) else "png"
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown format {fmt!r}")
    return fmt


def encode(pixels: np.ndarray, fmt: str = "auto", *, pool: Executor | None = None) -> Encoded:
    """Encode RGBA (H×W×4) or L (H×W) uint8 pixels. ``pool``: see :func:`encode_zip` and :func:`encode_png`."""
    f = resolve_format(fmt, pixels)
    if f == "zip":
        return Encoded(encode_zip(pixels, pool), CONTENT_TYPES[f], f)
    if f == "png":
        return Encoded(encode_png(pixels, pool), CONTENT_TYPES[f], f)
    data = {"png": encode_png, "jpg": encode_jpg, "webp": encode_webp}[f](pixels)
    return Encoded(data, CONTENT_TYPES[f], f)
