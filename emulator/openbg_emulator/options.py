"""Request parameters → one typed, immutable :class:`Options` (pure; no I/O).

``parse_options(fields)`` takes the request's fields, already taken out of whatever
encoding carried them (multipart, urlencoded or JSON), and returns :class:`Options`
or raises :class:`~openbg_emulator.errors.ApiError` with the remove.bg code.

Field values arrive as ``str`` (forms), ``bool``/``int``/``float``/``str`` (JSON),
``bytes`` (file parts ``image_file`` / ``bg_image_file``), or a ``dict`` for the
per-type shadow forms (``shadow_type[car]=car`` in forms is gathered by the service
into ``{"shadow_type": {"car": "car"}}``; JSON sends the object directly).
Empty strings, empty file parts and unknown fields mean "absent".
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar, get_args
from urllib.parse import urlsplit

from PIL import ImageColor

from openbg_emulator.errors import ApiError

Size = Literal["preview", "medium", "hd", "full", "50MP", "auto"]  # aliases small/regular→preview, 4k→full
SubjectType = Literal["auto", "person", "product", "car", "animal", "graphic", "transportation"]
TypeLevel = Literal["none", "1", "2"]  # "latest" → "2"
Format = Literal["auto", "png", "jpg", "zip", "webp"]
Channels = Literal["rgba", "alpha"]
ShadowKind = Literal["car", "3D", "drop", "none"]
Quality = Literal["fast", "balanced", "best"]
Unit = Literal["px", "%"]

# Detected classes (X-Type). Level 1 ⊂ level 2.
LEVEL1_TYPES = ("person", "product", "animal", "car", "other")
LEVEL2_TYPES = ("person", "product", "animal", "car", "car_interior", "car_part", "transportation", "graphics", "other")
# The keys of the per-type shadow maps (the `type` names of the request plus "other").
SHADOW_TYPES = ("car", "product", "person", "animal", "transportation", "graphic", "other")
AUTO_SHADOW: dict[str, ShadowKind] = {
    "car": "car", "product": "drop", "person": "3D", "animal": "drop",
    "transportation": "3D", "graphic": "drop", "other": "drop",
}
DEFAULT_SHADOW_OPACITY: dict[str, int] = {t: (90 if t == "car" else 50) for t in SHADOW_TYPES}


K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable and picklable mapping (equal to a ``dict`` with the same items)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


@dataclass(frozen=True)
class Length:
    """A length with its unit: ``px`` (absolute) or ``%`` (relative to a reference size)."""

    value: float
    unit: Unit


@dataclass(frozen=True)
class Roi:
    """``roi="x1 y1 x2 y2"``; percentages are of the input width (x) / height (y)."""

    x1: Length
    y1: Length
    x2: Length
    y2: Length


@dataclass(frozen=True)
class Margin:
    """``crop_margin`` as four sides; percentages are of the subject's size."""

    top: Length = Length(0, "px")
    right: Length = Length(0, "px")
    bottom: Length = Length(0, "px")
    left: Length = Length(0, "px")


@dataclass(frozen=True)
class Shadow:
    """Resolved shadow request: which shadow each detected type gets, and its opacity (0–100).

    ``kinds`` maps every key of :data:`SHADOW_TYPES` to a kind; "none" everywhere means no shadow.
    """

    kinds: Mapping[str, ShadowKind] = field(default_factory=lambda: FrozenMap((t, "none") for t in SHADOW_TYPES))
    opacity: Mapping[str, int] = field(default_factory=lambda: FrozenMap(DEFAULT_SHADOW_OPACITY))

    def __post_init__(self) -> None:  # freeze mappings passed in as dicts
        object.__setattr__(self, "kinds", FrozenMap(self.kinds))
        object.__setattr__(self, "opacity", FrozenMap(self.opacity))


