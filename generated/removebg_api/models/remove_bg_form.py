from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.channels import Channels, check_channels
from ..models.format_ import Format, check_format
from ..models.quality import Quality, check_quality
from ..models.shadow_opacity_auto import ShadowOpacityAuto, check_shadow_opacity_auto
from ..models.shadow_type import ShadowType, check_shadow_type
from ..models.size import Size, check_size
from ..models.subject_type import SubjectType, check_subject_type
from ..models.type_level import TypeLevel, check_type_level
from ..types import UNSET, Unset

T = TypeVar("T", bound="RemoveBgForm")


@_attrs_define
class RemoveBgForm:
    """`POST /removebg` as `application/x-www-form-urlencoded`."""

    image_file_b64: str | Unset = UNSET
    """ The image, base64-encoded (a `data:image/...;base64,` prefix and whitespace are
    tolerated). JPG, PNG or WebP; at most 22 MB and 50 megapixels.
     """
    image_url: str | Unset = UNSET
    """ An absolute `http`/`https` URL the server downloads the image from (22 MB at most,
    a few redirects). A malformed URL answers `invalid_image_url`, a failed download
    `failed_image_download`. Like every field, an empty (or blank) value counts as
    absent, which the pattern admits.
     """
    size: Size | Unset = UNSET
    """ Output resolution tier. Results are never upscaled; the aspect ratio is kept.
    * `preview` (aliases `small`, `regular`): up to 0.25 megapixels (e.g. 625×400); 0.25 credits.
    * `medium` (legacy): up to 1.5 megapixels; 1 credit.
    * `hd` (legacy): up to 4 megapixels; 1 credit.
    * `full` (alias `4k`): the input's resolution up to 25 megapixels; 1 credit.
    * `50MP`: the input's resolution up to 50 megapixels; 1 credit.
    * `auto`: the highest resolution available for the image and the account's credits,
      capped at 25 megapixels; charged for what it delivered (0.25 when the result fits the
      preview tier). With too few credits for a full-size result, a preview (a free call
      when one is left).
    PNG results are limited to 10 megapixels whatever the tier.
     """
    type_: SubjectType | Unset = UNSET
    """ Which kind of subject to keep. `auto` (recommended) detects it; the other values
    keep the matching subject when the image holds several and change nothing when it
    holds one.
     """
    type_level: TypeLevel | Unset = UNSET
    """ Granularity of the class reported in `X-Type`: `1` (person, product, animal, car,
    other), `2` (adds car_interior, car_part, transportation, graphics), `latest` (the
    newest class set, currently `2`) or `none` (no `X-Type` header).
     """
    format_: Format | Unset = UNSET
    """ File format of the result. `auto`: PNG when the result has transparent parts,
    otherwise JPG (never WebP). `png`: RGBA PNG (at most 10 megapixels). `jpg`: no
    alpha. `webp`: WebP with alpha. `zip`: an archive with `color.jpg` (colours,
    edge-corrected) and `alpha.png` (the matte), of equal size; the smallest and
    fastest way to get a transparent result.
     """
    roi: str | Unset = UNSET
    """ Region of interest `"x1 y1 x2 y2"` (top-left and bottom-right corners). Each
    coordinate is pixels (`px` suffix, or a bare number) or a percentage of the input's
    width (x) or height (y) (`%` suffix). Only this rectangle can be foreground.
    A rectangle outside the image answers `roi_exceeds_bounds`, an empty one
    `roi_region_empty`, bad syntax `invalid_roi`.
     """
    crop: bool | Unset = UNSET
    """ Crop the result to the subject (plus `crop_margin`). Costs the same. """
    crop_margin: str | Unset = UNSET
    """ Margin added around the cropped subject (only with `crop=true`): one value (all
    sides), two (top/bottom, left/right) or four (top, right, bottom, left). Each is
    pixels (`px` or a bare number) or a percentage of the subject's size (`%`). At most
    500 px or 50 % per side; larger values answer `invalid_crop_margin`.
     """
    scale: str | Unset = UNSET
    """ Size of the subject relative to the whole result, from `10%` to `100%`, or
    `original` (no rescaling; the default when absent). Giving a percentage changes
    the default of `position` to `center`.
     """
    position: str | Unset = UNSET
    """ Where to place the subject in the result: `original` (where it was), `center`, one
    percentage for both axes or two (horizontal, vertical), each `0%`–`100%`
    (`0% 0%` is top-left, `100% 100%` bottom-right). Default: `original`, or `center`
    when `scale` is given.
     """
    channels: Channels | Unset = UNSET
    """ `rgba`: the cut-out with corrected edge colours. `alpha`: the matte alone
    (grayscale, white = foreground).
     """
    add_shadow: bool | Unset = UNSET
    """ Deprecated (2024-06-03) in favour of `shadow_type`. `true` means
    `shadow_type[car]=car`: a car shadow, drawn only when the subject is (or is
    declared as) a car. `false` (the default when absent) changes nothing.
     """
    semitransparency: bool | Unset = UNSET
    """ Keep semi-transparent regions (glass, car windows) partly transparent; `false`
    makes the matte fully opaque or fully transparent.
     """
    bg_color: str | Unset = UNSET
    """ Solid background colour: hex `rgb`, `rgba`, `rrggbb` or `rrggbbaa` (an optional
    leading `#`; alpha for a semi-transparent background, e.g. `81d4fa77`), or a CSS
    colour name (`green`). Without any background field the background stays
    transparent.
     """
    bg_image_url: str | Unset = UNSET
    """ URL of a background image (absolute `http`/`https`), scaled to cover the result
    (centred, aspect kept) unless it already has the result's size. A malformed URL
    answers `invalid_bg_image_url`, a failed download `failed_bg_download`. An empty
    (or blank) value counts as absent.
     """
    quality: Quality | Unset = UNSET
    """ **openbg extension** (remove.bg ignores it as an unknown field). Trade speed for
    edge quality: `fast` (single pass, simple upsampling), `balanced` (the emulator's
    default, configurable with `OPENBG_QUALITY`), `best` (slower; matting on the whole
    uncertain band). Invalid values answer `invalid_quality`.
     """
    shadow_type: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_opacity: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_typecar: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_typeproduct: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_typeperson: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_typeanimal: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_typetransportation: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_typegraphic: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_typeother: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    shadow_opacitycar: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_opacityproduct: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_opacityperson: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_opacityanimal: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_opacitytransportation: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_opacitygraphic: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    shadow_opacityother: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        image_file_b64 = self.image_file_b64

        image_url = self.image_url

        size: str | Unset = UNSET
        if not isinstance(self.size, Unset):
            size = self.size

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_

        type_level: str | Unset = UNSET
        if not isinstance(self.type_level, Unset):
            type_level = self.type_level

        format_: str | Unset = UNSET
        if not isinstance(self.format_, Unset):
            format_ = self.format_

        roi = self.roi

        crop = self.crop

        crop_margin = self.crop_margin

        scale = self.scale

        position = self.position

        channels: str | Unset = UNSET
        if not isinstance(self.channels, Unset):
            channels = self.channels

        add_shadow = self.add_shadow

        semitransparency = self.semitransparency

        bg_color = self.bg_color

        bg_image_url = self.bg_image_url

        quality: str | Unset = UNSET
        if not isinstance(self.quality, Unset):
            quality = self.quality

        shadow_type: str | Unset = UNSET
        if not isinstance(self.shadow_type, Unset):
            shadow_type = self.shadow_type

        shadow_opacity: int | str | Unset
        if isinstance(self.shadow_opacity, Unset):
            shadow_opacity = UNSET
        elif isinstance(self.shadow_opacity, str):
            shadow_opacity = self.shadow_opacity
        else:
            shadow_opacity = self.shadow_opacity

        shadow_typecar: str | Unset = UNSET
        if not isinstance(self.shadow_typecar, Unset):
            shadow_typecar = self.shadow_typecar

        shadow_typeproduct: str | Unset = UNSET
        if not isinstance(self.shadow_typeproduct, Unset):
            shadow_typeproduct = self.shadow_typeproduct

        shadow_typeperson: str | Unset = UNSET
        if not isinstance(self.shadow_typeperson, Unset):
            shadow_typeperson = self.shadow_typeperson

        shadow_typeanimal: str | Unset = UNSET
        if not isinstance(self.shadow_typeanimal, Unset):
            shadow_typeanimal = self.shadow_typeanimal

        shadow_typetransportation: str | Unset = UNSET
        if not isinstance(self.shadow_typetransportation, Unset):
            shadow_typetransportation = self.shadow_typetransportation

        shadow_typegraphic: str | Unset = UNSET
        if not isinstance(self.shadow_typegraphic, Unset):
            shadow_typegraphic = self.shadow_typegraphic

        shadow_typeother: str | Unset = UNSET
        if not isinstance(self.shadow_typeother, Unset):
            shadow_typeother = self.shadow_typeother

        shadow_opacitycar: int | str | Unset
        if isinstance(self.shadow_opacitycar, Unset):
            shadow_opacitycar = UNSET
        elif isinstance(self.shadow_opacitycar, str):
            shadow_opacitycar = self.shadow_opacitycar
        else:
            shadow_opacitycar = self.shadow_opacitycar

        shadow_opacityproduct: int | str | Unset
        if isinstance(self.shadow_opacityproduct, Unset):
            shadow_opacityproduct = UNSET
        elif isinstance(self.shadow_opacityproduct, str):
            shadow_opacityproduct = self.shadow_opacityproduct
        else:
            shadow_opacityproduct = self.shadow_opacityproduct

        shadow_opacityperson: int | str | Unset
        if isinstance(self.shadow_opacityperson, Unset):
            shadow_opacityperson = UNSET
        elif isinstance(self.shadow_opacityperson, str):
            shadow_opacityperson = self.shadow_opacityperson
        else:
            shadow_opacityperson = self.shadow_opacityperson

        shadow_opacityanimal: int | str | Unset
        if isinstance(self.shadow_opacityanimal, Unset):
            shadow_opacityanimal = UNSET
        elif isinstance(self.shadow_opacityanimal, str):
            shadow_opacityanimal = self.shadow_opacityanimal
        else:
            shadow_opacityanimal = self.shadow_opacityanimal

        shadow_opacitytransportation: int | str | Unset
        if isinstance(self.shadow_opacitytransportation, Unset):
            shadow_opacitytransportation = UNSET
        elif isinstance(self.shadow_opacitytransportation, str):
            shadow_opacitytransportation = self.shadow_opacitytransportation
        else:
            shadow_opacitytransportation = self.shadow_opacitytransportation

        shadow_opacitygraphic: int | str | Unset
        if isinstance(self.shadow_opacitygraphic, Unset):
            shadow_opacitygraphic = UNSET
        elif isinstance(self.shadow_opacitygraphic, str):
            shadow_opacitygraphic = self.shadow_opacitygraphic
        else:
            shadow_opacitygraphic = self.shadow_opacitygraphic

        shadow_opacityother: int | str | Unset
        if isinstance(self.shadow_opacityother, Unset):
            shadow_opacityother = UNSET
        elif isinstance(self.shadow_opacityother, str):
            shadow_opacityother = self.shadow_opacityother
        else:
            shadow_opacityother = self.shadow_opacityother

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if image_file_b64 is not UNSET:
            field_dict["image_file_b64"] = image_file_b64
        if image_url is not UNSET:
            field_dict["image_url"] = image_url
        if size is not UNSET:
            field_dict["size"] = size
        if type_ is not UNSET:
            field_dict["type"] = type_
        if type_level is not UNSET:
            field_dict["type_level"] = type_level
        if format_ is not UNSET:
            field_dict["format"] = format_
        if roi is not UNSET:
            field_dict["roi"] = roi
        if crop is not UNSET:
            field_dict["crop"] = crop
        if crop_margin is not UNSET:
            field_dict["crop_margin"] = crop_margin
        if scale is not UNSET:
            field_dict["scale"] = scale
        if position is not UNSET:
            field_dict["position"] = position
        if channels is not UNSET:
            field_dict["channels"] = channels
        if add_shadow is not UNSET:
            field_dict["add_shadow"] = add_shadow
        if semitransparency is not UNSET:
            field_dict["semitransparency"] = semitransparency
        if bg_color is not UNSET:
            field_dict["bg_color"] = bg_color
        if bg_image_url is not UNSET:
            field_dict["bg_image_url"] = bg_image_url
        if quality is not UNSET:
            field_dict["quality"] = quality
        if shadow_type is not UNSET:
            field_dict["shadow_type"] = shadow_type
        if shadow_opacity is not UNSET:
            field_dict["shadow_opacity"] = shadow_opacity
        if shadow_typecar is not UNSET:
            field_dict["shadow_type[car]"] = shadow_typecar
        if shadow_typeproduct is not UNSET:
            field_dict["shadow_type[product]"] = shadow_typeproduct
        if shadow_typeperson is not UNSET:
            field_dict["shadow_type[person]"] = shadow_typeperson
        if shadow_typeanimal is not UNSET:
            field_dict["shadow_type[animal]"] = shadow_typeanimal
        if shadow_typetransportation is not UNSET:
            field_dict["shadow_type[transportation]"] = shadow_typetransportation
        if shadow_typegraphic is not UNSET:
            field_dict["shadow_type[graphic]"] = shadow_typegraphic
        if shadow_typeother is not UNSET:
            field_dict["shadow_type[other]"] = shadow_typeother
        if shadow_opacitycar is not UNSET:
            field_dict["shadow_opacity[car]"] = shadow_opacitycar
        if shadow_opacityproduct is not UNSET:
            field_dict["shadow_opacity[product]"] = shadow_opacityproduct
        if shadow_opacityperson is not UNSET:
            field_dict["shadow_opacity[person]"] = shadow_opacityperson
        if shadow_opacityanimal is not UNSET:
            field_dict["shadow_opacity[animal]"] = shadow_opacityanimal
        if shadow_opacitytransportation is not UNSET:
            field_dict["shadow_opacity[transportation]"] = shadow_opacitytransportation
        if shadow_opacitygraphic is not UNSET:
            field_dict["shadow_opacity[graphic]"] = shadow_opacitygraphic
        if shadow_opacityother is not UNSET:
            field_dict["shadow_opacity[other]"] = shadow_opacityother

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        image_file_b64 = d.pop("image_file_b64", UNSET)

        image_url = d.pop("image_url", UNSET)

        _size = d.pop("size", UNSET)
        size: Size | Unset
        if isinstance(_size, Unset):
            size = UNSET
        else:
            size = check_size(_size)

        _type_ = d.pop("type", UNSET)
        type_: SubjectType | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = check_subject_type(_type_)

        _type_level = d.pop("type_level", UNSET)
        type_level: TypeLevel | Unset
        if isinstance(_type_level, Unset):
            type_level = UNSET
        else:
            type_level = check_type_level(_type_level)

        _format_ = d.pop("format", UNSET)
        format_: Format | Unset
        if isinstance(_format_, Unset):
            format_ = UNSET
        else:
            format_ = check_format(_format_)

        roi = d.pop("roi", UNSET)

        crop = d.pop("crop", UNSET)

        crop_margin = d.pop("crop_margin", UNSET)

        scale = d.pop("scale", UNSET)

        position = d.pop("position", UNSET)

        _channels = d.pop("channels", UNSET)
        channels: Channels | Unset
        if isinstance(_channels, Unset):
            channels = UNSET
        else:
            channels = check_channels(_channels)

        add_shadow = d.pop("add_shadow", UNSET)

        semitransparency = d.pop("semitransparency", UNSET)

        bg_color = d.pop("bg_color", UNSET)

        bg_image_url = d.pop("bg_image_url", UNSET)

        _quality = d.pop("quality", UNSET)
        quality: Quality | Unset
        if isinstance(_quality, Unset):
            quality = UNSET
        else:
            quality = check_quality(_quality)

        _shadow_type = d.pop("shadow_type", UNSET)
        shadow_type: ShadowType | Unset
        if isinstance(_shadow_type, Unset):
            shadow_type = UNSET
        else:
            shadow_type = check_shadow_type(_shadow_type)

        def _parse_shadow_opacity(data: object) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacity = _parse_shadow_opacity(d.pop("shadow_opacity", UNSET))

        _shadow_typecar = d.pop("shadow_type[car]", UNSET)
        shadow_typecar: ShadowType | Unset
        if isinstance(_shadow_typecar, Unset):
            shadow_typecar = UNSET
        else:
            shadow_typecar = check_shadow_type(_shadow_typecar)

        _shadow_typeproduct = d.pop("shadow_type[product]", UNSET)
        shadow_typeproduct: ShadowType | Unset
        if isinstance(_shadow_typeproduct, Unset):
            shadow_typeproduct = UNSET
        else:
            shadow_typeproduct = check_shadow_type(_shadow_typeproduct)

        _shadow_typeperson = d.pop("shadow_type[person]", UNSET)
        shadow_typeperson: ShadowType | Unset
        if isinstance(_shadow_typeperson, Unset):
            shadow_typeperson = UNSET
        else:
            shadow_typeperson = check_shadow_type(_shadow_typeperson)

        _shadow_typeanimal = d.pop("shadow_type[animal]", UNSET)
        shadow_typeanimal: ShadowType | Unset
        if isinstance(_shadow_typeanimal, Unset):
            shadow_typeanimal = UNSET
        else:
            shadow_typeanimal = check_shadow_type(_shadow_typeanimal)

        _shadow_typetransportation = d.pop("shadow_type[transportation]", UNSET)
        shadow_typetransportation: ShadowType | Unset
        if isinstance(_shadow_typetransportation, Unset):
            shadow_typetransportation = UNSET
        else:
            shadow_typetransportation = check_shadow_type(_shadow_typetransportation)

        _shadow_typegraphic = d.pop("shadow_type[graphic]", UNSET)
        shadow_typegraphic: ShadowType | Unset
        if isinstance(_shadow_typegraphic, Unset):
            shadow_typegraphic = UNSET
        else:
            shadow_typegraphic = check_shadow_type(_shadow_typegraphic)

        _shadow_typeother = d.pop("shadow_type[other]", UNSET)
        shadow_typeother: ShadowType | Unset
        if isinstance(_shadow_typeother, Unset):
            shadow_typeother = UNSET
        else:
            shadow_typeother = check_shadow_type(_shadow_typeother)

        def _parse_shadow_opacitycar(data: object) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacitycar = _parse_shadow_opacitycar(
            d.pop("shadow_opacity[car]", UNSET)
        )

        def _parse_shadow_opacityproduct(
            data: object,
        ) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacityproduct = _parse_shadow_opacityproduct(
            d.pop("shadow_opacity[product]", UNSET)
        )

        def _parse_shadow_opacityperson(
            data: object,
        ) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacityperson = _parse_shadow_opacityperson(
            d.pop("shadow_opacity[person]", UNSET)
        )

        def _parse_shadow_opacityanimal(
            data: object,
        ) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacityanimal = _parse_shadow_opacityanimal(
            d.pop("shadow_opacity[animal]", UNSET)
        )

        def _parse_shadow_opacitytransportation(
            data: object,
        ) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacitytransportation = _parse_shadow_opacitytransportation(
            d.pop("shadow_opacity[transportation]", UNSET)
        )

        def _parse_shadow_opacitygraphic(
            data: object,
        ) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacitygraphic = _parse_shadow_opacitygraphic(
            d.pop("shadow_opacity[graphic]", UNSET)
        )

        def _parse_shadow_opacityother(data: object) -> int | ShadowOpacityAuto | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                componentsschemas_shadow_opacity_type_1 = check_shadow_opacity_auto(
                    data
                )

                return componentsschemas_shadow_opacity_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | ShadowOpacityAuto | Unset, data)

        shadow_opacityother = _parse_shadow_opacityother(
            d.pop("shadow_opacity[other]", UNSET)
        )

        remove_bg_form = cls(
            image_file_b64=image_file_b64,
            image_url=image_url,
            size=size,
            type_=type_,
            type_level=type_level,
            format_=format_,
            roi=roi,
            crop=crop,
            crop_margin=crop_margin,
            scale=scale,
            position=position,
            channels=channels,
            add_shadow=add_shadow,
            semitransparency=semitransparency,
            bg_color=bg_color,
            bg_image_url=bg_image_url,
            quality=quality,
            shadow_type=shadow_type,
            shadow_opacity=shadow_opacity,
            shadow_typecar=shadow_typecar,
            shadow_typeproduct=shadow_typeproduct,
            shadow_typeperson=shadow_typeperson,
            shadow_typeanimal=shadow_typeanimal,
            shadow_typetransportation=shadow_typetransportation,
            shadow_typegraphic=shadow_typegraphic,
            shadow_typeother=shadow_typeother,
            shadow_opacitycar=shadow_opacitycar,
            shadow_opacityproduct=shadow_opacityproduct,
            shadow_opacityperson=shadow_opacityperson,
            shadow_opacityanimal=shadow_opacityanimal,
            shadow_opacitytransportation=shadow_opacitytransportation,
            shadow_opacitygraphic=shadow_opacitygraphic,
            shadow_opacityother=shadow_opacityother,
        )

        remove_bg_form.additional_properties = d
        return remove_bg_form

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
