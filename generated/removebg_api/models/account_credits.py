from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="AccountCredits")


@_attrs_define
class AccountCredits:
    """Credit balances; fractional because previews cost 0.25."""

    total: float
    """ All credits available (the sum of the three below). """
    subscription: float
    """ Credits from a subscription plan. """
    payg: float
    """ Pay-as-you-go credits. """
    enterprise: float
    """ Credits from an enterprise contract. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.total

        subscription = self.subscription

        payg = self.payg

        enterprise = self.enterprise

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "total": total,
                "subscription": subscription,
                "payg": payg,
                "enterprise": enterprise,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        total = d.pop("total")

        subscription = d.pop("subscription")

        payg = d.pop("payg")

        enterprise = d.pop("enterprise")

        account_credits = cls(
            total=total,
            subscription=subscription,
            payg=payg,
            enterprise=enterprise,
        )

        account_credits.additional_properties = d
        return account_credits

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
