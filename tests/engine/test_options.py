"""parse_options: every field, alias, error code and the encodings' value types (spec §3, §5, §13)."""

from __future__ import annotations

import base64
import dataclasses
import pickle

import pytest
from openbg_emulator.errors import ApiError
from openbg_emulator.options import (
    AUTO_SHADOW,
    DEFAULT_SHADOW_OPACITY,
    SHADOW_TYPES,
    Length,
    Margin,
    Options,
    Roi,
    Shadow,
    ShadowKind,
    parse_options,
)

IMG = b"\x89PNG\r\n\x1a\n-not-really-but-bytes"
ALL_FIELDS = [
    "image_file",
    "image_file_b64",
    "image_url",
    "size",
    "type",
    "type_level",
    "format",
    "roi",
    "crop",
    "crop_margin",
    "scale",
    "position",
    "channels",
    "add_shadow",
    "shadow_type",
    "shadow_opacity",
    "semitransparency",
    "bg_color",
    "bg_image_url",
    "bg_image_file",
    "quality",
    "api_key",
    "shadow_method",
]


def parse(**fields: object) -> Options:
    return parse_options({"image_file": IMG, **fields})


def code_of(fields: dict[str, object]) -> str:
    with pytest.raises(ApiError) as info:
        parse_options(fields)
    return info.value.code


def err(**fields: object) -> str:
    return code_of({"image_file": IMG, **fields})


def px(v: float) -> Length:
    return Length(v, "px")


def pc(v: float) -> Length:
    return Length(v, "%")


# ---------------------------------------------------------------- defaults and absent values


def test_defaults() -> None:
    o = parse()
    assert o == Options(image=IMG)
    assert (o.size, o.type, o.type_level, o.format, o.channels) == ("preview", "auto", "1", "auto", "rgba")
    assert (o.crop, o.semitransparency, o.roi, o.scale, o.position, o.quality) == (
        False,
        True,
        None,
        None,
        None,
        None,
    )
    assert o.crop_margin == Margin(px(0), px(0), px(0), px(0))
    assert dict(o.shadow.kinds) == {t: "none" for t in SHADOW_TYPES}
    assert (
        dict(o.shadow.opacity)
        == DEFAULT_SHADOW_OPACITY
        == {t: 90 if t == "car" else 50 for t in SHADOW_TYPES}
    )


@pytest.mark.parametrize("empty", ["", "   ", None, "\t\n"])
def test_every_field_empty_means_defaults(empty: object) -> None:
    """The official CLI sends every field, "" when unset; the browser demo adds api_key and an empty file."""
    fields: dict[str, object] = {name: empty for name in ALL_FIELDS}
    fields.update({"image_file": IMG, "bg_image_file": b"", "shadow_type[car]": empty, "shadow_opacity": {}})
    assert parse_options(fields) == Options(image=IMG)


def test_unknown_and_ignored_fields() -> None:
    o = parse(
        api_key="secret", shadow_method="legacy", foo="bar", image_filename="x.png", **{"weird[x]": "1"}
    )
    assert o == Options(image=IMG)


# ---------------------------------------------------------------- sources


def test_missing_source() -> None:
    assert code_of({}) == "missing_source"
    assert (
        code_of({"image_file": b"", "image_url": "", "image_file_b64": "  ", "size": "full"})
        == "missing_source"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"image_file": IMG, "image_url": "http://x.test/a.png"},
        {"image_file": IMG, "image_file_b64": "aGVsbG8="},
        {"image_url": "http://x.test/a.png", "image_file_b64": "aGVsbG8="},
        {"image_file": IMG, "image_url": "http://x.test/a.png", "image_file_b64": "aGVsbG8="},
        {"image_file": IMG, "image_file_b64": "%%%not base64"},  # multiple is decided before validity
    ],
)
def test_multiple_sources(fields: dict[str, object]) -> None:
    assert code_of(fields) == "multiple_sources"


