"""Exceptions raised by the openbg client.

Every failure the API reports is a :class:`RemoveBgError` carrying the HTTP
``status`` and the first error object of the remove.bg error body
(``{"errors": [{"title", "code", "detail"}]}``, spec §7). Transport failures
(refused or dropped connections, timeouts) are :class:`RemoveBgConnectionError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from removebg_api.models.error import Error as ErrorModel

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "InsufficientCreditsError",
    "PaymentRequiredError",
    "RateLimitError",
    "RemoveBgConnectionError",
    "RemoveBgError",
    "RemoveBgTimeoutError",
    "RequestTimeoutError",
    "ServerError",
    "UnexpectedStatusError",
    "ZipCompositionError",
    "error_from_response",
]

UNPARSABLE_TITLE = "Unable to parse response"


class RemoveBgError(Exception):
    """An error answered by the API (or raised for an unusable response).

    Attributes:
        status: HTTP status code (``0`` for errors that had no HTTP response).
        code: machine-readable code, e.g. ``"invalid_size"`` (``None`` if the body had none).
        title: human-readable message (the first error's ``title``).
        detail: optional longer text.
        errors: every error object of the body, as parsed.
        headers: the response headers (lower-case names).
    """

    def __init__(
        self,
        status: int,
        code: str | None,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors: list[dict[str, Any]] = errors if errors is not None else []
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.status}: {self.title}" if self.status else self.title
        if self.code:
            text += f" [{self.code}]"
        if self.detail:
            text += f" ({self.detail})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"title={self.title!r}, detail={self.detail!r})"
        )


class BadRequestError(RemoveBgError):
    """400: invalid parameters or an unprocessable input image (nothing charged, never retried)."""


class PaymentRequiredError(RemoveBgError):
    """402: the account cannot pay for this call (nothing charged, never retried)."""


class InsufficientCreditsError(PaymentRequiredError):
    """402 ``insufficient_credits``: not enough credits (or free calls) left."""


class AuthenticationError(RemoveBgError):
    """403: the API key is missing or invalid (never retried)."""


class RateLimitError(RemoveBgError):
    """429: rate limit exceeded. ``retry_after`` is the server's ``Retry-After`` in seconds."""

    def __init__(
        self,
        status: int,
        code: str | None,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, code, title, detail, errors=errors, headers=headers)


class RequestTimeoutError(RemoveBgError):
    """408 ``request_timeout``: the server stopped waiting for the request's head or body (a stalled
    or very slow upload). Nothing was charged; retried with exponential backoff like a 5xx."""


class ServerError(RemoveBgError):
    """5xx: the server failed (retried with exponential backoff)."""


class UnexpectedStatusError(RemoveBgError):
    """Any other non-2xx status (e.g. 404 from a wrong base URL)."""


class RemoveBgConnectionError(RemoveBgError):
    """The request did not get an HTTP response: connection refused, reset or dropped."""

    def __init__(self, title: str, detail: str | None = None) -> None:
        super().__init__(0, "connection_error", title, detail)


class RemoveBgTimeoutError(RemoveBgConnectionError):
    """The request timed out (connect, read, write or the client's total time budget)."""


class ZipCompositionError(RemoveBgError):
    """A ZIP result could not be composed (missing ``color.jpg``/``alpha.png`` or unequal sizes)."""

    def __init__(self, title: str, detail: str | None = None) -> None:
        super().__init__(0, "invalid_zip", title, detail)


def parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds (HTTP-date is also accepted)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from datetime import datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds)


def _class_for(status: int, code: str | None) -> type[RemoveBgError]:
    if status == 400:
        return BadRequestError
    if status == 402:
        return InsufficientCreditsError if code in (None, "insufficient_credits") else PaymentRequiredError
    if status in (401, 403):
        return AuthenticationError
    if status == 408:
        return RequestTimeoutError
    if status == 429:
        return RateLimitError
    if 500 <= status <= 599:
        return ServerError
    return UnexpectedStatusError


def _error_model(parsed: object, content: bytes) -> ErrorModel | None:
    """The body as the generated ``Error`` model: the generated parser's (``Response.parsed``), else the
    generated ``Error.from_dict`` over the JSON body (a status the spec does not list); ``None`` when the
    body is not that shape."""
    if isinstance(parsed, ErrorModel):
        return parsed
    try:
        return ErrorModel.from_dict(json.loads(content.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def error_from_response(
    status: int, content: bytes, headers: Mapping[str, str], *, parsed: object = None
) -> RemoveBgError:
    """Build the matching :class:`RemoveBgError` subclass from a non-2xx response.

    The body is read with the generated ``Error`` model (``parsed``: what the generated client's
    parser made of it, if anything). Bodies that are not the documented JSON shape (an HTML proxy page,
    garbage, an empty body) give the title ``"Unable to parse response"`` (as the official Ruby SDK does)
    with the start of the body as ``detail``.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    model = _error_model(parsed, content)
    first = model.errors[0] if model is not None and model.errors else None
    errors: list[dict[str, Any]] = [e.to_dict() for e in model.errors] if model is not None else []
    if first is not None and isinstance(first.title, str):
        code = first.code if isinstance(first.code, str) else None
        title: str = first.title
        detail = first.detail if isinstance(first.detail, str) else None
    else:
        code = None
        title = UNPARSABLE_TITLE
        snippet = content[:200].decode("utf-8", "replace").strip()
        detail = snippet or None
    cls = _class_for(status, code)
    if cls is RateLimitError:
        return RateLimitError(
            status, code, title, detail, errors=errors, headers=lower,
            retry_after=parse_retry_after(lower.get("retry-after")),
        )
    return cls(status, code, title, detail, errors=errors, headers=lower)
