from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.shadow_opacity_auto import ShadowOpacityAuto, check_shadow_opacity_auto
from ..types import UNSET, Unset

T = TypeVar("T", bound="ShadowOpacityMap")


@_attrs_define
class ShadowOpacityMap:
    """Per-type shadow opacity (JSON form of `shadow_opacity[<type>]`); types not named
    keep their default (car 90, others 50). Other keys answer `invalid_shadow_opacity`.

    """

    car: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    product: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    person: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    animal: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    transportation: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    graphic: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """
    other: int | ShadowOpacityAuto | Unset = UNSET
    """ Shadow strength from 0 (lightest) to 100 (darkest), or `auto` for the per-type
    default (car 90, every other type 50).
     """

    def to_dict(self) -> dict[str, Any]:
        car: int | str | Unset
        if isinstance(self.car, Unset):
            car = UNSET
        elif isinstance(self.car, str):
            car = self.car
        else:
            car = self.car

        product: int | str | Unset
        if isinstance(self.product, Unset):
            product = UNSET
        elif isinstance(self.product, str):
            product = self.product
        else:
            product = self.product

        person: int | str | Unset
        if isinstance(self.person, Unset):
            person = UNSET
        elif isinstance(self.person, str):
            person = self.person
        else:
            person = self.person

        animal: int | str | Unset
        if isinstance(self.animal, Unset):
            animal = UNSET
        elif isinstance(self.animal, str):
            animal = self.animal
        else:
            animal = self.animal

        transportation: int | str | Unset
        if isinstance(self.transportation, Unset):
            transportation = UNSET
        elif isinstance(self.transportation, str):
            transportation = self.transportation
        else:
            transportation = self.transportation

        graphic: int | str | Unset
        if isinstance(self.graphic, Unset):
            graphic = UNSET
        elif isinstance(self.graphic, str):
            graphic = self.graphic
        else:
            graphic = self.graphic

        other: int | str | Unset
        if isinstance(self.other, Unset):
            other = UNSET
        elif isinstance(self.other, str):
            other = self.other
        else:
            other = self.other

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if car is not UNSET:
            field_dict["car"] = car
        if product is not UNSET:
            field_dict["product"] = product
        if person is not UNSET:
            field_dict["person"] = person
        if animal is not UNSET:
            field_dict["animal"] = animal
        if transportation is not UNSET:
            field_dict["transportation"] = transportation
        if graphic is not UNSET:
            field_dict["graphic"] = graphic
        if other is not UNSET:
            field_dict["other"] = other

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)

        def _parse_car(data: object) -> int | ShadowOpacityAuto | Unset:
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

        car = _parse_car(d.pop("car", UNSET))

        def _parse_product(data: object) -> int | ShadowOpacityAuto | Unset:
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

        product = _parse_product(d.pop("product", UNSET))

        def _parse_person(data: object) -> int | ShadowOpacityAuto | Unset:
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

        person = _parse_person(d.pop("person", UNSET))

        def _parse_animal(data: object) -> int | ShadowOpacityAuto | Unset:
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

        animal = _parse_animal(d.pop("animal", UNSET))

        def _parse_transportation(data: object) -> int | ShadowOpacityAuto | Unset:
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

        transportation = _parse_transportation(d.pop("transportation", UNSET))

        def _parse_graphic(data: object) -> int | ShadowOpacityAuto | Unset:
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

        graphic = _parse_graphic(d.pop("graphic", UNSET))

        def _parse_other(data: object) -> int | ShadowOpacityAuto | Unset:
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

        other = _parse_other(d.pop("other", UNSET))

        shadow_opacity_map = cls(
            car=car,
            product=product,
            person=person,
            animal=animal,
            transportation=transportation,
            graphic=graphic,
            other=other,
        )

        return shadow_opacity_map