def test_image_file_bytes_and_text() -> None:
    assert parse_options({"image_file": bytearray(IMG)}).image == IMG
    assert parse_options({"image_file": "abc"}).image == b"abc"  # a part without a filename arrives as text
    for bad in (5, 1.5, True, {"a": 1}, ["x"], "\ud800"):
        assert code_of({"image_file": bad}) == "failed_to_read_image"


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(IMG).decode(),
        "data:image/png;base64," + base64.b64encode(IMG).decode(),
        "DATA:image/jpeg;base64," + base64.b64encode(IMG).decode(),
        "  " + "\n".join(base64.b64encode(IMG).decode()[i : i + 8] for i in range(0, 40, 8)) + "\n",
        base64.b64encode(IMG).decode().rstrip("="),  # missing padding
        base64.urlsafe_b64encode(IMG).decode(),
    ],
)
def test_image_file_b64_accepted(text: str) -> None:
    o = parse_options({"image_file_b64": text})
    assert o.image == IMG and o.image_url is None
    assert parse_options({"image_file_b64": text.encode()}).image == IMG


@pytest.mark.parametrize(
    "text", ["!!!!", "abc$", "a", "data:image/png;base64,", "data:image/png;base64,@@", "ä" * 8, "===="]
)
def test_image_file_b64_invalid(text: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_options({"image_file_b64": text})
    assert info.value.code == "failed_to_read_image"
    assert "base64" in (info.value.detail or "")


@pytest.mark.parametrize("bad", [5, True, {"a": "b"}, b"\xff\xfe"])
def test_image_file_b64_wrong_type(bad: object) -> None:
    assert code_of({"image_file_b64": bad}) == "failed_to_read_image"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "https://example.com:8443/a/b.jpg?x=1&y=2#f",
        "HTTPS://Example.COM/x",
        "http://127.0.0.1:5000/img.png",
        "http://[::1]:80/a",
        "  http://example.com/padded.png  ",
    ],
)
def test_image_url_accepted(url: str) -> None:
    o = parse_options({"image_url": url})
    assert o.image_url == url.strip() and o.image is None


@pytest.mark.parametrize(
    "url",
    [
        "example.com/a.png",
        "/relative/a.png",
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http:///path",
        "https://exa mple.com/a.png",
        "http://example.com:99999/a",
        "http://[::1/a",
        "data:image/png;base64,AAAA",
        "http://example.com/a\x00b",
        42,
        True,
        {"url": "http://x"},
    ],
)
def test_image_url_invalid(url: object) -> None:
    assert code_of({"image_url": url}) == "invalid_image_url"


# ---------------------------------------------------------------- background sources


def test_bg_sources() -> None:
    assert parse(bg_image_file=b"BG").bg_image == b"BG"
    assert parse(bg_image_url="https://x.test/bg.jpg").bg_image_url == "https://x.test/bg.jpg"
    assert parse(bg_color="fff").bg_color == (255, 255, 255, 255)


@pytest.mark.parametrize(
    "fields",
    [
        {"bg_color": "red", "bg_image_url": "http://x.test/b.png"},
        {"bg_color": "red", "bg_image_file": b"BG"},
        {"bg_image_url": "http://x.test/b.png", "bg_image_file": b"BG"},
        {"bg_color": "not a colour", "bg_image_file": b"BG"},  # decided before validity
    ],
)
def test_multiple_bg_sources(fields: dict[str, object]) -> None:
    assert err(**fields) == "multiple_bg_sources"


@pytest.mark.parametrize("url", ["nope", "ftp://x.test/b.png", "http://", 7])
def test_invalid_bg_image_url(url: object) -> None:
    assert err(bg_image_url=url) == "invalid_bg_image_url"


def test_bg_image_file_wrong_type() -> None:
    assert err(bg_image_file=12) == "failed_to_read_image"


