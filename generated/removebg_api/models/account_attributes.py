from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.account_api import AccountApi
    from ..models.account_credits import AccountCredits


T = TypeVar("T", bound="AccountAttributes")


@_attrs_define
class AccountAttributes:
    credits_: AccountCredits
    """ Credit balances; fractional because previews cost 0.25. """
    api: AccountApi
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        credits_ = self.credits_.to_dict()

        api = self.api.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "credits": credits_,
                "api": api,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.account_api import AccountApi
        from ..models.account_credits import AccountCredits

        d = dict(src_dict)
        credits_ = AccountCredits.from_dict(d.pop("credits"))

        api = AccountApi.from_dict(d.pop("api"))

        account_attributes = cls(
            credits_=credits_,
            api=api,
        )

        account_attributes.additional_properties = d
        return account_attributes

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
