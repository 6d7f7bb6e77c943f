"""Typed results: :class:`Result` of a background removal, :class:`Account`, and their parts."""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image
from removebg_api.models.account import Account as AccountModel

from .errors import UNPARSABLE_TITLE, RemoveBgError
from .zipcompose import is_zip, zip2png, zip_to_pil

__all__ = ["Account", "Credits", "Foreground", "RateLimit", "Result", "sniff_content_type"]

_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "application/zip": "zip",
}


def sniff_content_type(data: bytes) -> str:
    """Guess the media type of result bytes from their signature (``application/octet-stream`` if unknown)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if is_zip(data):
        return "application/zip"
    return "application/octet-stream"


@dataclass(frozen=True)
class Foreground:
    """Bounding box of the foreground in the result (``X-Foreground-*`` headers), in pixels."""

    top: int
    left: int
    width: int
    height: int


@dataclass(frozen=True)
class RateLimit:
    """Rate-limit state after a call (``X-RateLimit-*`` headers).

    ``limit`` and ``remaining`` count megapixel-images per minute; ``reset`` is
    when the current window ends (timezone-aware, UTC).
    """

    limit: int | None
    remaining: int | None
    reset: datetime | None


def _int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _float(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """Read ``X-RateLimit-Limit/Remaining/Reset`` from lower-cased headers (``None`` if all absent)."""
    limit = _int(headers, "x-ratelimit-limit")
    remaining = _int(headers, "x-ratelimit-remaining")
    reset_ts = _float(headers, "x-ratelimit-reset")
    if limit is None and remaining is None and reset_ts is None:
        return None
    reset = datetime.fromtimestamp(reset_ts, tz=UTC) if reset_ts is not None else None
    return RateLimit(limit=limit, remaining=remaining, reset=reset)


@dataclass(frozen=True)
class Result:
    """The outcome of :meth:`openbg.RemoveBg.remove_background`.

    ``content`` holds the result file (PNG, JPEG, WebP or ZIP bytes; with
    ``prefer_zip=True`` the PNG composed locally from the ZIP, whose original bytes
    stay in ``zip_content``). The metadata comes from the response headers
    (spec §6.2); a header the server did not send gives ``None``.
    """

    content: bytes = field(repr=False)
    content_type: str
    headers: Mapping[str, str] = field(repr=False, compare=False)
    type: str | None
    width: int | None
    height: int | None
    credits_charged: float | None
    foreground: Foreground | None
    max_width: int | None
    max_height: int | None
    rate_limit: RateLimit | None
    zip_content: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_response(cls, content: bytes, headers: Mapping[str, str]) -> Result:
        """Build a Result from a 200 response body and its headers (binary or JSON mode)."""
        h = {k.lower(): v for k, v in headers.items()}
        content_type = h.get("content-type", "").split(";")[0].strip().lower()
        fg_json: dict[str, Any] = {}
        if content_type == "application/json":
            try:
                data = json.loads(content.decode("utf-8"))["data"]
                content = base64.b64decode(data["result_b64"], validate=False)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, binascii.Error) as exc:
                raise RemoveBgError(200, None, "Unable to parse response", f"JSON result: {exc}") from exc
            fg_json = {k: data.get(f"foreground_{k}") for k in ("top", "left", "width", "height")}
            content_type = sniff_content_type(content)
        elif not content_type or content_type == "application/octet-stream":
            content_type = sniff_content_type(content)
        fg_vals = [_int(h, f"x-foreground-{k}") for k in ("top", "left", "width", "height")]
        if any(v is None for v in fg_vals) and all(isinstance(v, int) for v in fg_json.values()) and fg_json:
            fg_vals = [fg_json[k] for k in ("top", "left", "width", "height")]
        foreground = (
            Foreground(fg_vals[0], fg_vals[1], fg_vals[2], fg_vals[3])  # type: ignore[arg-type]
            if all(v is not None for v in fg_vals)
            else None
        )
        return cls(
            content=content,
            content_type=content_type,
            headers=h,
            type=h.get("x-type"),
            width=_int(h, "x-width"),
            height=_int(h, "x-height"),
            credits_charged=_float(h, "x-credits-charged"),
            foreground=foreground,
            max_width=_int(h, "x-max-width"),
            max_height=_int(h, "x-max-height"),
            rate_limit=parse_rate_limit(h),
        )

    @property
    def is_zip(self) -> bool:
        """True if ``content`` is a ZIP result (``color.jpg`` + ``alpha.png``)."""
        return self.content_type == "application/zip" or is_zip(self.content)

    @property
    def extension(self) -> str:
        """File extension matching ``content``: ``png``, ``jpg``, ``webp`` or ``zip`` (``bin`` if unknown)."""
        return _EXTENSIONS.get(self.content_type, "bin")

    def to_png(self) -> bytes:
        """The result as PNG bytes: ZIP results are composed, PNG returned as is, others converted."""
        if self.is_zip:
            return zip2png(self.content)
        if self.content_type == "image/png":
            return self.content
        out = io.BytesIO()
        self.to_pil().save(out, format="PNG")
        return out.getvalue()

    def to_pil(self) -> Image.Image:
        """Decode the result into a PIL image (a ZIP result is composed into RGBA)."""
        if self.is_zip:
            return zip_to_pil(self.content)
        image = Image.open(io.BytesIO(self.content))
        image.load()
        return image

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result to ``path`` in the format its extension names, and return it as a :class:`~pathlib.Path`.

        ``.png``, ``.jpg``/``.jpeg`` and ``.webp`` get that format: bytes already in it are written unchanged,
        others are converted (a ZIP result is composed first; WebP is written lossless). ``.zip`` takes a ZIP
        result only. Any other extension gets the bytes unchanged. A result with transparency cannot become
        a JPEG: that raises :class:`ValueError` (save as ``.png`` or ``.webp``, or ask for ``bg_color``).
        """
        target = Path(path)
        wanted = _SAVE_FORMATS.get(target.suffix.lower())
        data = self.content
        if wanted is not None and wanted != self.content_type:
            data = self._convert(wanted, target)
        target.write_bytes(data)
        return target

    def _convert(self, content_type: str, target: Path) -> bytes:
        if content_type == "application/zip":
            raise ValueError(f"cannot save a {self.extension.upper()} result as {target.name}: only a ZIP "
                             "result (format='zip') is a ZIP file")
        if content_type == "image/png":
            return self.to_png()
        image = self.to_pil()
        out = io.BytesIO()
        if content_type == "image/jpeg":
            if image.mode in ("RGBA", "LA", "PA") and image.getchannel("A").getextrema() != (255, 255):
                raise ValueError(f"cannot save {target.name}: the result has transparency and JPEG has none; "
                                 "save as .png or .webp, or ask for bg_color")
            image.convert("L" if image.mode in ("L", "LA") else "RGB").save(out, format="JPEG", quality=95)
        else:  # image/webp
            image.save(out, format="WEBP", lossless=True)
        return out.getvalue()