@pytest.mark.parametrize(
    "value, rgba",
    [
        ("fff", (255, 255, 255, 255)),
        ("#FFF", (255, 255, 255, 255)),
        ("0f08", (0, 255, 0, 136)),
        ("81d4fa", (0x81, 0xD4, 0xFA, 255)),
        ("#81D4FA77", (0x81, 0xD4, 0xFA, 0x77)),
        ("00000000", (0, 0, 0, 0)),
        ("green", (0, 128, 0, 255)),
        ("Red", (255, 0, 0, 255)),
        ("LightGoldenRodYellow", (250, 250, 210, 255)),
        (" white ", (255, 255, 255, 255)),
        (123456, (0x12, 0x34, 0x56, 255)),
    ],
)
def test_bg_color(value: object, rgba: tuple[int, int, int, int]) -> None:
    assert parse(bg_color=value).bg_color == rgba


@pytest.mark.parametrize(
    "value",
    [
        "ff",
        "fffff",
        "fffffff",
        "fffffffff",
        "#",
        "##fff",
        "ggg",
        "0xfff",
        "not-a-colour",
        "rgb(1,2,3)",
        "red blue",
        True,
        1.5,
        [1],
    ],
)
def test_invalid_bg_color(value: object) -> None:
    assert err(bg_color=value) == "invalid_bg_color"


# ---------------------------------------------------------------- enums


ENUMS: dict[str, dict[object, str]] = {
    "size": {
        "preview": "preview",
        "PREVIEW": "preview",
        "small": "preview",
        "Small": "preview",
        "regular": "preview",
        "medium": "medium",
        "hd": "hd",
        "HD": "hd",
        "full": "full",
        "4k": "full",
        "4K": "full",
        "50MP": "50MP",
        "50mp": "50MP",
        "auto": "auto",
        "Auto": "auto",
    },
    "type": {
        "auto": "auto",
        "person": "person",
        "Person": "person",
        "product": "product",
        "car": "car",
        "CAR": "car",
        "animal": "animal",
        "graphic": "graphic",
        "transportation": "transportation",
    },
    "type_level": {
        "none": "none",
        "NONE": "none",
        "1": "1",
        "2": "2",
        "latest": "2",
        "Latest": "2",
        1: "1",
        2: "2",
    },
    "format": {
        "auto": "auto",
        "png": "png",
        "PNG": "png",
        "jpg": "jpg",
        "JPEG": "jpg",
        "zip": "zip",
        "webp": "webp",
        "WebP": "webp",
    },
    "channels": {"rgba": "rgba", "RGBA": "rgba", "alpha": "alpha", "Alpha": "alpha"},
    "quality": {
        "fast": "fast",
        "balanced": "balanced",
        "Balanced": "balanced",
        "best": "best",
        "BEST": "best",
    },
}
ENUM_CASES = [(name, given, want) for name, table in ENUMS.items() for given, want in table.items()]
BAD_ENUMS = {
    "size": ["big", "50", "preview2", "full hd", "4", 4, True, {"x": 1}, ["full"]],
    "type": ["people", "graphics", "cars", "other", 1, False],
    "type_level": ["3", "0", "one", 3, 1.0, True, "1.0"],
    "format": ["gif", "tiff", "jpgg", ".png", 1, True],
    "channels": ["rgb", "a", "alpha2", 0],
    "quality": ["good", "max", "1", 2, True],
}
BAD_ENUM_CASES = [(name, bad) for name, bads in BAD_ENUMS.items() for bad in bads]


@pytest.mark.parametrize("name, given, want", ENUM_CASES)
def test_enum_values(name: str, given: object, want: str) -> None:
    assert getattr(parse(**{name: given}), name) == want
    if isinstance(given, str):
        assert getattr(parse(**{name: f"  {given}\n"}), name) == want
        assert getattr(parse(**{name: given.encode()}), name) == want