@dataclass(frozen=True)
class Options:
    """Everything a /removebg request asks for, validated. Defaults are remove.bg's."""

    # Sources: exactly one image source; at most one background source.
    image: bytes | None = None  # from image_file, or image_file_b64 decoded
    image_url: str | None = None
    bg_image: bytes | None = None  # from bg_image_file
    bg_image_url: str | None = None
    bg_color: tuple[int, int, int, int] | None = None  # RGBA 0–255

    size: Size = "preview"
    type: SubjectType = "auto"
    type_level: TypeLevel = "1"
    format: Format = "auto"
    roi: Roi | None = None  # None = whole image
    crop: bool = False
    crop_margin: Margin = Margin()
    scale: float | None = None  # fraction 0.10–1.00; None = original
    position: tuple[float, float] | None = None  # percentages (x, y) 0–100; None = original
    channels: Channels = "rgba"
    shadow: Shadow = Shadow()
    semitransparency: bool = True
    quality: Quality | None = None  # openbg extension; None = server default


# --------------------------------------------------------------------------------------------------
# Parsing. Decisions where the spec leaves room (documented here, tested in tests/engine/test_options.py):
# * Absent = missing key, ``None``, a string that is empty or only whitespace, empty bytes or an empty
#   dict/list. Text values are stripped. Unknown fields (``api_key``, ``shadow_method``, ...) are ignored.
# * Text fields also take JSON numbers (``type_level: 2``, ``crop_margin: 10``) through their decimal text,
#   and ``bytes`` (a field sent as a file part) when it is UTF-8. Any other type is the field's error code.
# * Booleans: JSON ``true``/``false``, JSON ``0``/``1``, or (any case) true/false, 1/0, yes/no, on/off,
#   t/f, y/n (HTML checkboxes send "on").
# * ``shadow_opacity``: a whole number 0–100 (digits, a JSON integer, or a JSON float with no fraction);
#   ``50.5`` is ``invalid_shadow_opacity``.
# * A single ``shadow_type`` / ``shadow_opacity`` value and a per-type map may come together: the single
#   value sets every type, the map then overrides the types it names.
# * ``scale=original`` counts as no scale, so it does not move ``position`` to center.
# * ``roi_region_empty`` is decided here only for coordinate pairs in the same unit; mixed px/% pairs and
#   px bounds need the image size and are checked by the pipeline.
# * ``image_file_b64``: an optional ``data:<type>;base64,`` prefix, whitespace anywhere, missing padding and
#   the URL-safe alphabet are accepted; anything undecodable is ``failed_to_read_image``.
# --------------------------------------------------------------------------------------------------

T = TypeVar("T")

# One table per enum: accepted spelling (lower case) → canonical value.
_SIZES: dict[str, Size] = {
    "preview": "preview", "small": "preview", "regular": "preview", "medium": "medium", "hd": "hd",
    "full": "full", "4k": "full", "50mp": "50MP", "auto": "auto",
}
_TYPES: dict[str, SubjectType] = {t: t for t in get_args(SubjectType)}
_TYPE_LEVELS: dict[str, TypeLevel] = {"none": "none", "1": "1", "2": "2", "latest": "2"}
_FORMATS: dict[str, Format] = {"auto": "auto", "png": "png", "jpg": "jpg", "jpeg": "jpg", "zip": "zip", "webp": "webp"}
_CHANNELS: dict[str, Channels] = {"rgba": "rgba", "alpha": "alpha"}
_QUALITIES: dict[str, Quality] = {q: q for q in get_args(Quality)}
_SHADOW_KINDS: dict[str, ShadowKind | None] = {"car": "car", "3d": "3D", "drop": "drop", "none": "none", "auto": None}
_BOOLEANS: dict[str, bool] = {
    "true": True, "1": True, "yes": True, "on": True, "t": True, "y": True,
    "false": False, "0": False, "no": False, "off": False, "f": False, "n": False,
}

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_LENGTH_RE = re.compile(rf"({_NUMBER})(px|%)?", re.ASCII | re.IGNORECASE)
_PERCENT_RE = re.compile(rf"({_NUMBER})%", re.ASCII)
_HEX_RE = re.compile(r"#?([0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})", re.ASCII | re.IGNORECASE)
_DATA_URI_RE = re.compile(r"data:[^,]*;base64,", re.IGNORECASE)
_PER_TYPE_RE = re.compile(r"(shadow_type|shadow_opacity)\[([^\]]*)\]")


