"""Sniffing, probing and decoding (no model)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from openbg_emulator.errors import ApiError
from openbg_emulator.pipeline import decode as dec
from PIL import Image, ImageCms
from skimage import data

from tests.engine.engine_images import encode


def png_header_only(w: int, h: int) -> bytes:
    """A PNG signature + IHDR claiming w×h (no pixel data): probing must not need the pixels."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = b"\x78\x9c"  # the start of a zlib stream: pixels never follow
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize(
    "blob,kind",
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"GIF89a\x01\x00\x01\x00", "gif"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "mp4"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "heic"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "svg"),
        (b"hello, this is just text\n", "text"),
        (b"PK\x03\x04\x14\x00rest", "zip"),
        (b"BM\x00\x00", "bmp"),
        (b"", "empty file"),
    ],
)
def test_non_images_are_named(blob: bytes, kind: str) -> None:
    assert dec.sniff(blob) == kind
    with pytest.raises(ApiError) as e:
        dec.probe(blob)
    assert e.value.code == "invalid_file_type"
    assert e.value.detail == f"Expected jpg/png/webp, received {kind}"


def test_sniff_images_ignores_names() -> None:
    arr = data.coffee()
    assert dec.sniff(encode(arr, "JPEG")) == "jpeg"
    assert dec.sniff(encode(arr, "PNG")) == "png"
    assert dec.sniff(encode(arr, "WEBP")) == "webp"


def test_probe_refuses_over_50mp_without_decoding() -> None:
    blob = png_header_only(9000, 6000)  # 54 MP, no pixel data at all
    with pytest.raises(ApiError) as e:
        dec.probe(blob)
    assert e.value.code == "resolution_too_high"
    assert "54.0 megapixels" in (e.value.detail or "")
    info = dec.probe(png_header_only(8000, 6250))  # exactly 50 MP is allowed
    assert (info.width, info.height, info.format) == (8000, 6250, "png")
    with pytest.raises(ApiError) as e:
        dec.probe(png_header_only(4000, 3000), max_megapixels=10)
    assert e.value.code == "resolution_too_high"


def test_corrupt_and_truncated() -> None:
    with pytest.raises(ApiError) as e:
        dec.probe(b"\xff\xd8\xff" + b"\x00" * 50)
    assert e.value.code == "invalid_dimensions"
    with pytest.raises(ApiError) as e:
        dec.probe(b"\x89PNG\r\n\x1a\n" + b"garbage")
    assert e.value.code == "invalid_dimensions"
    jpg = encode(data.astronaut(), "JPEG")
    with pytest.raises(ApiError) as e:
        dec.decode(jpg[: len(jpg) // 2])
    assert e.value.code == "failed_to_read_image"


def test_exif_orientation_rotates() -> None:
    arr = np.zeros((100, 200, 3), np.uint8)
    arr[:, :100] = (255, 0, 0)  # left half red, right half blue
    arr[:, 100:] = (0, 0, 255)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    b = io.BytesIO()
    im.save(b, "JPEG", exif=exif.tobytes(), quality=95)
    info = dec.probe(b.getvalue())
    assert (info.width, info.height, info.orientation) == (100, 200, 6)
    out = np.asarray(dec.decode(b.getvalue()))
    assert out.shape == (200, 100, 3)
    # after a clockwise turn, the old left (red) is at the top
    assert out[10, 50, 0] > 200 and out[10, 50, 2] < 60
    assert out[190, 50, 2] > 200 and out[190, 50, 0] < 60


def test_cmyk_jpeg() -> None:
    rgb = data.coffee()
    cmyk = Image.fromarray(rgb).convert("CMYK")
    b = io.BytesIO()
    cmyk.save(b, "JPEG", quality=95)
    out = dec.decode(b.getvalue())
    assert out.mode == "RGB" and out.size == (rgb.shape[1], rgb.shape[0])
    assert np.abs(np.asarray(out).astype(int) - rgb.astype(int)).mean() < 12


def test_16bit_png_grey_and_rgb() -> None:
    ramp = np.linspace(0, 65535, 256, dtype=np.uint16)[None, :].repeat(20, axis=0)
    b = io.BytesIO()
    Image.fromarray(ramp).save(b, "PNG")  # I;16
    out = np.asarray(dec.decode(b.getvalue()))
    assert out.shape == (20, 256, 3)
    assert (
        out[0, 0, 0] == 0 and out[0, -1, 0] == 255 and abs(int(out[0, 128, 0]) - 128) <= 1
    )  # scaled, not clipped


def test_modes_l_la_p_transparency_rgba() -> None:
    g = data.camera()[:64, :64]
    assert dec.decode(encode(g, "PNG")).mode == "RGB"
    la = Image.fromarray(np.dstack([g, np.full_like(g, 128)]), "LA")
    b = io.BytesIO()
    la.save(b, "PNG")
    out = dec.decode(b.getvalue())
    assert out.mode == "RGBA" and np.asarray(out)[0, 0, 3] == 128
    p = Image.fromarray(g).convert("P")
    b = io.BytesIO()
    p.save(b, "PNG", transparency=int(np.asarray(p)[0, 0]))
    out = dec.decode(b.getvalue())
    assert out.mode == "RGBA" and np.asarray(out)[0, 0, 3] == 0
    # fully opaque RGBA collapses to RGB
    rgba = np.dstack([data.coffee()[:32, :32], np.full((32, 32), 255, np.uint8)])
    assert dec.decode(encode(rgba, "PNG")).mode == "RGB"


def test_icc_profile_converted() -> None:
    arr = data.coffee()[:64, :64]
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "PNG", icc_profile=srgb)
    out = np.asarray(dec.decode(b.getvalue()))
    assert np.abs(out.astype(int) - arr.astype(int)).max() <= 2


def test_jpeg_draft_mode_for_small_outputs() -> None:
    big = np.asarray(Image.fromarray(data.astronaut()).resize((2048, 2048)))
    blob = encode(big, "JPEG")
    small = dec.decode(blob, min_size=(500, 500))
    assert 500 <= small.size[0] < 2048 and small.size[0] == small.size[1]
    assert dec.decode(blob).size == (2048, 2048)


def test_resize_lanczos_below_the_fast_size_bilinear_from_it() -> None:
    rng = np.random.default_rng(2)
    im = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    assert dec.resize(im, (400, 300)) is im
    small = dec.resize(im, (200, 150))
    assert np.array_equal(np.asarray(small), np.asarray(im.resize((200, 150), Image.Resampling.LANCZOS)))
    up = dec.resize(im, (800, 600))
    assert np.array_equal(np.asarray(up), np.asarray(im.resize((800, 600), Image.Resampling.BICUBIC)))
    big = Image.fromarray(rng.integers(0, 256, (2400, 2000, 3), dtype=np.uint8))
    size = (1900, 2200)
    assert size[0] * size[1] >= dec.FAST_RESAMPLE_PIXELS
    banded = np.asarray(dec.resize(big, size)).astype(int)  # by bands of rows: within one level of one resize
    assert np.abs(banded - np.asarray(big.resize(size, Image.Resampling.BILINEAR))).max() <= 1