#: File extensions :meth:`Result.save` writes in their own format.
_SAVE_FORMATS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".zip": "application/zip",
}


@dataclass(frozen=True)
class Credits:
    """Credit balance of an account (floats: balances can be fractional)."""

    total: float
    subscription: float
    payg: float
    enterprise: float


@dataclass(frozen=True)
class Account:
    """The account behind an API key (``GET /account``)."""

    credits: Credits
    free_calls: int
    sizes: str

    @classmethod
    def from_model(cls, model: AccountModel) -> Account:
        """From the generated client's ``Account`` model (what its ``get_account`` parser returns)."""
        c = model.data.attributes.credits_
        api = model.data.attributes.api
        try:
            return cls(
                credits=Credits(total=float(c.total), subscription=float(c.subscription), payg=float(c.payg),
                                enterprise=float(c.enterprise)),
                free_calls=int(api.free_calls),
                sizes=str(api.sizes),
            )
        except (TypeError, ValueError) as exc:  # the generated model does not check value types
            raise RemoveBgError(200, None, UNPARSABLE_TITLE, f"account: {exc!r}") from exc

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Account:
        """Parse ``{"data": {"attributes": {"credits": {...}, "api": {...}}}}`` with the generated model."""
        try:
            model = AccountModel.from_dict(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RemoveBgError(200, None, UNPARSABLE_TITLE, f"account: {exc!r}") from exc
        return cls.from_model(model)
