from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RemoveBgJsonData")


@_attrs_define
class RemoveBgJsonData:
    result_b64: str
    """ The result file (PNG, JPG, WebP or ZIP bytes), base64-encoded. """
    foreground_top: int
    """ Top edge of the foreground's bounding box, in pixels. """
    foreground_left: int
    """ Left edge of the foreground's bounding box, in pixels. """
    foreground_width: int
    """ Width of the foreground's bounding box, in pixels. """
    foreground_height: int
    """ Height of the foreground's bounding box, in pixels. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result_b64 = self.result_b64

        foreground_top = self.foreground_top

        foreground_left = self.foreground_left

        foreground_width = self.foreground_width

        foreground_height = self.foreground_height

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "result_b64": result_b64,
                "foreground_top": foreground_top,
                "foreground_left": foreground_left,
                "foreground_width": foreground_width,
                "foreground_height": foreground_height,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        result_b64 = d.pop("result_b64")

        foreground_top = d.pop("foreground_top")

        foreground_left = d.pop("foreground_left")

        foreground_width = d.pop("foreground_width")

        foreground_height = d.pop("foreground_height")

        remove_bg_json_data = cls(
            result_b64=result_b64,
            foreground_top=foreground_top,
            foreground_left=foreground_left,
            foreground_width=foreground_width,
            foreground_height=foreground_height,
        )

        remove_bg_json_data.additional_properties = d
        return remove_bg_json_data

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