@pytest.mark.parametrize("name, bad", BAD_ENUM_CASES)
def test_enum_invalid(name: str, bad: object) -> None:
    with pytest.raises(ApiError) as info:
        parse(**{name: bad})
    assert info.value.code == f"invalid_{name}"
    assert info.value.status == 400


# ---------------------------------------------------------------- booleans

BOOLS = ["crop", "add_shadow", "semitransparency"]


@pytest.mark.parametrize("name", BOOLS)
@pytest.mark.parametrize(
    "given, want",
    [
        (True, True),
        (False, False),
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("false", False),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        ("on", True),
        ("off", False),
        ("yes", True),
        ("No", False),
        (b"true", True),
    ],
)
def test_booleans(name: str, given: object, want: bool) -> None:
    o = parse(**{name: given})
    if name == "add_shadow":
        assert (o.shadow.kinds["car"] == "car") is want
    else:
        assert getattr(o, name) is want


@pytest.mark.parametrize("name", BOOLS)
@pytest.mark.parametrize("bad", ["truthy", "2", "-1", "nope", 2, -1, 0.5, 1.0, {"a": True}, [True]])
def test_booleans_invalid(name: str, bad: object) -> None:
    assert err(**{name: bad}) == f"invalid_{name}"


# ---------------------------------------------------------------- roi


@pytest.mark.parametrize(
    "text, roi",
    [
        ("0% 0% 100% 100%", Roi(pc(0), pc(0), pc(100), pc(100))),
        ("0 0 100% 100%", Roi(px(0), px(0), pc(100), pc(100))),  # S13's default: bare numbers are px
        ("10px 20px 300px 400px", Roi(px(10), px(20), px(300), px(400))),
        ("10PX 20Px 30.5px 40.25", Roi(px(10), px(20), px(30.5), px(40.25))),
        ("  1.5%   .5%\t99.%  100% ", Roi(pc(1.5), pc(0.5), pc(99), pc(100))),
        ("50% 50% 10px 10px", Roi(pc(50), pc(50), px(10), px(10))),  # mixed units: left to the pipeline
    ],
)
def test_roi(text: str, roi: Roi) -> None:
    assert parse(roi=text).roi == roi


@pytest.mark.parametrize(
    "text",
    [
        "0 0 100",
        "0 0 100 100 100",
        "a b c d",
        "-1 0 10 10",
        "0 0 10em 10",
        "0,0,10,10",
        "1e3 0 2e3 10",
        "10 % 0 20 20",
        "0 0 10%% 10",
        "0 0 ١٠ 10",
        "0 0 inf 10",
        "0 0 nan 10",
        "0 0 " + "9" * 400 + " 10",
        "0 0 10px% 10",
        5,
        True,
        {"x1": 0},
    ],
)
def test_roi_invalid(text: object) -> None:
    assert err(roi=text) == "invalid_roi"


@pytest.mark.parametrize(
    "text", ["10 0 10 10", "20 0 10 10", "0 10 10 10", "50% 0% 50% 100%", "0% 60% 100% 40%"]
)
def test_roi_region_empty(text: str) -> None:
    assert err(roi=text) == "roi_region_empty"


@pytest.mark.parametrize("text", ["0% 0% 101% 100%", "0 0 100% 100.5%", "150% 0 200% 10"])
def test_roi_exceeds_bounds(text: str) -> None:
    assert err(roi=text) == "roi_exceeds_bounds"


# ---------------------------------------------------------------- crop_margin


@pytest.mark.parametrize(
    "text, margin",
    [
        ("0", Margin(px(0), px(0), px(0), px(0))),
        ("10px", Margin(px(10), px(10), px(10), px(10))),
        ("10", Margin(px(10), px(10), px(10), px(10))),
        ("10%", Margin(pc(10), pc(10), pc(10), pc(10))),
        ("10px 20%", Margin(px(10), pc(20), px(10), pc(20))),
        ("1 2 3 4", Margin(px(1), px(2), px(3), px(4))),
        ("500px 50% 0.5% 499.9", Margin(px(500), pc(50), pc(0.5), px(499.9))),
        (30, Margin(px(30), px(30), px(30), px(30))),
    ],
)
def test_crop_margin(text: object, margin: Margin) -> None:
    assert parse(crop="true", crop_margin=text).crop_margin == margin


