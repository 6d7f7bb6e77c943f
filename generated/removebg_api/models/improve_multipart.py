from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from .. import types
from ..types import UNSET, File, FileTypes, Unset

T = TypeVar("T", bound="ImproveMultipart")


@_attrs_define
class ImproveMultipart:
    """`POST /improve` as `multipart/form-data` (the only encoding that carries a file). Exactly one of `image_file`,
    `image_file_b64` and `image_url` (else 400 `missing_source` / `multiple_sources`; prose only, as for
    `RemoveBgMultipart`).

    """

    image_file: File | Unset = UNSET
    """ The image file (JPG, PNG or WebP; at most 22 MB and 50 megapixels). """
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
    image_filename: str | Unset = UNSET
    """ File name to store the image under; detected from the data when absent. """
    tag: str | Unset = UNSET
    """ Groups submissions; images with the same tag belong together. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        image_file: FileTypes | Unset = UNSET
        if not isinstance(self.image_file, Unset):
            image_file = self.image_file.to_tuple()

        image_file_b64 = self.image_file_b64

        image_url = self.image_url

        image_filename = self.image_filename

        tag = self.tag

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if image_file is not UNSET:
            field_dict["image_file"] = image_file
        if image_file_b64 is not UNSET:
            field_dict["image_file_b64"] = image_file_b64
        if image_url is not UNSET:
            field_dict["image_url"] = image_url
        if image_filename is not UNSET:
            field_dict["image_filename"] = image_filename
        if tag is not UNSET:
            field_dict["tag"] = tag

        return field_dict

    def to_multipart(self) -> types.RequestFiles:
        files: types.RequestFiles = []

        if not isinstance(self.image_file, Unset):
            files.append(("image_file", self.image_file.to_tuple()))

        if not isinstance(self.image_file_b64, Unset):
            files.append(
                (
                    "image_file_b64",
                    (None, str(self.image_file_b64).encode(), "text/plain"),
                )
            )

        if not isinstance(self.image_url, Unset):
            files.append(
                ("image_url", (None, str(self.image_url).encode(), "text/plain"))
            )

        if not isinstance(self.image_filename, Unset):
            files.append(
                (
                    "image_filename",
                    (None, str(self.image_filename).encode(), "text/plain"),
                )
            )

        if not isinstance(self.tag, Unset):
            files.append(("tag", (None, str(self.tag).encode(), "text/plain")))

        for prop_name, prop in self.additional_properties.items():
            files.append((prop_name, (None, str(prop).encode(), "text/plain")))

        return files

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        _image_file = d.pop("image_file", UNSET)
        image_file: File | Unset
        if isinstance(_image_file, Unset):
            image_file = UNSET
        else:
            image_file = File(payload=BytesIO(_image_file))

        image_file_b64 = d.pop("image_file_b64", UNSET)

        image_url = d.pop("image_url", UNSET)

        image_filename = d.pop("image_filename", UNSET)

        tag = d.pop("tag", UNSET)

        improve_multipart = cls(
            image_file=image_file,
            image_file_b64=image_file_b64,
            image_url=image_url,
            image_filename=image_filename,
            tag=tag,
        )

        improve_multipart.additional_properties = d
        return improve_multipart

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
