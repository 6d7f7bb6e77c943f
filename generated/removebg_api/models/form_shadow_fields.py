from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.shadow_opacity_auto import ShadowOpacityAuto, check_shadow_opacity_auto
from ..models.shadow_type import ShadowType, check_shadow_type
from ..types import UNSET, Unset

T = TypeVar("T", bound="FormShadowFields")


@_attrs_define
class FormShadowFields:
    """Shadow fields of the form encodings: one value for every type, and/or one field
    per type, literally named `shadow_type[<type>]` / `shadow_opacity[<type>]`.

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

        form_shadow_fields = cls(
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

        form_shadow_fields.additional_properties = d
        return form_shadow_fields

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