@pytest.mark.parametrize(
    "text",
    [
        "501px",
        "501",
        "50.1%",
        "1 2 3",
        "1 2 3 4 5",
        "10em",
        "-5px",
        "ten",
        "10px,20px",
        "100%",
        600,
        True,
        {"top": 1},
    ],
)
def test_crop_margin_invalid(text: object) -> None:
    assert err(crop_margin=text) == "invalid_crop_margin"


# ---------------------------------------------------------------- scale and position


@pytest.mark.parametrize(
    "text, scale", [("original", None), ("ORIGINAL", None), ("10%", 0.10), ("100%", 1.0), ("55.5%", 0.555)]
)
def test_scale(text: str, scale: float | None) -> None:
    got = parse(scale=text).scale
    assert got is None if scale is None else got == pytest.approx(scale)


@pytest.mark.parametrize(
    "text", ["9%", "9.99%", "101%", "50", "0.5", "50 %", "50%%", "-10%", "half", 50, True]
)
def test_scale_invalid(text: object) -> None:
    assert err(scale=text) == "invalid_scale"


@pytest.mark.parametrize(
    "text, position",
    [
        ("original", None),
        ("Original", None),
        ("center", (50.0, 50.0)),
        ("CENTER", (50.0, 50.0)),
        ("0%", (0.0, 0.0)),
        ("100%", (100.0, 100.0)),
        ("25%", (25.0, 25.0)),
        ("10% 90%", (10.0, 90.0)),
        ("12.5%  0%", (12.5, 0.0)),
    ],
)
def test_position(text: str, position: tuple[float, float] | None) -> None:
    assert parse(position=text).position == position


@pytest.mark.parametrize(
    "text", ["101%", "50", "50px", "10% 20% 30%", "left", "-1%", "center 10%", "50%,50%", 50, False]
)
def test_position_invalid(text: object) -> None:
    assert err(position=text) == "invalid_position"


def test_scale_moves_position_to_center_unless_given() -> None:
    assert parse(scale="50%").position == (50.0, 50.0)
    assert parse(scale="50%", position="").position == (50.0, 50.0)
    assert parse(scale="50%", position="original").position is None
    assert parse(scale="50%", position="0% 100%").position == (0.0, 100.0)
    assert parse(scale="original").position is None  # scale=original is no scale (S13 sends it by default)


# ---------------------------------------------------------------- shadows


def kinds(**fields: object) -> dict[str, str]:
    return dict(parse(**fields).shadow.kinds)


def opacities(**fields: object) -> dict[str, int]:
    return dict(parse(**fields).shadow.opacity)


NONE: dict[str, ShadowKind] = {t: "none" for t in SHADOW_TYPES}


@pytest.mark.parametrize(
    "value, kind",
    [("car", "car"), ("3D", "3D"), ("3d", "3D"), ("drop", "drop"), ("DROP", "drop"), ("none", "none")],
)
def test_shadow_type_single_applies_to_all(value: str, kind: str) -> None:
    assert kinds(shadow_type=value) == {t: kind for t in SHADOW_TYPES}


