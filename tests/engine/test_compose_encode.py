"""Compose and encode, alone (no model)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from openbg_emulator.pipeline import compose as comp
from openbg_emulator.pipeline import encode as enc
from openbg_emulator.pipeline import refine as ref
from PIL import Image


def subject(h: int = 40, w: int = 60) -> tuple[np.ndarray, np.ndarray]:
    fg = np.zeros((h, w, 3), np.uint8)
    fg[..., 0] = 200
    a = np.zeros((h, w), np.float32)
    a[10:30, 20:40] = 1.0
    a[10:30, 40] = 0.5
    return fg, a


def test_compose_transparent_and_alpha_channel() -> None:
    fg, a = subject()
    out = comp.compose(fg, a)
    assert out.shape == (40, 60, 4) and out[15, 25, 3] == 255 and out[0, 0, 3] == 0 and out[15, 40, 3] == 128
    matte = comp.compose(fg, a, channels="alpha")
    assert matte.shape == (40, 60) and matte[15, 25] == 255 and matte[0, 0] == 0


def test_compose_bg_color_semi_transparent() -> None:
    fg, a = subject()
    out = comp.compose(fg, a, bg_color=(0, 0, 255, 128))
    assert tuple(out[0, 0]) == (0, 0, 255, 128)
    # half-covered pixel: alpha 0.5 + 0.5*0.5 = 0.75; colour = (0.5*200, 0, 0.5*0.5*255)/0.75
    r, _g, b, al = out[15, 40]
    assert al in (191, 192) and abs(int(r) - 133) <= 1 and abs(int(b) - 85) <= 1
    opaque = comp.compose(fg, a, bg_color=(0, 255, 0, 255))
    assert (opaque[..., 3] == 255).all() and tuple(opaque[15, 40, :3]) == (100, 128, 0)


def test_compose_shadow_under_subject() -> None:
    fg, a = subject()
    shadow = np.zeros_like(a)
    shadow[12:35, 22:45] = 0.5
    out = comp.compose(fg, a, bg_color=(255, 255, 255, 255), shadow_layer=shadow)
    assert tuple(out[32, 25, :3]) == (128, 128, 128)  # shadow over the white background
    assert tuple(out[15, 25, :3]) == (200, 0, 0)  # the subject stays on top
    clear = comp.compose(fg, a, shadow_layer=shadow)
    assert clear[32, 25, 3] == 128 and tuple(clear[32, 25, :3]) == (0, 0, 0)


def test_cover_fit() -> None:
    bg = np.zeros((10, 40, 3), np.uint8)
    bg[:, :20] = (255, 0, 0)
    bg[:, 20:] = (0, 0, 255)
    out = comp.cover_fit(Image.fromarray(bg), (30, 30))
    assert out.shape == (30, 30, 4)
    assert tuple(out[15, 2, :3]) == (255, 0, 0) and tuple(out[15, 27, :3]) == (0, 0, 255)
    same = comp.cover_fit(Image.fromarray(bg), (40, 10))
    assert (same[..., :3] == bg).all()


def test_harden_alpha_keeps_thin_rim() -> None:
    a = np.zeros((50, 50), np.float32)
    a[10:40, 10:40] = 1.0
    a[20:30, 20:30] = 0.3  # a window inside the subject
    a[10:40, 9] = 0.4  # anti-aliased edge
    h = comp.harden_alpha(a)
    assert h[25, 25] == 0.0  # interior partial area snapped
    assert h[20, 9] == np.float32(0.4)  # rim kept
    assert set(np.unique(h[15:35, 15:35])) <= {0.0, 1.0}


def test_encode_auto_and_formats() -> None:
    fg, a = subject()
    px = comp.compose(fg, a)
    assert enc.encode(px).format == "png"
    opaque = comp.compose(fg, a, bg_color=(0, 0, 0, 255))
    e = enc.encode(opaque)
    assert e.format == "jpg" and e.content_type == "image/jpeg"
    assert enc.encode(comp.compose(fg, a, channels="alpha")).format == "jpg"
    png = Image.open(io.BytesIO(enc.encode(px, "png").content))
    assert png.mode == "RGBA" and np.asarray(png)[15, 40, 3] == 128
    webp = Image.open(io.BytesIO(enc.encode(px, "webp").content))
    assert webp.format == "WEBP" and webp.mode == "RGBA"
    jpg = Image.open(io.BytesIO(enc.encode(px, "jpg").content))
    assert jpg.mode == "RGB" and np.asarray(jpg)[0, 0].min() > 245  # flattened on white


def test_encode_zip() -> None:
    fg, a = subject()
    z = zipfile.ZipFile(io.BytesIO(enc.encode(comp.compose(fg, a), "zip").content))
    assert z.namelist() == ["color.jpg", "alpha.png"]
    c = Image.open(io.BytesIO(z.read("color.jpg")))
    al = Image.open(io.BytesIO(z.read("alpha.png")))
    assert c.mode == "RGB" and al.mode == "L" and c.size == al.size == (60, 40)
    assert np.asarray(al)[15, 40] == 128


def test_refine_upsample_and_foreground() -> None:
    # a red disc on a green background; the low-res alpha is soft at the edge
    h = w = 200
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.sqrt((xx - 100) ** 2 + (yy - 100) ** 2)
    alpha_true = np.clip(60.5 - d, 0, 1).astype(np.float32)
    fg_true = np.array([220, 20, 20], np.float32)
    bg = np.array([20, 200, 20], np.float32)
    rgb = (alpha_true[..., None] * fg_true + (1 - alpha_true[..., None]) * bg).astype(np.uint8)
    import cv2

    low = cv2.resize(alpha_true, (64, 64), interpolation=cv2.INTER_AREA)
    alpha, fg = ref.refine(rgb, low, "balanced")
    assert alpha.shape == (h, w) and alpha.dtype == np.float32
    assert alpha[100, 100] > 0.99 and alpha[0, 0] < 0.01
    band = (alpha > 0.2) & (alpha < 0.8)
    assert band.sum() > 50
    # edge pixels lose the green background: corrected colour is redder than the raw mix
    assert fg[band][:, 1].mean() < rgb[band][:, 1].mean() - 20
    _alpha_f, fg_f = ref.refine(rgb, low, "fast")
    assert np.array_equal(fg_f, rgb)


def test_compiled_rgba_and_png_passes_match_numpy() -> None:
    rng = np.random.default_rng(3)
    fg = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    a = rng.random((300, 500), dtype=np.float32)
    a[a < 0.3], a[a > 0.7] = 0, 1
    a[0, :3] = (0.5, 127.5 / 255, 1.5)  # ties and out of range
    out = comp.compose(fg, a)
    assert np.array_equal(comp.alpha_to_u8(a), np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8))
    assert np.array_equal(out[..., :3], fg) and np.array_equal(out[..., 3], comp.alpha_to_u8(a))
    assert np.array_equal(comp.compose(fg[:, ::-1], a), np.dstack([fg[:, ::-1], comp.alpha_to_u8(a)]))  # a view
    png = Image.open(io.BytesIO(enc.encode_png(out)))
    got = np.asarray(png)
    want = out.copy()
    want[want[..., 3] == 0, :3] = 0
    assert png.mode == "RGBA" and np.array_equal(got, want)


def test_png_in_two_halves_has_libpngs_pixels() -> None:
    """A large RGBA PNG is deflated in two halves (at once with a free helper, the same bytes): any PNG
    reader gets the same pixels as from libpng's file (RGB zeroed under transparent pixels in both)."""
    import zlib
    from concurrent.futures import ThreadPoolExecutor

    import cv2

    a, b = b"openbg" * 999, b"xyz" * 777
    assert enc.adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    rng = np.random.default_rng(5)
    h, w = 1201, enc.PARALLEL_PNG_PIXELS // 1200 + 1  # odd rows: halves of unequal height
    px = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    px[..., 3][px[..., 3] < 90] = 0
    px[: h // 3] //= 32  # a compressible part
    with ThreadPoolExecutor(1) as pool:
        halves = enc.encode(px, "png", pool=pool).content
    assert enc.encode_png(px) == halves  # the same bytes without the helper
    libpng = enc._png(cv2.cvtColor(np.where(px[..., 3:] == 0, 0, px).astype(np.uint8), cv2.COLOR_RGBA2BGRA))
    assert halves != libpng  # the other encoder ran
    want = np.asarray(Image.open(io.BytesIO(libpng)))
    im = Image.open(io.BytesIO(halves))
    assert im.mode == "RGBA" and np.array_equal(np.asarray(im), want)
    bgra = cv2.imdecode(np.frombuffer(halves, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(bgra[..., [2, 1, 0, 3]], want)
    assert abs(len(halves) - len(libpng)) < 0.02 * len(libpng)


def test_jpeg_of_a_scratch_array_is_pillows_jpeg() -> None:
    """``color.jpg``: OpenCV with Pillow's settings gives Pillow's bytes, whether the array is copied to BGR
    or, when the caller is done with it (``scratch``), turned into BGR in place strip by strip."""
    rng = np.random.default_rng(5)
    rgb = np.ascontiguousarray(np.kron(rng.integers(0, 256, (75, 50, 3), dtype=np.uint8),
                                       np.ones((16, 16, 1), np.uint8)))  # 1200 rows: more than one strip
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=enc.JPEG_QUALITY)
    kept = rgb.copy()
    assert enc.encode_jpg_rgb(rgb) == buf.getvalue()
    assert np.array_equal(rgb, kept)  # not scratch: left as it was
    assert enc.encode_jpg_rgb(rgb.copy(), scratch=True) == buf.getvalue()
    assert enc.encode_jpg_rgb(rgb[::-1], scratch=True) == enc.encode_jpg_rgb(np.ascontiguousarray(rgb[::-1]))


def test_half_conversion_is_numpys_bit_for_bit() -> None:
    """The model mask is kept as float16 (the mask cache): the compiled conversion gives numpy's bits for
    float32 patterns across the whole range (subnormals, rounding ties, overflow, infinities, signs)."""
    from openbg_emulator.pipeline.kernels import to_half

    rng = np.random.default_rng(11)
    patterns = np.arange(0, 2**32, 65_537, dtype=np.uint64).astype(np.uint32).view(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 65504, 65520, 2**-24, 2**-25, 3 * 2**-26, 6.1e-5, 1.0,
                         1 + 2**-11, 1 + 3 * 2**-11, -(2**-14)], np.float32)
    masks = rng.random((300, 200), dtype=np.float32) ** 12  # mostly tiny values, like a model's background
    for a in (patterns, specials, masks):
        with np.errstate(over="ignore"):
            want = a.astype(np.float16)
        got = to_half(a)
        assert got.dtype == np.float16 and got.shape == a.shape
        finite = ~np.isnan(a)
        assert np.array_equal(got.view(np.uint16)[finite], want.view(np.uint16)[finite])
        assert np.isnan(got[~finite]).all()
