"""Size tiers, credits, roi, crop/scale/position geometry (pure, no model)."""

from __future__ import annotations

import numpy as np
import pytest
from openbg_emulator.errors import ApiError
from openbg_emulator.options import Length, Margin, Roi
from openbg_emulator.pipeline import layout


@pytest.mark.parametrize(
    "size,expected",
    [
        ("preview", (612, 408)),
        ("small", (612, 408)),
        ("regular", (612, 408)),
        ("medium", (1500, 1000)),
        ("hd", (2400, 1600)),
        ("full", (2400, 1600)),
        ("4k", (2400, 1600)),
        ("50MP", (2400, 1600)),
        ("auto", (2400, 1600)),
    ],
)
def test_tiers_on_2400x1600(size: str, expected: tuple[int, int]) -> None:
    assert layout.output_size(2400, 1600, size) == expected


def test_never_upscaled_and_caps() -> None:
    assert layout.output_size(400, 267, "full") == (400, 267)
    assert layout.output_size(400, 267, "preview") == (400, 267)
    w, h = layout.output_size(8000, 6250, "full")
    assert w * h <= 25_000_000 and abs(w / h - 1.28) < 0.01
    assert layout.output_size(8000, 6250, "50MP") == (8000, 6250)
    assert layout.output_size(8000, 6250, "auto")[0] * layout.output_size(8000, 6250, "auto")[1] <= 25_000_000


def test_png_cap_10mp() -> None:
    w, h = layout.output_size(6000, 4000, "full", png=True)
    assert w * h <= 10_000_000 and w * h > 9_990_000
    assert abs(w / h - 1.5) < 0.002
    assert layout.output_size(6000, 4000, "full", png=False) == (6000, 4000)
    assert layout.output_size(6000, 4000, "full", png=True, png_max_megapixels=5)[0] < w


def test_png_capped_decision() -> None:
    assert layout.png_capped("png", "rgba", None, False)
    assert layout.png_capped("auto", "rgba", None, False)
    assert layout.png_capped("auto", "rgba", (1, 2, 3, 100), False)
    assert not layout.png_capped("auto", "rgba", (1, 2, 3, 255), False)
    assert not layout.png_capped("auto", "rgba", None, True)
    assert not layout.png_capped("auto", "alpha", None, False)
    for f in ("jpg", "zip", "webp"):
        assert not layout.png_capped(f, "rgba", None, False)


def test_credits_and_rate_cost() -> None:
    assert layout.credits("preview", 612, 408) == 0.25
    assert layout.credits("full", 612, 408) == 1.0
    assert layout.credits("auto", 500, 333) == 0.25
    assert layout.credits("auto", 720, 1080) == 1.0
    assert [
        layout.rate_cost(*s)
        for s in [
            (625, 400),
            (1200, 800),
            (1600, 1200),
            (2500, 1600),
            (4000, 2500),
            (6250, 4000),
            (8000, 6250),
        ]
    ] == [1, 1, 2, 4, 10, 25, 50]
    assert layout.max_size(2400, 1600) == (2400, 1600)


def px(v: float) -> Length:
    return Length(v, "px")


def pc(v: float) -> Length:
    return Length(v, "%")


def test_roi_box() -> None:
    assert layout.roi_box(None, 100, 50) is None
    assert layout.roi_box(Roi(pc(0), pc(0), pc(100), pc(100)), 100, 50) is None
    assert layout.roi_box(Roi(px(10), px(5), pc(50), pc(50)), 100, 50) == (10, 5, 50, 25)
    with pytest.raises(ApiError) as e:
        layout.roi_box(Roi(px(0), px(0), px(101), px(50)), 100, 50)
    assert e.value.code == "roi_exceeds_bounds"
    with pytest.raises(ApiError) as e:
        layout.roi_box(Roi(px(-1), px(0), px(10), px(10)), 100, 50)
    assert e.value.code == "roi_exceeds_bounds"
    with pytest.raises(ApiError) as e:
        layout.roi_box(Roi(px(20), px(0), px(20), px(10)), 100, 50)
    assert e.value.code == "roi_region_empty"
    with pytest.raises(ApiError) as e:
        layout.roi_box(Roi(px(30), px(0), px(20), px(10)), 100, 50)
    assert e.value.code == "roi_region_empty"


def test_foreground_box_and_has_foreground() -> None:
    a = np.zeros((50, 80), np.float32)
    assert layout.foreground_box(a) is None and not layout.has_foreground(a)
    a[10:20, 30:45] = 1.0
    a[5, 5] = 0.05  # below the threshold
    assert layout.foreground_box(a) == (30, 10, 15, 10)
    assert layout.has_foreground(a)
    assert layout.foreground_box((a * 255).astype(np.uint8)) == (30, 10, 15, 10)


def test_plan_crop_with_margins() -> None:
    p = layout.plan((200, 100), (50, 20, 40, 30), crop=True, crop_margin=Margin(), scale=None, position=None)
    assert p.canvas == (40, 30) and p.src_box == (50, 20, 40, 30) and p.dst_box == (0, 0, 40, 30)
    m = Margin(top=px(10), right=pc(50), bottom=px(0), left=px(60))  # left goes past the image edge
    p = layout.plan((200, 100), (50, 20, 40, 30), crop=True, crop_margin=m, scale=None, position=None)
    assert p.canvas == (40 + 20 + 60, 30 + 10)
    assert p.src_box == (0, 10, 110, 40)  # clipped at the image's left edge
    assert p.dst_box == (10, 0, 110, 40)
    # margins are clamped: 50 % of the subject, 500 px
    m = Margin(top=pc(80), right=px(900), bottom=px(0), left=px(0))
    p = layout.plan((2000, 1000), (50, 20, 40, 30), crop=True, crop_margin=m, scale=None, position=None)
    assert p.canvas == (40 + 500, 30 + 15)


def test_plan_scale_and_position() -> None:
    p = layout.plan((200, 100), (10, 10, 40, 20), crop=False, crop_margin=Margin(), scale=0.5, position=None)
    assert p.canvas == (200, 100)
    # relative sizes 40/200=0.2, 20/100=0.2 → factor 2.5 → 100×50, centred
    assert p.dst_box == (50, 25, 100, 50)
    p = layout.plan(
        (200, 100), (10, 10, 40, 20), crop=False, crop_margin=Margin(), scale=1.0, position=(0, 100)
    )
    assert p.dst_box == (0, 0, 200, 100)
    p = layout.plan(
        (200, 100), (10, 10, 40, 20), crop=False, crop_margin=Margin(), scale=None, position=(100, 0)
    )
    assert p.dst_box == (160, 0, 40, 20)


def test_apply_moves_pixels() -> None:
    fg = np.zeros((100, 200, 3), np.uint8)
    a = np.zeros((100, 200), np.float32)
    fg[10:30, 10:50] = (255, 0, 0)
    a[10:30, 10:50] = 1
    p = layout.plan(
        (200, 100), (10, 10, 40, 20), crop=False, crop_margin=Margin(), scale=None, position=(100, 100)
    )
    f2, a2 = layout.apply(p, fg, a)
    assert layout.foreground_box(a2) == (160, 80, 40, 20)
    assert tuple(f2[90, 180]) == (255, 0, 0) and a2[5, 5] == 0