def test_shadow_type_auto_is_per_type_defaults() -> None:
    assert kinds(shadow_type="auto") == kinds(shadow_type="AUTO") == AUTO_SHADOW
    assert AUTO_SHADOW == {
        "car": "car",
        "product": "drop",
        "person": "3D",
        "animal": "drop",
        "transportation": "3D",
        "graphic": "drop",
        "other": "drop",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"shadow_type": {"car": "car", "person": "3d", "product": "auto"}},
        {"shadow_type[car]": "car", "shadow_type[person]": "3D", "shadow_type[product]": "Auto"},
        {"shadow_type": {"car": "car"}, "shadow_type[person]": "3D", "shadow_type[Product]": "auto"},
        {
            "shadow_type": {"CAR": "car", "person": "3D", "product": "auto", "animal": ""},
            "shadow_type[other]": None,
        },
    ],
)
def test_shadow_type_per_type_nested_and_flat(fields: dict[str, object]) -> None:
    assert kinds(**fields) == {**NONE, "car": "car", "person": "3D", "product": "drop"}


def test_shadow_type_single_then_map_overrides() -> None:
    assert kinds(shadow_type="drop", **{"shadow_type[car]": "none"}) == {
        **{t: "drop" for t in SHADOW_TYPES},
        "car": "none",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"shadow_type": "soft"},
        {"shadow_type": "2D"},
        {"shadow_type": 3},
        {"shadow_type": True},
        {"shadow_type": ["car"]},
        {"shadow_type": {"car": "soft"}},
        {"shadow_type": {"bicycle": "car"}},
        {"shadow_type": {"car": {"x": "car"}}},
        {"shadow_type": {"car": 1}},
        {"shadow_type[car]": "soft"},
        {"shadow_type[boat]": "car"},
        {"shadow_type[]": "car"},
        {"shadow_type[graphics]": "drop"},
    ],
)
def test_shadow_type_invalid(fields: dict[str, object]) -> None:
    assert err(**fields) == "invalid_shadow_type"


def test_add_shadow_deprecated_means_car_shadow() -> None:
    assert kinds(add_shadow="true") == {**NONE, "car": "car"}
    assert kinds(add_shadow=True) == {**NONE, "car": "car"}
    assert kinds(add_shadow="false") == NONE
    assert kinds(add_shadow="true", shadow_type="drop") == {t: "drop" for t in SHADOW_TYPES}
    assert kinds(add_shadow="true", shadow_type="none") == NONE
    assert kinds(add_shadow="true", **{"shadow_type[person]": "3D"}) == {**NONE, "person": "3D"}
    assert err(add_shadow="maybe", shadow_type="car") == "invalid_add_shadow"


@pytest.mark.parametrize(
    "value, want", [("0", 0), ("100", 100), ("42", 42), (" 7 ", 7), (60, 60), (60.0, 60), (b"5", 5)]
)
def test_shadow_opacity_single(value: object, want: int) -> None:
    assert opacities(shadow_opacity=value) == {t: want for t in SHADOW_TYPES}


def test_shadow_opacity_auto_and_maps() -> None:
    assert opacities(shadow_opacity="auto") == opacities(shadow_opacity="AUTO") == DEFAULT_SHADOW_OPACITY
    want = {**DEFAULT_SHADOW_OPACITY, "person": 70, "car": 20}
    assert opacities(shadow_opacity={"person": "70", "car": 20}) == want
    assert opacities(**{"shadow_opacity[person]": "70", "shadow_opacity[car]": 20}) == want
    assert (
        opacities(shadow_opacity={"person": 70}, **{"shadow_opacity[CAR]": "20", "shadow_opacity[other]": ""})
        == want
    )
    assert opacities(**{"shadow_opacity[car]": "auto"}) == DEFAULT_SHADOW_OPACITY
    assert opacities(shadow_opacity="10", **{"shadow_opacity[car]": "auto"}) == {
        **{t: 10 for t in SHADOW_TYPES},
        "car": 90,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"shadow_opacity": "101"},
        {"shadow_opacity": "-1"},
        {"shadow_opacity": "50.5"},
        {"shadow_opacity": 50.5},
        {"shadow_opacity": "50%"},
        {"shadow_opacity": "1000"},
        {"shadow_opacity": "0100"},
        {"shadow_opacity": "half"},
        {"shadow_opacity": True},
        {"shadow_opacity": 101},
        {"shadow_opacity": float("nan")},
        {"shadow_opacity": "٥"},
        {"shadow_opacity": {"car": "101"}},
        {"shadow_opacity": {"truck": "10"}},
        {"shadow_opacity[car]": "x"},
        {"shadow_opacity[plane]": "10"},
    ],
)
def test_shadow_opacity_invalid(fields: dict[str, object]) -> None:
    assert err(**fields) == "invalid_shadow_opacity"


