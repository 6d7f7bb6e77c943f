"""The second-opinion step (issue 18): the rules on plain arrays, the real U²-Net-small, and the engine's
hook (OPENBG_SECOND_OPINION: on graphics only, never when off, never fails a request without the model)."""

from __future__ import annotations

import io
import logging
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from openbg_emulator import extra_models
from openbg_emulator.engine import Engine
from openbg_emulator.options import parse_options
from openbg_emulator.pipeline import second_opinion as so
from openbg_emulator.settings import Settings
from PIL import Image, ImageDraw, ImageFilter

from tests.engine.engine_images import astronaut_jpeg, engine_for


def _frame(h: int = 200, w: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """(matte, second opinion): a subject both keep, a large stripe only the matte keeps, a small speck."""
    b = np.zeros((h, w), np.float32)
    b[60:140, 100:200] = 1.0  # the subject
    b[150:160, 0:300] = 0.9  # a stripe of background the matte took in (3000 px, 5 % of the image)
    b[10:13, 10:13] = 0.8  # a speck (9 px)
    u = np.zeros((h, w), np.float32)
    u[60:140, 100:200] = 1.0
    return b, u


def test_veto_removes_large_regions_the_second_opinion_is_sure_of() -> None:
    b, u = _frame()
    out = so.veto(b, u, sure=0.05, min_area=0.001)
    assert (out[150:160] == 0).all()  # the stripe is gone
    assert (out[60:140, 100:200] == 1).all()  # the subject is kept
    assert (out[10:13, 10:13] == 0.8).all()  # smaller than min_area: left alone
    assert so.veto(b, u, sure=0.05, min_area=0.1) is b or np.array_equal(so.veto(b, u, sure=0.05, min_area=0.1), b)


def test_veto_keeps_what_the_second_opinion_is_unsure_of_and_its_margin() -> None:
    b, u = _frame()
    u[150:160] = 0.3  # not sure it is background
    assert np.array_equal(so.veto(b, u, sure=0.05, min_area=0.001), b)
    b2, u2 = _frame()
    b2[58:60, 100:200] = 1.0  # the matte is 2 px taller than the second opinion at the top edge
    out = so.veto(b2, u2, sure=0.05, min_area=0.0001, margin=3)
    assert (out[58:60, 100:200] == 1).all() and (out[150:160] == 0).all()
    assert (so.veto(b2, u2, sure=0.05, min_area=0.0001)[58:60, 100:200] == 0).all()  # no margin: eroded


def test_graphics_veto_runs_only_on_graphics_and_asks_nothing_otherwise() -> None:
    b, u = _frame()
    calls: list[str] = []

    def second(rgb: np.ndarray) -> np.ndarray:
        calls.append("second")
        return u

    rgb = np.zeros((*b.shape, 3), np.uint8)
    assert so.graphics_veto(rgb, b, lambda: "person", second) is b and calls == []
    out = so.graphics_veto(rgb, b, lambda: "graphics", second)
    assert calls == ["second"] and (out[150:160] == 0).all() and (out[60:140, 100:200] == 1).all()
    lost = np.zeros_like(u)  # a second opinion that lost the subject: vetoing would remove all of it
    assert so.graphics_veto(rgb, b, lambda: "graphics", lambda rgb: lost) is b


def test_median_vote_doubt_and_band_rules() -> None:
    b, u = _frame()
    r = b.copy()
    r[150:160] = 0.0  # the raw model agrees with the second opinion
    assert (so.median3(b, r, u)[150:160] == 0).all()
    assert (so.vote_fallback(b, r, u, min_area=0.001)[150:160] == 0).all()
    assert (so.doubt_fallback(b, r, u, delta=0.5)[150:160] == 0).all()
    m = np.full_like(b, 0.5)
    out = so.modnet_band(b, m, weight=1.0, radius=0)
    assert out[150, 5] == pytest.approx(0.5) and out[100, 150] == 1.0  # the soft stripe moves, the sure core not


def flat_icon_png() -> bytes:
    """A flat, sharp-edged icon on a plain background: graphics, and the model gets it right."""
    im = Image.new("RGB", (384, 256), (236, 238, 240))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([100, 70, 284, 186], 10, fill=(40, 110, 200), outline=(20, 60, 120), width=3)
    d.ellipse([170, 100, 214, 144], fill=(250, 250, 250))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_the_real_u2netp_is_installed_and_sees_the_icon() -> None:
    s = Settings.from_env()
    assert extra_models.is_installed("u2netp", s), "run `openbg models fetch` (it fetches u2netp)"
    rgb = np.asarray(Image.open(io.BytesIO(flat_icon_png())).convert("RGB"))
    a = extra_models.u2net_alpha(rgb, extra_models.load_session("u2netp", s))
    assert a.shape == rgb.shape[:2] and a.dtype == np.float32
    assert a[128, 192] > 0.9 and a[75:182, 105:280].mean() > 0.9
    assert a[:40].max() < 0.1 and a[:, :60].max() < 0.1


def brick_icon_png() -> bytes:
    """A keyboard-like icon on a brick wall with light mortar: IS-Net keeps the whole mortar grid,
    U²-Net-small is sure the top rows are background."""
    rng = np.random.default_rng(0)
    im = Image.new("RGB", (512, 512), (220, 220, 215))
    d = ImageDraw.Draw(im)
    for r in range(512 // 80 + 1):
        off = (r % 2) * 20
        for c in range(-1, 512 // 40 + 2):
            col = tuple(int(v) for v in np.array([120, 80, 60]) + rng.integers(-25, 25, 3))
            d.rectangle([c * 40 + off + 4, r * 80 + 4, c * 40 + off + 36, r * 80 + 76], fill=col)
    im = im.filter(ImageFilter.GaussianBlur(0.7))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([150, 160, 362, 260], 8, fill=(235, 235, 238), outline=(120, 120, 125), width=3)
    for a in range(8):
        for b in range(3):
            d.rectangle([162 + a * 25, 175 + b * 26, 180 + a * 25, 193 + b * 26], fill=(250, 250, 252),
                        outline=(160, 160, 165))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def test_engine_hook_removes_what_u2netp_is_sure_is_background() -> None:
    on, off = replace(Settings.from_env(), second_opinion=True), replace(Settings.from_env(), second_opinion=False)
    data = brick_icon_png()
    opts = parse_options({"image_file": data, "size": "full", "format": "png", "type": "graphic"})
    a_on = _alpha(engine_for(on).remove(data, opts, use_cache=False).content)
    a_off = _alpha(engine_for(off).remove(data, opts, use_cache=False).content)
    assert (a_on <= a_off + 1 / 255).all()
    removed = (a_off > 0.5) & (a_on < 0.5)
    assert removed.sum() > 0.01 * removed.size  # mortar the matte kept and U²-Net-small vetoed
    assert (a_on[165:255, 155:357] > 0.5).all()  # the icon is kept
    opts_zip = parse_options({"image_file": data, "size": "full", "format": "zip", "type": "graphic"})
    z = engine_for(on).remove(data, opts_zip, use_cache=False)  # the ZIP path gets the same alpha
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        a_zip = np.asarray(Image.open(io.BytesIO(zf.read("alpha.png"))).convert("L"), np.float32) / 255.0
    assert np.array_equal(a_zip > 0.5, a_on > 0.5)


def _alpha(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).getchannel("A"), np.float32) / 255.0


def test_engine_hook_is_off_switchable_and_leaves_non_graphics_alone() -> None:
    on, off = replace(Settings.from_env(), second_opinion=True), replace(Settings.from_env(), second_opinion=False)
    opts = parse_options({"image_file": astronaut_jpeg(), "size": "full", "format": "png", "type_level": "2"})
    r_on = engine_for(on).remove(astronaut_jpeg(), opts, use_cache=False)
    r_off = engine_for(off).remove(astronaut_jpeg(), opts, use_cache=False)
    assert r_on.type == "person" and r_on.content == r_off.content  # a person: the step does not run
    assert Settings.from_env({"OPENBG_SECOND_OPINION": "0"}).second_opinion is False
    assert Settings.from_env({}).second_opinion is True


def test_engine_hook_on_graphics_runs_the_real_model_and_only_lowers_alpha() -> None:
    on, off = replace(Settings.from_env(), second_opinion=True), replace(Settings.from_env(), second_opinion=False)
    data = flat_icon_png()
    for fields in ({"type": "graphic"}, {"type_level": "2"}):
        opts = parse_options({"image_file": data, "size": "full", "format": "png", **fields})
        a_on = _alpha(engine_for(on).remove(data, opts, use_cache=False).content)
        a_off = _alpha(engine_for(off).remove(data, opts, use_cache=False).content)
        assert (a_on <= a_off + 1 / 255).all()  # a veto only removes
        inside = a_off[75:182, 105:280] > 0.5
        assert inside.mean() > 0.95 and np.array_equal(a_on[75:182, 105:280] > 0.5, inside)  # the icon is kept
    al_on, _ = engine_for(on).matte(data, use_cache=False, foreground=False)  # `openbg eval`'s path
    al_off, _ = engine_for(off).matte(data, use_cache=False, foreground=False)
    assert (al_on <= al_off + 1e-6).all() and np.array_equal(al_on > 0.5, al_off > 0.5)


def test_engine_without_the_model_runs_as_off_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = Settings.from_env()
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for p in s.models_dir.iterdir():  # every installed model but u2netp
        if not p.name.startswith("u2netp"):
            os.symlink(p, home / "models" / p.name)
    bare = replace(s, home=home, second_opinion=True)
    data = flat_icon_png()
    opts = parse_options({"image_file": data, "size": "full", "format": "png", "type": "graphic"})
    with caplog.at_level(logging.WARNING, logger="openbg_emulator.engine"):
        r = Engine(bare).remove(data, opts, use_cache=False)
    off = engine_for(replace(s, second_opinion=False)).remove(data, opts, use_cache=False)
    assert r.content == off.content
    assert any("u2netp is not installed" in m and "openbg models fetch" in m for m in caplog.messages)
