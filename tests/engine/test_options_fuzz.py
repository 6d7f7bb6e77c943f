"""Fuzz parse_options: any request fields give Options or ApiError, never another exception."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st
from openbg_emulator.errors import CATALOGUE, ApiError
from openbg_emulator.options import SHADOW_TYPES, Options, parse_options

NAMES = [
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
    "unknown",
]
NAMES += [f"shadow_{kind}[{t}]" for kind in ("type", "opacity") for t in (*SHADOW_TYPES, "bogus", "")]

# Values close to valid ones, so the fuzzer reaches deep into each parser, plus arbitrary ones.
NEAR = st.sampled_from(
    [
        "",
        " ",
        "auto",
        "AUTO",
        "none",
        "original",
        "center",
        "true",
        "False",
        "1",
        "0",
        "2",
        "latest",
        "50MP",
        "3d",
        "car",
        "drop",
        "rgba",
        "png",
        "10%",
        "100%",
        "101%",
        "50% 50%",
        "0 0 10 10",
        "0 0 100% 100%",
        "10px 20%",
        "1 2 3 4",
        "fff",
        "#81d4fa77",
        "red",
        "http://x.test/a.png",
        "ftp://x",
        "http://[::1",
        "data:image/png;base64,aGk=",
        "aGk",
        "\ud800",
        "1e999",
        "9" * 500,
        "best",
    ]
)
SCALARS = st.one_of(
    NEAR,
    st.text(max_size=30),
    st.binary(max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
MAPS = st.dictionaries(
    st.one_of(st.sampled_from([*SHADOW_TYPES, "CAR", "x"]), st.text(max_size=8)), SCALARS, max_size=4
)
VALUES = st.one_of(SCALARS, MAPS, st.lists(SCALARS, max_size=3))
FIELDS = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES, max_size=12)


@settings(max_examples=1500, deadline=None)
@given(FIELDS)
def test_parse_options_total(fields: dict[str, object]) -> None:
    try:
        options = parse_options(fields)
    except ApiError as error:
        assert error.code in CATALOGUE and error.status == 400
        return
    assert isinstance(options, Options)
    assert (options.image is None) != (options.image_url is None)
    assert set(options.shadow.kinds) == set(options.shadow.opacity) == set(SHADOW_TYPES)
    assert all(0 <= v <= 100 for v in options.shadow.opacity.values())
    hash(options)
    assert pickle.loads(pickle.dumps(options)) == options


@settings(max_examples=500, deadline=None)
@given(FIELDS)
def test_parse_options_with_a_valid_source_only_fails_with_known_codes(fields: dict[str, object]) -> None:
    fields = {k: v for k, v in fields.items() if k not in ("image_file_b64", "image_url")}
    fields["image_file"] = b"image"
    try:
        options = parse_options(fields)
    except ApiError as error:
        assert error.code not in ("missing_source", "multiple_sources")
        return
    assert options.image == b"image"
