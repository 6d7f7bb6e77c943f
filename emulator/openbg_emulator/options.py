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

from dataclasses import dataclass, field
from typing import Literal, Mapping

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

    kinds: Mapping[str, ShadowKind] = field(default_factory=lambda: {t: "none" for t in SHADOW_TYPES})
    opacity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SHADOW_OPACITY))


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


def parse_options(fields: Mapping[str, object]) -> Options:
    """Validate request fields into :class:`Options`; raise ``ApiError`` with the remove.bg code."""
    raise NotImplementedError  # implemented in the engine work
