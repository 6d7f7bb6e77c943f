"""The engine end to end with the real IS-Net model on scikit-image photos.

One inference per distinct image: the engine's mask cache serves every other option.
"""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from openbg_emulator import engine
from openbg_emulator.errors import ApiError
from openbg_emulator.options import SHADOW_TYPES, Length, Margin, Options, Roi, Shadow
from openbg_emulator.planning import ImageInfo
from openbg_emulator.settings import Settings
from PIL import Image
from skimage import data

from tests.engine.engine_images import astronaut_2400x1600, astronaut_jpeg, decode_result, encode, engine_for


def run(**kw: object) -> engine.Result:
    return engine_for().remove(astronaut_jpeg(), Options(**kw))  # type: ignore[arg-type]


def rgba(res: engine.Result) -> np.ndarray:
    return np.asarray(decode_result(res.content).convert("RGBA"))


@pytest.fixture(scope="module")
def full_png() -> engine.Result:
    return run(size="full", format="png")


def test_astronaut_face_opaque_corner_transparent(full_png: engine.Result) -> None:
    a = rgba(full_png)[..., 3]
    assert full_png.content_type == "image/png" and full_png.format == "png"
    assert (full_png.width, full_png.height) == (512, 512)
    assert a[100:160, 190:250].min() >= 250  # the face
    assert a[:60, -60:].max() <= 5  # the top-right corner (flag / background)
    fg = full_png.foreground
    assert fg.left < 20 and fg.top < 40 and fg.width > 400 and fg.height > 400


def test_preview_default_and_credits() -> None:
    r = run()
    assert (r.width, r.height) == (500, 500) and r.credits == 0.25 and r.preview
    assert (r.max_width, r.max_height) == (512, 512)
    assert r.type in ("person", "product", "animal", "car", "other")
    assert r.cached_mask  # same bytes as the full-size run: no second inference


def test_preview_2400x1600_is_612x408() -> None:
    r = engine_for().remove(astronaut_2400x1600(), Options(size="preview"))
    assert (r.width, r.height) == (612, 408) and r.credits == 0.25
    assert (r.max_width, r.max_height) == (2400, 1600)
    assert decode_result(r.content).size == (612, 408)
    q = engine_for().plan(engine_for().probe(astronaut_2400x1600()), Options(size="medium"))
    assert (q.width, q.height, q.credits, q.rate_cost, q.preview) == (1500, 1000, 1.0, 4, False)


def test_formats() -> None:
    jpg = run(size="full", format="jpg")
    assert jpg.content_type == "image/jpeg" and decode_result(jpg.content).mode == "RGB"
    px = np.asarray(decode_result(jpg.content))
    assert px[:40, -40:].mean() > 245  # transparent areas flattened on white
    webp = run(size="full", format="webp")
    assert webp.content_type == "image/webp" and decode_result(webp.content).mode == "RGBA"
    auto = run(size="full")
    assert auto.format == "png"
    opaque = run(size="full", bg_color=(0, 0, 255, 255))
    assert opaque.format == "jpg" and opaque.content_type == "image/jpeg"
    semi = run(size="full", bg_color=(0, 0, 255, 128))
    assert semi.format == "png"
    assert rgba(semi)[5, -5, 3] == 128 and rgba(semi)[5, -5, 2] > 240


def test_zip_entries_and_sizes() -> None:
    r = run(size="full", format="zip")
    assert r.content_type == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(z.namelist()) == ["alpha.png", "color.jpg"]
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    color = Image.open(io.BytesIO(z.read("color.jpg")))
    alpha = Image.open(io.BytesIO(z.read("alpha.png")))
    assert color.mode == "RGB" and alpha.mode == "L" and color.size == alpha.size == (512, 512)
    assert np.asarray(alpha)[100:160, 190:250].min() >= 250
    # color.jpg is not the raw input: edge colours are corrected where alpha is partial
    raw = data.astronaut().astype(int)
    a = np.asarray(alpha)
    band = (a > 20) & (a < 235)
    assert band.sum() > 200
    diff = np.abs(np.asarray(color).astype(int) - raw).sum(axis=2)
    assert diff[band].mean() > diff[a > 250].mean() + 5


def test_channels_alpha() -> None:
    r = run(size="full", channels="alpha")
    im = decode_result(r.content)
    assert r.format == "jpg" and im.mode == "L"  # an opaque matte: auto chooses JPG (§5)
    png = decode_result(run(size="full", channels="alpha", format="png").content)
    assert png.mode == "L" and np.asarray(png)[120, 220] > 250 and np.asarray(png)[10, -10] < 5


