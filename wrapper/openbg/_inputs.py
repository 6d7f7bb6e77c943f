"""Turning the many accepted image inputs into one request source (internal)."""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

from PIL import Image

from .results import sniff_content_type

__all__ = ["BgImageInput", "ImageInput", "Source", "prepare_bg_image", "prepare_image"]

#: What ``remove_background``/``improve`` accept as the image: a path, bytes, a binary
#: file object, a PIL image, an ``http(s)://`` URL or base64 (optionally a ``data:`` URI).
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Image.Image]
#: What ``bg_image`` accepts: a path, bytes, a binary file object, a PIL image or an ``http(s)://`` URL.
BgImageInput = ImageInput

_B64_RE = re.compile(r"^[A-Za-z0-9+/=\s_-]+$")
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class Source:
    """One resolved source: exactly one of ``data`` (upload), ``url`` or ``b64`` is set."""

    data: bytes | None = None
    filename: str | None = None
    url: str | None = None
    b64: str | None = None

    @property
    def mime_type(self) -> str:
        """Media type sniffed from the uploaded bytes."""
        ct = sniff_content_type(self.data or b"")
        return ct if ct.startswith("image/") else "application/octet-stream"


def _is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def _pil_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")  # lossless; the server sniffs the type
    return out.getvalue()


def _upload(data: bytes, filename: str | None) -> Source:
    if not data:
        raise ValueError("the image is empty (0 bytes)")
    if not filename:
        ext = _EXT.get(sniff_content_type(data), "bin")
        filename = f"image.{ext}"
    return Source(data=data, filename=filename)


def _looks_base64(value: str) -> bool:
    if len(value) < 16 or not _B64_RE.match(value):
        return False
    compact = re.sub(r"\s+", "", value)
    try:
        head = base64.b64decode(compact[:64] + "=" * (-len(compact[:64]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return False
    return sniff_content_type(head) != "application/octet-stream"


def prepare_image(image: Any, *, allow_b64: bool = True) -> Source:
    """Classify ``image`` (see :data:`ImageInput`) into an upload, a URL or base64."""
    if isinstance(image, Image.Image):
        return _upload(_pil_bytes(image), None)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _upload(bytes(image), None)
    if isinstance(image, os.PathLike):
        path = Path(os.fspath(image))
        return _upload(path.read_bytes(), path.name)
    if isinstance(image, str):
        if _is_url(image):
            return Source(url=image)
        if allow_b64 and image[:5].lower() == "data:":
            return Source(b64=image)
        if len(image) < 4096 and os.path.exists(image):
            path = Path(image)
            return _upload(path.read_bytes(), path.name)
        if allow_b64 and _looks_base64(image):
            return Source(b64=image)
        raise FileNotFoundError(
            f"not a file, an http(s) URL{' or base64 image data' if allow_b64 else ''}: {image[:80]!r}"
        )
    read = getattr(image, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            raise TypeError("file objects must be opened in binary mode ('rb')")
        name = getattr(image, "name", None)
        return _upload(bytes(data), os.path.basename(name) if isinstance(name, str) else None)
    raise TypeError(f"unsupported image input of type {type(image).__name__}")


def prepare_bg_image(image: Any) -> Source:
    """Classify ``bg_image`` (see :data:`BgImageInput`): an upload or a URL (no base64 in the API)."""
    return prepare_image(image, allow_b64=False)
