from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.account_api_sizes import AccountApiSizes, check_account_api_sizes

T = TypeVar("T", bound="AccountApi")


@_attrs_define
class AccountApi:
    free_calls: int
    """ Free preview-size calls left this month (50 a month by default). """
    sizes: AccountApiSizes
    """ Always `all`. Deprecated by remove.bg and due to be removed. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        free_calls = self.free_calls

        sizes: str = self.sizes

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "free_calls": free_calls,
                "sizes": sizes,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        free_calls = d.pop("free_calls")

        sizes = check_account_api_sizes(d.pop("sizes"))

        account_api = cls(
            free_calls=free_calls,
            sizes=sizes,
        )

        account_api.additional_properties = d
        return account_api

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