def test_crop_and_margin() -> None:
    full = run(size="full", format="png")
    c = run(size="full", format="png", crop=True)
    fg = full.foreground
    assert (c.width, c.height) == (fg.width, fg.height)
    assert (c.foreground.left, c.foreground.top) == (0, 0)
    m = run(
        size="full",
        format="png",
        crop=True,
        crop_margin=Margin(Length(10, "px"), Length(10, "px"), Length(10, "px"), Length(10, "%")),
    )
    assert m.width == fg.width + 10 + round(0.1 * fg.width) and m.height == fg.height + 20
    assert (m.foreground.left, m.foreground.top) == (round(0.1 * fg.width), 10)
    a = rgba(m)[..., 3]
    assert a[:10].max() <= 25  # the margin holds nothing above the foreground threshold


def test_scale_and_position() -> None:
    r = run(size="full", format="png", scale=0.5)
    fg = r.foreground
    assert max(fg.width, fg.height) in range(254, 258)
    assert abs((fg.left + fg.width / 2) - 256) <= 2 and abs((fg.top + fg.height / 2) - 256) <= 2
    p = run(size="full", format="png", scale=0.5, position=(0.0, 0.0))
    assert (p.foreground.left, p.foreground.top) == (0, 0)
    q = run(size="full", format="png", scale=0.5, position=(100.0, 100.0))
    assert q.foreground.left + q.foreground.width == 512 and q.foreground.top + q.foreground.height == 512


def test_roi_limits_foreground() -> None:
    roi = Roi(Length(0, "%"), Length(0, "%"), Length(50, "%"), Length(100, "%"))
    r = run(size="full", format="png", roi=roi)
    a = rgba(r)[..., 3]
    assert a[:, 256:].max() == 0
    assert a[100:160, 190:250].min() >= 250
    assert r.foreground.left + r.foreground.width <= 256
    with pytest.raises(ApiError) as e:
        run(roi=Roi(Length(0, "px"), Length(0, "px"), Length(600, "px"), Length(100, "px")))
    assert e.value.code == "roi_exceeds_bounds"
    with pytest.raises(ApiError) as e:
        run(roi=Roi(Length(10, "px"), Length(0, "px"), Length(10, "px"), Length(100, "px")))
    assert e.value.code == "roi_region_empty"


def test_bg_color_and_bg_image() -> None:
    r = run(size="full", bg_color=(255, 0, 0, 255), format="png")
    px = rgba(r)
    assert tuple(px[5, -5]) == (255, 0, 0, 255)
    assert px[130, 220, 0] < 250 or px[130, 220, 1] > 10  # the face is not red
    bg = np.zeros((100, 300, 3), np.uint8)
    bg[:, :150] = (0, 255, 0)
    bg[:, 150:] = (0, 0, 255)
    r = run(size="full", format="png", bg_image=encode(bg, "PNG"))
    px = rgba(r)
    assert px.shape == (512, 512, 4) and (px[..., 3] == 255).all()
    assert tuple(px[5, 5, :3]) == (0, 255, 0) and tuple(px[5, -5, :3]) == (0, 0, 255)  # cover-fit, centred
    # bg_image passed separately (as the service does after fetching a URL)
    r2 = engine_for().remove(astronaut_jpeg(), Options(size="full", format="png"), bg_image=encode(bg, "PNG"))
    assert r2.content == r.content


def test_semitransparency_false_hardens() -> None:
    soft = rgba(run(size="full", format="png"))[..., 3]
    hard = rgba(run(size="full", format="png", semitransparency=False))[..., 3]
    partial = lambda a: np.count_nonzero((a > 10) & (a < 245))
    assert partial(hard) < partial(soft)
    assert hard[100:160, 190:250].min() == 255


def test_type_levels_and_hint() -> None:
    assert run(type_level="none").type is None
    assert run(type="person", type_level="2").type == "person"
    assert run(type="graphic", type_level="2").type == "graphics"
    assert run(type="graphic", type_level="1").type == "other"
    assert run(type_level="2").type in (
        "person",
        "product",
        "animal",
        "car",
        "car_interior",
        "car_part",
        "transportation",
        "graphics",
        "other",
    )