def _show(value: object) -> str:
    """A short, ASCII-only rendering of a client's value for an error detail."""
    text = ascii(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(code: str, detail: str) -> ApiError:
    return ApiError(code, detail=detail)


def is_absent(value: object) -> bool:
    """A field's value that counts as not given (see the rules above)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (bytes, bytearray, dict, list, tuple)):
        return len(value) == 0
    return False


def _get(fields: Mapping[str, object], name: str) -> object | None:
    value = fields.get(name)
    return None if is_absent(value) else value


def _text(value: object, code: str, name: str) -> str:
    """A field's value as stripped text; numbers by their decimal form, bytes as UTF-8."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8").strip()
        except UnicodeDecodeError:
            raise _bad(code, f"{name} is not UTF-8 text") from None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**100:
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise _bad(code, f"{name} must be a string, got {type(value).__name__}")


def _choice(value: object, table: Mapping[str, T], code: str, name: str) -> T:
    text = _text(value, code, name)
    try:
        return table[text.lower()]
    except KeyError:
        allowed = ", ".join(table)
        raise _bad(code, f"Unsupported {name} {_show(text)}; expected one of: {allowed}") from None


def _bool(value: object, code: str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return _choice(value, _BOOLEANS, code, name)


def _file(value: object, name: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):  # a multipart part sent without a filename arrives as text
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            pass
    raise _bad("failed_to_read_image", f"{name} must be an uploaded file, got {type(value).__name__}")


def _base64(value: object) -> bytes:
    text = _text(value, "failed_to_read_image", "image_file_b64")
    data_uri = _DATA_URI_RE.match(text)
    if data_uri:
        text = text[data_uri.end():]
    text = "".join(text.split()).translate(str.maketrans("-_", "+/"))
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raise _bad("failed_to_read_image", "image_file_b64 is not valid base64") from None
    if not data:
        raise _bad("failed_to_read_image", "image_file_b64 holds no base64 data")
    return data


def _url(value: object, code: str, name: str) -> str:
    text = _text(value, code, name)
    problem = f"{name} must be an absolute http or https URL, got {_show(text)}"
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise _bad(code, problem)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise _bad(code, problem) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _bad(code, problem)
    return text


def _number(text: str, code: str, name: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _bad(code, f"{name} value {_show(text)} is too large")
    return number


def _length(token: str, code: str, name: str) -> Length:
    match = _LENGTH_RE.fullmatch(token)
    if not match:
        raise _bad(code, f"{name}: {_show(token)} is not a length like 10px, 10% or 10")
    unit: Unit = "%" if match.group(2) == "%" else "px"
    return Length(_number(match.group(1), code, name), unit)


def _percent(token: str, code: str, name: str, low: float, high: float) -> float:
    match = _PERCENT_RE.fullmatch(token)
    value = _number(match.group(1), code, name) if match else None
    if value is None or not low <= value <= high:
        raise _bad(code, f"{name}: {_show(token)} is not a percentage from {low:g}% to {high:g}%")
    return value


def _roi(value: object) -> Roi:
    tokens = _text(value, "invalid_roi", "roi").split()
    if len(tokens) != 4:
        raise _bad("invalid_roi", 'roi must be four coordinates "x1 y1 x2 y2"')
    x1, y1, x2, y2 = (_length(t, "invalid_roi", "roi") for t in tokens)
    if any(c.unit == "%" and c.value > 100 for c in (x1, y1, x2, y2)):
        raise _bad("roi_exceeds_bounds", "A roi percentage is above 100%")
    if (x1.unit == x2.unit and x2.value <= x1.value) or (y1.unit == y2.unit and y2.value <= y1.value):
        raise ApiError("roi_region_empty")
    return Roi(x1, y1, x2, y2)


def _crop_margin(value: object) -> Margin:
    code = "invalid_crop_margin"
    tokens = _text(value, code, "crop_margin").split()
    sides = [_length(t, code, "crop_margin") for t in tokens]
    for side in sides:
        if side.value > (50 if side.unit == "%" else 500):
            raise _bad(code, "A crop_margin side may add at most 50% or 500px")
    if len(sides) == 1:
        return Margin(sides[0], sides[0], sides[0], sides[0])
    if len(sides) == 2:
        return Margin(sides[0], sides[1], sides[0], sides[1])
    if len(sides) == 4:
        return Margin(*sides)
    raise _bad(code, "crop_margin takes 1, 2 or 4 values")


def _scale(value: object) -> float | None:
    text = _text(value, "invalid_scale", "scale")
    if text.lower() == "original":
        return None
    return _percent(text, "invalid_scale", "scale", 10, 100) / 100


def _position(value: object) -> tuple[float, float] | None:
    text = _text(value, "invalid_position", "position")
    if text.lower() == "original":
        return None
    if text.lower() == "center":
        return (50.0, 50.0)
    values = [_percent(t, "invalid_position", "position", 0, 100) for t in text.split()]
    if len(values) == 1:
        return (values[0], values[0])
    if len(values) == 2:
        return (values[0], values[1])
    raise _bad("invalid_position", "position takes one or two percentages")


def _bg_color(value: object) -> tuple[int, int, int, int]:
    text = _text(value, "invalid_bg_color", "bg_color")
    match = _HEX_RE.fullmatch(text)
    if match:
        digits = match.group(1)
        if len(digits) <= 4:
            digits = "".join(d * 2 for d in digits)
        digits = digits.ljust(8, "f")
        r, g, b, a = (int(digits[i:i + 2], 16) for i in range(0, 8, 2))
        return (r, g, b, a)
    if text.lower() in ImageColor.colormap:
        rgb = ImageColor.getrgb(text.lower())
        return (rgb[0], rgb[1], rgb[2], 255)
    raise _bad("invalid_bg_color", f"{_show(text)} is neither 3, 4, 6 or 8 hex digits nor a colour name")


def _opacity(value: object) -> int | None:
    """0–100, or None for "auto" (the type's default)."""
    code = "invalid_shadow_opacity"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _text(value, code, "shadow_opacity")
    if text.lower() == "auto":
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= 100):
        raise _bad(code, f"shadow_opacity must be a whole number from 0 to 100 or auto, got {_show(text)}")
    return int(text)


def _per_type(fields: Mapping[str, object], name: str, code: str) -> tuple[object | None, dict[str, object]]:
    """The single value of ``name`` and its per-type entries, nested (``{name: {...}}``) or flat (``name[t]``)."""
    single = _get(fields, name)
    entries: list[tuple[object, object]] = []
    if isinstance(single, dict):
        entries.extend(single.items())
        single = None
    for field_name, field_value in fields.items():
        flat = _PER_TYPE_RE.fullmatch(field_name) if isinstance(field_name, str) else None
        if flat and flat.group(1) == name:
            entries.append((flat.group(2), field_value))
    per_type: dict[str, object] = {}
    for key, value in entries:
        if is_absent(value):
            continue
        subject = key.strip().lower() if isinstance(key, str) else ""
        if subject not in SHADOW_TYPES:
            raise _bad(code, f"Unknown type {_show(key)} in {name}; expected one of: {', '.join(SHADOW_TYPES)}")
        per_type[subject] = value
    return single, per_type


def _shadow(fields: Mapping[str, object]) -> Shadow:
    code = "invalid_shadow_type"
    add_shadow = _get(fields, "add_shadow")
    legacy = add_shadow is not None and _bool(add_shadow, "invalid_add_shadow", "add_shadow")

    def kind(subject: str, value: object) -> ShadowKind:
        chosen = _choice(value, _SHADOW_KINDS, code, "shadow_type")
        return AUTO_SHADOW[subject] if chosen is None else chosen

    single, per_type = _per_type(fields, "shadow_type", code)
    if single is not None:
        kinds = {t: kind(t, single) for t in SHADOW_TYPES}
    else:
        kinds = {t: "none" for t in SHADOW_TYPES}
        if legacy and not per_type:
            kinds["car"] = "car"  # add_shadow=true (deprecated) means shadow_type[car]=car
    kinds.update({t: kind(t, v) for t, v in per_type.items()})

    single, per_type = _per_type(fields, "shadow_opacity", "invalid_shadow_opacity")
    base = None if single is None else _opacity(single)
    opacity = {t: DEFAULT_SHADOW_OPACITY[t] if base is None else base for t in SHADOW_TYPES}
    for t, v in per_type.items():
        chosen = _opacity(v)
        opacity[t] = DEFAULT_SHADOW_OPACITY[t] if chosen is None else chosen
    return Shadow(FrozenMap(kinds), FrozenMap(opacity))


@dataclass(frozen=True)
class Source:
    """The request's one image source: the field that gave it, and its bytes (``image_file``, or
    ``image_file_b64`` decoded) or its URL (``image_url``, not fetched here)."""

    name: Literal["image_file", "image_file_b64", "image_url"]
    image: bytes | None = None
    url: str | None = None


def parse_image_source(fields: Mapping[str, object]) -> Source:
    """Exactly one of ``image_file``, ``image_file_b64`` and ``image_url`` (the rule of /removebg and
    /improve); raise ``ApiError`` missing_source, multiple_sources, failed_to_read_image or invalid_image_url."""
    image_file, image_b64, image_url = (_get(fields, n) for n in ("image_file", "image_file_b64", "image_url"))
    given = [v for v in (image_file, image_b64, image_url) if v is not None]
    if not given:
        raise ApiError("missing_source")
    if len(given) > 1:
        raise ApiError("multiple_sources")
    if image_file is not None:
        return Source("image_file", image=_file(image_file, "image_file"))
    if image_b64 is not None:
        return Source("image_file_b64", image=_base64(image_b64))
    return Source("image_url", url=_url(image_url, "invalid_image_url", "image_url"))


def parse_options(fields: Mapping[str, object]) -> Options:
    """Validate request fields into :class:`Options`; raise ``ApiError`` with the remove.bg code."""
    source = parse_image_source(fields)

    bg_file, bg_url, bg_color = (_get(fields, n) for n in ("bg_image_file", "bg_image_url", "bg_color"))
    if sum(v is not None for v in (bg_file, bg_url, bg_color)) > 1:
        raise ApiError("multiple_bg_sources")

    def opt(name: str, parse: Callable[[object], T]) -> T | None:
        value = _get(fields, name)
        return None if value is None else parse(value)

    def enum(name: str, table: Mapping[str, T], default: T) -> T:
        value = _get(fields, name)
        return default if value is None else _choice(value, table, f"invalid_{name}", name)

    def flag(name: str, default: bool) -> bool:
        value = _get(fields, name)
        return default if value is None else _bool(value, f"invalid_{name}", name)

    scale = opt("scale", _scale)
    position_value = _get(fields, "position")
    if position_value is not None:
        position = _position(position_value)
    else:
        position = None if scale is None else (50.0, 50.0)  # a scale moves the subject to the center
    return Options(
        image=source.image,
        image_url=source.url,
        bg_image=None if bg_file is None else _file(bg_file, "bg_image_file"),
        bg_image_url=opt("bg_image_url", lambda v: _url(v, "invalid_bg_image_url", "bg_image_url")),
        bg_color=None if bg_color is None else _bg_color(bg_color),
        size=enum("size", _SIZES, "preview"),
        type=enum("type", _TYPES, "auto"),
        type_level=enum("type_level", _TYPE_LEVELS, "1"),
        format=enum("format", _FORMATS, "auto"),
        roi=opt("roi", _roi),
        crop=flag("crop", False),
        crop_margin=opt("crop_margin", _crop_margin) or Margin(),
        scale=scale,
        position=position,
        channels=enum("channels", _CHANNELS, "rgba"),
        shadow=_shadow(fields),
        semitransparency=flag("semitransparency", True),
        quality=opt("quality", lambda v: _choice(v, _QUALITIES, "invalid_quality", "quality")),
    )
