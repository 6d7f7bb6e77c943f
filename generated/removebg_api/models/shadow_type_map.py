from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.shadow_type import ShadowType, check_shadow_type
from ..types import UNSET, Unset

T = TypeVar("T", bound="ShadowTypeMap")


@_attrs_define
class ShadowTypeMap:
    """Per-type shadows (JSON form of `shadow_type[<type>]`): the shadow for each detected
    type named; types not named get no shadow (or the single `shadow_type` value, when
    the form encodings send both). Other keys answer `invalid_shadow_type`.

    """

    car: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    product: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    person: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    animal: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    transportation: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    graphic: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """
    other: ShadowType | Unset = UNSET
    """ Shadow to draw under/behind the subject. `drop`: the silhouette offset and
    blurred; `3D`: cast on the ground behind the subject; `car`: a soft contact shadow
    under body and wheels; `none`: no shadow; `auto`: by detected type (car → car,
    product → drop, person → 3D, animal → drop, transportation → 3D, graphic → drop,
    other → drop).
     """

    def to_dict(self) -> dict[str, Any]:
        car: str | Unset = UNSET
        if not isinstance(self.car, Unset):
            car = self.car

        product: str | Unset = UNSET
        if not isinstance(self.product, Unset):
            product = self.product

        person: str | Unset = UNSET
        if not isinstance(self.person, Unset):
            person = self.person

        animal: str | Unset = UNSET
        if not isinstance(self.animal, Unset):
            animal = self.animal

        transportation: str | Unset = UNSET
        if not isinstance(self.transportation, Unset):
            transportation = self.transportation

        graphic: str | Unset = UNSET
        if not isinstance(self.graphic, Unset):
            graphic = self.graphic

        other: str | Unset = UNSET
        if not isinstance(self.other, Unset):
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
        _car = d.pop("car", UNSET)
        car: ShadowType | Unset
        if isinstance(_car, Unset):
            car = UNSET
        else:
            car = check_shadow_type(_car)

        _product = d.pop("product", UNSET)
        product: ShadowType | Unset
        if isinstance(_product, Unset):
            product = UNSET
        else:
            product = check_shadow_type(_product)

        _person = d.pop("person", UNSET)
        person: ShadowType | Unset
        if isinstance(_person, Unset):
            person = UNSET
        else:
            person = check_shadow_type(_person)

        _animal = d.pop("animal", UNSET)
        animal: ShadowType | Unset
        if isinstance(_animal, Unset):
            animal = UNSET
        else:
            animal = check_shadow_type(_animal)

        _transportation = d.pop("transportation", UNSET)
        transportation: ShadowType | Unset
        if isinstance(_transportation, Unset):
            transportation = UNSET
        else:
            transportation = check_shadow_type(_transportation)

        _graphic = d.pop("graphic", UNSET)
        graphic: ShadowType | Unset
        if isinstance(_graphic, Unset):
            graphic = UNSET
        else:
            graphic = check_shadow_type(_graphic)

        _other = d.pop("other", UNSET)
        other: ShadowType | Unset
        if isinstance(_other, Unset):
            other = UNSET
        else:
            other = check_shadow_type(_other)

        shadow_type_map = cls(
            car=car,
            product=product,
            person=person,
            animal=animal,
            transportation=transportation,
            graphic=graphic,
            other=other,
        )

        return shadow_type_map
