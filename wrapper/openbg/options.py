"""The one parameter list of ``POST /removebg``: :class:`RemovalOptions`.

Everything that spells the request's options uses this type: the keyword arguments of the sync and
async ``remove_background`` (derived from its ``__init__``, see :func:`keywords_of`), the ``openbg remove``
command line, and the emulator's local runner (``openbg remove --local``). Its value types are the
generated client's ``Literal`` aliases (made from ``openapi.yaml``'s enums), so a value added to the spec
and regenerated (``./codegen.sh``) is accepted here, by mypy and by the CLI's choices, with no hand edit.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

from removebg_api.models import channels as _gen_channels
from removebg_api.models import format_ as _gen_format
from removebg_api.models import quality as _gen_quality
from removebg_api.models import shadow_opacity_auto as _gen_shadow_opacity_auto
from removebg_api.models import shadow_type as _gen_shadow_type
from removebg_api.models import size as _gen_size
from removebg_api.models import subject_type as _gen_subject_type
from removebg_api.models import type_level as _gen_type_level

from ._inputs import BgImageInput, ImageInput

__all__ = [
    "Channels",
    "Format",
    "Quality",
    "RemovalOptions",
    "ShadowOpacity",
    "ShadowType",
    "Size",
    "SubjectType",
    "TypeLevel",
]

#: Output size tier (``small``/``regular`` are aliases of ``preview``, ``4k`` of ``full``).
Size: TypeAlias = _gen_size.Size
#: Foreground type hint.
SubjectType: TypeAlias = _gen_subject_type.SubjectType
#: Granularity of the detected class reported as ``Result.type`` (``none``: not reported).
TypeLevel: TypeAlias = _gen_type_level.TypeLevel
#: Result format (``zip`` = ``color.jpg`` + ``alpha.png``).
Format: TypeAlias = _gen_format.Format
#: ``rgba`` (cut-out) or ``alpha`` (the matte only).
Channels: TypeAlias = _gen_channels.Channels
#: Shadow kind; a mapping ``{detected type: kind}`` sets types individually.
ShadowType: TypeAlias = _gen_shadow_type.ShadowType
#: Shadow opacity 0–100 or ``"auto"``; a mapping ``{detected type: opacity}`` sets types individually.
ShadowOpacity: TypeAlias = int | _gen_shadow_opacity_auto.ShadowOpacityAuto
#: Emulator extension: speed/quality trade-off of the matting (ignored by remove.bg).
Quality: TypeAlias = _gen_quality.Quality

#: ``format`` values a ZIP result can stand in for (``prefer_zip``).
_ZIP_FORMATS = ("auto", "png", "zip")


def _bool(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True, kw_only=True)
class RemovalOptions:
    """The options of one background removal (everything but the image), remove.bg's defaults.

    Attributes:
        size: output size tier; remove.bg's default ``preview`` (0.25 MP, 0.25 credits).
        type: foreground type hint.
        type_level: class granularity of ``Result.type``.
        format: result format; ``auto`` gives PNG if the result has transparency, else JPG.
        roi: region of interest ``"x1 y1 x2 y2"`` (``px`` or ``%`` each); default the whole image.
        crop: crop off empty regions.
        crop_margin: margin added when cropping (``"10px"``, ``"5% 10%"``, four values).
        scale: subject scale ``"10%"``..``"100%"`` (an int means percent) or ``"original"``.
        position: ``"original"``, ``"center"`` or ``"X% Y%"`` (defaults to center when scaling).
        channels: ``rgba`` or ``alpha`` (the matte only).
        add_shadow: deprecated remove.bg flag (a car shadow for cars).
        shadow_type: shadow kind, or ``{type: kind}`` for the per-type form.
        shadow_opacity: 0–100 or ``"auto"``, or ``{type: opacity}``.
        semitransparency: keep semi-transparent regions (car windows).
        bg_color: background colour: hex (``"81d4fa"``, ``"81d4fa77"``) or a colour name.
        bg_image: background image: a path, bytes, a file object, a PIL image or an ``http(s)`` URL
            (sent as a file part or as ``bg_image_url``, not by :meth:`to_fields`).
        quality: emulator extension (``fast``/``balanced``/``best``); omit for remove.bg.
        prefer_zip: ask for ``format=zip`` (smaller, faster, above 10 MP) and compose the PNG
            locally; the result's ``content`` is then that PNG (``zip_content`` keeps the ZIP).
            Needs ``format`` ``auto``, ``png`` or ``zip`` (``ValueError`` otherwise).
        extra_fields: more form fields sent as they are (an API option this client has no keyword
            for yet); a name given here replaces the keyword's value.
    """

    size: Size = "preview"
    type: SubjectType = "auto"
    type_level: TypeLevel = "1"
    format: Format = "auto"
    roi: str | None = None
    crop: bool = False
    crop_margin: str | None = None
    scale: str | int | None = None
    position: str | None = None
    channels: Channels = "rgba"
    add_shadow: bool = False
    shadow_type: ShadowType | Mapping[str, ShadowType] | None = None
    shadow_opacity: ShadowOpacity | Mapping[str, ShadowOpacity] | None = None
    semitransparency: bool = True
    bg_color: str | None = None
    bg_image: BgImageInput | None = None
    quality: Quality | None = None
    prefer_zip: bool = False
    extra_fields: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.prefer_zip and self.format not in _ZIP_FORMATS:
            raise ValueError("prefer_zip=True needs format 'auto', 'png' or 'zip'")

    def to_fields(self) -> dict[str, str]:
        """The request's text fields as remove.bg expects them in a form (spec §5).

        ``prefer_zip`` asks for ``format=zip``; ``extra_fields`` come last and win; ``bg_image`` is not a
        text field (the client sends it as a file part or ``bg_image_url``).
        """
        f: dict[str, str] = {
            "size": self.size,
            "type": self.type,
            "type_level": str(self.type_level),
            "format": "zip" if self.prefer_zip else self.format,
            "channels": self.channels,
            "crop": _bool(self.crop),
            "semitransparency": _bool(self.semitransparency),
        }
        for name in ("roi", "crop_margin", "position", "bg_color", "quality"):
            value = getattr(self, name)
            if value is not None:
                f[name] = value
        if self.scale is not None:
            f["scale"] = f"{self.scale}%" if isinstance(self.scale, int) else self.scale
        if self.add_shadow:
            f["add_shadow"] = "true"
        for name, value in (("shadow_type", self.shadow_type), ("shadow_opacity", self.shadow_opacity)):
            if isinstance(value, Mapping):
                f.update((f"{name}[{kind}]", str(v)) for kind, v in value.items())
            elif value is not None:
                f[name] = str(value)
        f.update(self.extra_fields or {})
        return f


_P = ParamSpec("_P")
_C = TypeVar("_C")
_R = TypeVar("_R")


def keywords_of(
    options: Callable[_P, RemovalOptions],
) -> Callable[[Callable[[_C, ImageInput, RemovalOptions], _R]], Callable[Concatenate[_C, ImageInput, _P], _R]]:
    """Give a method ``f(self, image, options)`` the public form ``f(self, image, **keywords)``, whose
    keywords are ``options``'s own (``RemovalOptions.__init__``): type checkers and ``help()`` show each
    keyword with its type and default, and the list stays spelled once, in :class:`RemovalOptions`.
    A coroutine method stays a coroutine function."""

    def decorate(method: Callable[[_C, ImageInput, RemovalOptions], _R]) -> Callable[Concatenate[_C, ImageInput, _P], _R]:
        async def call_async(self: _C, image: ImageInput, /, *args: _P.args, **kwargs: _P.kwargs) -> Any:
            return await coroutine(self, image, options(*args, **kwargs))

        def call_sync(self: _C, image: ImageInput, /, *args: _P.args, **kwargs: _P.kwargs) -> Any:
            return method(self, image, options(*args, **kwargs))

        coroutine: Callable[..., Coroutine[Any, Any, Any]] = method  # type: ignore[assignment]
        wrapper: Callable[..., Any] = call_async if inspect.iscoroutinefunction(method) else call_sync
        functools.update_wrapper(wrapper, method)
        delattr(wrapper, "__wrapped__")  # help() and inspect show the keywords below, not (self, image, options)
        head = list(inspect.signature(method).parameters.values())[:2]
        keywords = list(inspect.signature(options).parameters.values())
        ret = inspect.signature(method).return_annotation
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*(p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) for p in head), *keywords], return_annotation=ret
        )
        return wrapper

    return decorate