def test_shadow_darkens_background() -> None:
    kinds = {t: "drop" for t in SHADOW_TYPES}
    plain = rgba(run(size="full", bg_color=(255, 255, 255, 255), format="png"))
    shadow = rgba(run(size="full", bg_color=(255, 255, 255, 255), format="png", shadow=Shadow(kinds=kinds)))
    outside = plain[..., :3].min(axis=2) >= 250  # white background in the plain result
    assert shadow[..., :3][outside].mean() < plain[..., :3][outside].mean() - 1


def test_input_alpha_is_kept() -> None:
    rgba_in = np.dstack([data.astronaut(), np.full((512, 512), 255, np.uint8)])
    rgba_in[:, :128, 3] = 0  # the left quarter is transparent in the input
    r = engine_for().remove(encode(rgba_in, "PNG"), Options(size="full", format="png"))
    a = rgba(r)[..., 3]
    assert a[:, :128].max() == 0 and a[100:160, 190:250].min() >= 250


def test_errors() -> None:
    with pytest.raises(ApiError) as e:
        engine_for().remove(b"%PDF-1.4 a document", Options())
    assert e.value.code == "invalid_file_type" and "pdf" in (e.value.detail or "")
    flat = encode(np.full((300, 400, 3), 128, np.uint8), "PNG")
    with pytest.raises(ApiError) as e:
        engine_for().remove(flat, Options())
    assert e.value.code == "unknown_foreground"
    with pytest.raises(ApiError) as e:
        engine.Engine(Settings(max_upload_bytes=1000)).probe(astronaut_jpeg())
    assert e.value.code == "file_too_large"
    jpg = astronaut_jpeg()
    with pytest.raises(ApiError) as e:
        engine_for().remove(jpg[: len(jpg) // 2], Options())
    assert e.value.code == "failed_to_read_image"
    with pytest.raises(ApiError) as e:
        engine_for().remove(b"\xff\xd8\xff\xe0" + b"\x00" * 40, Options())
    assert e.value.code == "invalid_dimensions"
    with pytest.raises(ApiError) as e:
        engine_for().remove(jpg, Options(bg_image=b"not an image at all"))
    assert e.value.code == "invalid_file_type" and "Background" in (e.value.detail or "")


def test_png_cap_10mp_and_quote() -> None:
    info = ImageInfo(6000, 4000, "jpeg")
    q = engine_for().plan(info, Options(size="full", format="png"))
    assert q.width * q.height <= 10_000_000 and q.credits == 1
    q = engine_for().plan(info, Options(size="full", format="zip"))
    assert (q.width, q.height) == (6000, 4000)
    q = engine_for().plan(info, Options(size="full"))  # auto → PNG unless opaque
    assert q.width * q.height <= 10_000_000
    q = engine_for().plan(info, Options(size="full", bg_color=(0, 0, 0, 255)))
    assert (q.width, q.height) == (6000, 4000)
    # a real >10 MP image delivered as PNG is downscaled (settings make the cap small to stay fast)
    s = Settings(png_max_megapixels=0.1)
    r = engine_for(s).remove(astronaut_jpeg(), Options(size="full", format="png"))
    assert r.width * r.height <= 100_000 and r.width == r.height
    assert decode_result(r.content).size == (r.width, r.height)
    r = engine_for(s).remove(astronaut_jpeg(), Options(size="full", format="zip"))
    assert (r.width, r.height) == (512, 512)


def test_thread_safe_concurrent_calls(full_png: engine.Result) -> None:
    # two uncached runs at once (real concurrent inference) give the cached serial result exactly
    with ThreadPoolExecutor(2) as ex:
        outs = list(ex.map(lambda _: engine_for().remove(astronaut_jpeg(), Options(size="full", format="png"),
                                                   use_cache=False), range(2)))
    for o in outs:
        assert o.content == full_png.content and not o.cached_mask


def test_mask_cache_lru_bound() -> None:
    c = engine.MaskCache(max_bytes=3 * 100)
    for i in range(5):
        c.put((i,), engine._Entry(np.zeros(50, np.float16), None))  # 100 bytes each
    assert len(c) == 3 and c.get((0,)) is None and c.get((4,)) is not None
    c.get((2,))
    c.put((5,), engine._Entry(np.zeros(50, np.float16), None))
    assert c.get((2,)) is not None and c.get((3,)) is None


# --------------------------------------------------------------------------- parallel steps (issue 7)
def _members(res: engine.Result) -> object:
    """The result's content, a ZIP by its members (the archive's timestamps differ between runs)."""
    if res.format != "zip":
        return res.content
    z = zipfile.ZipFile(io.BytesIO(res.content))
    return [(i.filename, i.compress_type, z.read(i.filename)) for i in z.infolist()]


_PARALLEL_CASES: list[dict[str, object]] = [
    {"size": "full", "format": "zip"},  # the plain ZIP: alpha.png next to the foreground estimation
    {"size": "full", "format": "zip", "type_level": "2"},
    {"size": "full", "format": "zip", "bg_color": (255, 0, 0, 255)},
    {"size": "full", "format": "zip", "type": "person"},
    {"size": "full", "format": "zip", "semitransparency": False},
    {"size": "full", "format": "zip", "crop": True},
    {"size": "full", "format": "png"},
    {"size": "full", "format": "webp", "roi": Roi(Length(10, "%"), Length(10, "%"), Length(90, "%"), Length(90, "%"))},
    {"size": "full", "channels": "alpha"},
    {"size": "preview", "format": "png"},
]


@pytest.mark.parametrize("kw", _PARALLEL_CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items())[:60])
def test_parallel_steps_give_the_serial_result(kw: dict[str, object]) -> None:
    # OPENBG_PARALLEL_STEPS: the helper thread changes the schedule, never a byte of the result
    # (2400x1600: several 512-row strips, so both halves of the strip loop run)
    s = Settings.from_env()
    img = astronaut_2400x1600()
    opts = Options(**kw)  # type: ignore[arg-type]
    serial = engine_for(s.with_(parallel_steps=False)).remove(img, opts)
    parallel = engine_for(s.with_(parallel_steps=True)).remove(img, opts)
    assert _members(parallel) == _members(serial)
    assert (parallel.width, parallel.height, parallel.foreground, parallel.type) == (
        serial.width, serial.height, serial.foreground, serial.type)


def test_helper_pool_only_for_a_request_alone() -> None:
    from openbg_emulator.segmenter import cores

    s = Settings.from_env()
    if cores() < 2:
        pytest.skip("one core: the steps always run in order")
    # (building an engine loads nothing: the model is loaded at its first use)
    assert engine.Engine(s.with_(parallel_steps=True)).helper_pool() is not None
    assert engine.Engine(s.with_(parallel_steps=False)).helper_pool() is None
    e = engine.Engine(s)
    with e.request():
        assert e.helper_pool() is not None  # the server's count: this request alone
        with e.request():
            assert e.helper_pool() is None  # another request in the engine: no extra threads
    e.close()
    assert Settings.from_env({"OPENBG_PARALLEL_STEPS": "0"}).parallel_steps is False
    assert Settings.from_env({}).parallel_steps is True


def test_estimate_foreground_pool_is_identical() -> None:
    from openbg_emulator.pipeline import refine

    rng = np.random.default_rng(3)
    h, w = 1800, 700  # 4 strips of 512 rows, the last one short
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip(1.5 - np.hypot(yy - 600, xx - 350) / 300, 0, 1).astype(np.float32)  # band in strips 0–2 only
    with ThreadPoolExecutor(1) as pool:
        got = refine.estimate_foreground(rgb, alpha, 100_000, pool=pool)
    want = refine.estimate_foreground(rgb, alpha, 100_000)
    assert np.array_equal(got, want)
    assert np.array_equal(got[1536:], rgb[1536:])  # a strip without partial pixels keeps the image
    assert not np.array_equal(got[:1536], rgb[:1536])


def test_an_input_larger_than_its_output_is_worked_at_the_output_size() -> None:
    """A 12 MP photo delivered at the PNG cap (10 MP): decoded, then brought to the output size before the
    model and every later step, so the result is byte for byte that of the same photo given at the output
    size (and a 50 MP photo never has a full-size copy beside its decoded image). The mask cache is off here:
    with it, a mask made for another output size of the same photo would be reused."""
    from openbg_emulator.pipeline import decode

    big = Image.fromarray(data.astronaut()).resize((4000, 3000), Image.Resampling.BICUBIC)
    eng = engine_for()
    opts = Options(size="full", format="png")
    info = eng.probe(encode(np.asarray(big), "PNG"))
    plan = eng.plan(info, opts)
    assert (plan.width, plan.height) == (3651, 2738) and plan.width * plan.height <= 10_000_000
    small = decode.resize(big, (plan.width, plan.height))
    a = eng.remove(encode(np.asarray(big), "PNG"), opts, use_cache=False)
    b = eng.remove(encode(np.asarray(small), "PNG"), opts, use_cache=False)
    assert (a.width, a.height) == (b.width, b.height) == (3651, 2738)
    assert a.content == b.content