# ---------------------------------------------------------------- JSON body and result object


def test_json_body_types() -> None:
    o = parse_options(
        {
            "image_file_b64": "data:image/png;base64," + base64.b64encode(IMG).decode(),
            "size": "4K",
            "type": "Car",
            "type_level": 2,
            "format": "WEBP",
            "roi": "0 0 50% 50%",
            "crop": True,
            "crop_margin": "10px 5%",
            "scale": "80%",
            "channels": "alpha",
            "shadow_type": {"car": "car"},
            "shadow_opacity": {"car": 75},
            "semitransparency": False,
            "bg_color": "#00ff0080",
            "quality": "best",
        }
    )
    assert o == Options(
        image=IMG,
        size="full",
        type="car",
        type_level="2",
        format="webp",
        roi=Roi(px(0), px(0), pc(50), pc(50)),
        crop=True,
        crop_margin=Margin(px(10), pc(5), px(10), pc(5)),
        scale=0.8,
        position=(50.0, 50.0),
        channels="alpha",
        bg_color=(0, 255, 0, 128),
        quality="best",
        shadow=Shadow({**NONE, "car": "car"}, {**DEFAULT_SHADOW_OPACITY, "car": 75}),
        semitransparency=False,
    )


def test_options_immutable_hashable_picklable() -> None:
    o = parse(shadow_type="auto", roi="0 0 10 10", bg_color="red")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.size = "full"  # type: ignore[misc]
    with pytest.raises(TypeError):
        o.shadow.kinds["car"] = "none"  # type: ignore[index]
    assert hash(o) == hash(parse(shadow_type="auto", roi="0 0 10 10", bg_color="red"))
    assert pickle.loads(pickle.dumps(o)) == o
    assert {o: 1}[parse(shadow_type="AUTO", roi="0px 0 10 10px", bg_color="#ff0000")] == 1
    # A Shadow built from plain dicts is frozen too, and equal to the parsed one.
    s = Shadow(dict(AUTO_SHADOW), dict(DEFAULT_SHADOW_OPACITY))
    assert s == o.shadow and hash(s) == hash(o.shadow)
    with pytest.raises(TypeError):
        s.opacity["car"] = 1  # type: ignore[index]


def test_does_not_mutate_input_or_globals() -> None:
    fields: dict[str, object] = {"image_file": IMG, "shadow_type": {"car": "auto"}, "shadow_opacity": "5"}
    before = repr(fields)
    parse_options(fields)
    assert repr(fields) == before
    assert AUTO_SHADOW["car"] == "car" and DEFAULT_SHADOW_OPACITY["car"] == 90


def test_errors_carry_catalogue_title_and_detail() -> None:
    with pytest.raises(ApiError) as info:
        parse(size="huge")
    assert info.value.title == "Invalid value for parameter 'size'"
    assert "huge" in (info.value.detail or "") and "preview" in (info.value.detail or "")
    assert info.value.body()["errors"][0]["code"] == "invalid_size"


def test_huge_json_numbers() -> None:
    assert err(size=10**5000) == "invalid_size"
    assert err(crop_margin=10**5000) == "invalid_crop_margin"
    assert err(shadow_opacity=1e308) == "invalid_shadow_opacity"


def test_error_detail_is_short_ascii() -> None:
    with pytest.raises(ApiError) as info:
        parse(size="\ud800é" + "x" * 500)
    detail = info.value.detail or ""
    assert detail.isascii() and len(detail) < 200
