"""planning.plan: every decision about a request's size, price and model input, made once (no model)."""

from __future__ import annotations

import pytest
from openbg_emulator.options import Options, parse_options
from openbg_emulator.planning import ImageInfo, Plan, plan
from openbg_emulator.settings import Settings

S = Settings()
PHOTO = ImageInfo(6000, 4000, "jpeg")  # 24 MP


def test_sizes_prices_and_rate_cost() -> None:
    p = plan(PHOTO, Options(size="preview"), S)
    assert (p.width, p.height, p.preview, p.credits, p.model_size) == (612, 408, True, 0.25, S.preview_model_size)
    assert (p.max_width, p.max_height, p.rate_cost) == (6000, 4000, 24)
    p = plan(PHOTO, Options(size="medium"), S)
    assert (p.width, p.height, p.preview, p.credits, p.model_size) == (1500, 1000, False, 1.0, None)
    assert plan(PHOTO, Options(size="preview"), S.with_(preview_model_size=0)).model_size is None


@pytest.mark.parametrize(("fields", "capped"), [
    ({"format": "png"}, True), ({"format": "zip"}, False), ({}, True),  # auto: PNG unless opaque
    ({"bg_color": "000"}, False), ({"format": "jpg"}, False), ({"channels": "alpha"}, False),
])
def test_png_cap(fields: dict[str, str], capped: bool) -> None:
    p = plan(PHOTO, parse_options({"image_url": "http://127.0.0.1/x.jpg", "size": "full", **fields}), S)
    assert p.png_capped is capped
    assert (p.width * p.height <= 10_000_000) if capped else (p.width, p.height) == (6000, 4000)
    assert p.format == parse_options({"image_url": "http://127.0.0.1/x.jpg", **fields}).format


def test_auto_has_a_preview_fallback_only_above_the_preview_tier() -> None:
    p = plan(PHOTO, Options(size="auto", format="zip"), S)
    assert not p.preview and p.credits == 1.0 and isinstance(p.fallback, Plan)
    f = p.fallback
    assert (f.width, f.height, f.preview, f.credits, f.model_size, f.fallback) == (
        612, 408, True, 0.25, S.preview_model_size, None)
    assert f.rate_cost == p.rate_cost and f.format == "zip"
    small = plan(ImageInfo(400, 300, "png"), Options(size="auto"), S)
    assert small.preview and small.fallback is None  # already a preview
    assert plan(PHOTO, Options(size="full"), S).fallback is None  # only size=auto falls back


def test_a_small_photo_at_full_size_is_not_a_preview() -> None:
    p = plan(ImageInfo(400, 400, "jpeg"), Options(size="full"), S)
    assert (p.width, p.height, p.preview, p.credits, p.model_size) == (400, 400, False, 1.0, None)
