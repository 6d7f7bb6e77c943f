"""The clients: :class:`RemoveBg` (sync) and :class:`AsyncRemoveBg` (asyncio).

Both are thin, typed layers over the generated client ``removebg_api``: they
build the generated request models from one :class:`~openbg.RemovalOptions`, call
the generated ``sync_detailed`` / ``asyncio_detailed`` functions, and turn the
generated ``Response`` (its ``parsed`` model) into a :class:`~openbg.results.Result`,
an :class:`~openbg.results.Account` or a :class:`~openbg.errors.RemoveBgError`,
retrying as :class:`~openbg.RetryPolicy` says. Each removal sends a
fresh ``Idempotency-Key`` (the same for all its retries), so that an openbg server charges a retried call
once even when an earlier answer was lost.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Self

import httpx

from . import _generated as gen
from ._inputs import ImageInput, Source, prepare_bg_image, prepare_image
from ._retry import RetryEvent, RetryPolicy, log_retry
from .errors import (
    UNPARSABLE_TITLE,
    RemoveBgConnectionError,
    RemoveBgError,
    RemoveBgTimeoutError,
    error_from_response,
)
from .options import (
    Channels,
    Format,
    Quality,
    RemovalOptions,
    ShadowOpacity,
    ShadowType,
    Size,
    SubjectType,
    TypeLevel,
    keywords_of,
)
from .results import Account, Result
from .zipcompose import zip2png

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncRemoveBg",
    "Channels",
    "Format",
    "Quality",
    "RemovalOptions",
    "RemoveBg",
    "ShadowOpacity",
    "ShadowType",
    "Size",
    "SubjectType",
    "TypeLevel",
]

DEFAULT_BASE_URL = "https://api.remove.bg/v1.0"
API_KEY_ENV = "REMOVE_BG_API_KEY"
BASE_URL_ENV = "OPENBG_BASE_URL"

def _resolve_key(api_key: str | None) -> str:
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not key:
        raise ValueError(
            f"no API key: pass api_key=... or set the {API_KEY_ENV} environment variable "
            "(get one at https://www.remove.bg/dashboard#api-key, or `openbg keys create` for the emulator)"
        )
    return key


#: Prefix of the keys an openbg server issues (``openbg keys create``).
OPENBG_KEY_PREFIX = "obg_"


def check_key_matches_server(api_key: str, base_url: str) -> None:
    """Refuse to send an openbg key, and the photos with it, to remove.bg's own API by mistake."""
    host = (httpx.URL(base_url).host or "").lower()
    if api_key.startswith(OPENBG_KEY_PREFIX) and (host == "remove.bg" or host.endswith(".remove.bg")):
        raise ValueError(
            f"this is an openbg server's key ({OPENBG_KEY_PREFIX}…), but the client would send it and your images "
            f"to {host}: pass base_url=... or set {BASE_URL_ENV} to your openbg server "
            "(for example http://127.0.0.1:5000/v1.0)"
        )


def _timeout(value: float | httpx.Timeout) -> httpx.Timeout:
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)


def _transport_error(exc: httpx.TransportError) -> RemoveBgError:
    if isinstance(exc, httpx.TimeoutException):
        return RemoveBgTimeoutError("Request timed out", f"{type(exc).__name__}: {exc}")
    return RemoveBgConnectionError("Connection failed", f"{type(exc).__name__}: {exc}")


def _as_error(exc: httpx.TransportError | RemoveBgError) -> RemoveBgError:
    """A failed attempt as a :class:`RemoveBgError`; a URL the client cannot speak to is raised as it is."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        raise exc
    return exc if isinstance(exc, RemoveBgError) else _transport_error(exc)


def _check(resp: gen.RawResponse) -> gen.RawResponse:
    """Return a 2xx response; raise the matching :class:`RemoveBgError` otherwise."""
    if 200 <= resp.status_code < 300:
        return resp
    raise error_from_response(resp.status_code, resp.content, resp.headers, parsed=resp.parsed)


class _Base:
    """Configuration shared by the sync and async clients."""

    _asynchronous = False

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout = 60.0,
        retries: int = 4,
        retry_policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        verify_ssl: bool = True,
        on_retry: Callable[[RetryEvent], object] | None = None,
    ) -> None:
        self.api_key = _resolve_key(api_key)
        self.on_retry = on_retry
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        check_key_matches_server(self.api_key, self.base_url)
        self.retry_policy = retry_policy if retry_policy is not None else RetryPolicy(retries=retries)
        from . import __version__

        self._generated = gen.make_client(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=_timeout(timeout),
            headers={"User-Agent": f"openbg/{__version__}", **dict(headers or {})},
            verify_ssl=verify_ssl,
            asynchronous=self._asynchronous,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _retry_delay(self, what: str, error: RemoveBgError, retry: int, policy: RetryPolicy, start: float) -> float:
        """How long to wait before retry ``retry + 1`` of a call that failed with ``error`` (logged and
        reported to ``on_retry``); raises ``error`` when the policy gives up."""
        delay = policy.delay_for(error, retry, time.monotonic() - start)
        if delay is None:
            raise error
        log_retry(what, error, retry, delay)
        if self.on_retry is not None:
            self.on_retry(RetryEvent(what, error, retry + 1, delay))
        return delay

    @staticmethod
    def _removebg_request(image: ImageInput, options: RemovalOptions) -> tuple[Source, Source | None, dict[str, str]]:
        src = prepare_image(image)
        bg = prepare_bg_image(options.bg_image) if options.bg_image is not None else None
        return src, bg, options.to_fields()

    @staticmethod
    def _result(resp: gen.RawResponse, prefer_zip: bool) -> Result:
        result = Result.from_response(resp.content, resp.headers)
        if prefer_zip and result.is_zip:
            import dataclasses

            return dataclasses.replace(
                result, content=zip2png(result.content), content_type="image/png", zip_content=result.content
            )
        return result

    @staticmethod
    def _account(resp: gen.RawResponse) -> Account:
        """The generated ``Account`` model the generated parser made of the body (``Response.parsed``)."""
        if not isinstance(resp.parsed, gen.AccountModel):
            raise RemoveBgError(resp.status_code, None, UNPARSABLE_TITLE, "account: not an account object")
        return Account.from_model(resp.parsed)

    @staticmethod
    def _improve_id(resp: gen.RawResponse) -> str:
        """The id of the generated ``ImproveResult`` model (``Response.parsed``)."""
        if not isinstance(resp.parsed, gen.ImproveResultModel):
            raise RemoveBgError(resp.status_code, None, UNPARSABLE_TITLE, "improve: not an {\"id\": uuid} object")
        return str(resp.parsed.id)


class RemoveBg(_Base):
    """Synchronous remove.bg client.

    Args:
        api_key: the API key; defaults to the ``REMOVE_BG_API_KEY`` environment variable
            (``ValueError`` if neither is set).
        base_url: API root; defaults to the ``OPENBG_BASE_URL`` environment variable, else
            ``https://api.remove.bg/v1.0`` (an emulator: ``http://127.0.0.1:5000/v1.0``).
        timeout: per-operation HTTP timeout in seconds (connect, read, write), or an ``httpx.Timeout``.
        retries: most retries of a failed call (408, 429, 5xx, connection errors); see :class:`RetryPolicy`.
        retry_policy: full retry configuration (overrides ``retries``).
        headers: extra headers sent with every request.
        verify_ssl: verify TLS certificates.
        on_retry: called with a :class:`RetryEvent` before each wait for a retry (to show a rate-limit
            countdown, say); retries are also logged at DEBUG level on the ``openbg`` logger.

    Use it as a context manager, or call :meth:`close`, to release connections.
    """

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HTTP connections."""
        gen.close_sync(self._generated)

    def _call(self, what: str, send: Callable[[], gen.RawResponse]) -> gen.RawResponse:
        policy = self.retry_policy
        start = time.monotonic()
        token = gen.deadline.set(None if policy.total_timeout is None else start + policy.total_timeout)
        try:
            return self._attempts(what, send, policy, start)
        finally:
            gen.deadline.reset(token)

    def _attempts(self, what: str, send: Callable[[], gen.RawResponse], policy: RetryPolicy,
                  start: float) -> gen.RawResponse:
        retry = 0
        while True:
            try:
                return _check(send())
            except (httpx.TransportError, RemoveBgError) as exc:
                error = _as_error(exc)
            time.sleep(self._retry_delay(what, error, retry, policy, start))
            retry += 1

    @keywords_of(RemovalOptions)
    def remove_background(self, image: ImageInput, options: RemovalOptions) -> Result:
        """Remove the background of ``image`` (``POST /removebg``).

        ``image`` is a path, bytes, a binary file object, a PIL image, an ``http(s)://`` URL (sent as
        ``image_url``) or base64 / a ``data:`` URI (sent as ``image_file_b64``). The keyword arguments are
        the fields of :class:`RemovalOptions` (``size``, ``format``, ``bg_color``, ``prefer_zip``, ...),
        with remove.bg's defaults; to reuse a set of options, build a :class:`RemovalOptions` and call
        :meth:`remove_background_with`.

        Raises:
            BadRequestError, InsufficientCreditsError, AuthenticationError, RequestTimeoutError, RateLimitError,
            ServerError, RemoveBgConnectionError: see :mod:`openbg.errors`.
        """
        return self.remove_background_with(image, options)

    def remove_background_with(self, image: ImageInput, options: RemovalOptions) -> Result:
        """:meth:`remove_background` with its options given as one :class:`RemovalOptions`."""
        src, bg, fields = self._removebg_request(image, options)
        idem = str(uuid.uuid4())  # one Idempotency-Key per call, the same for its retries: charged once
        resp = self._call("removebg", lambda: gen.removebg_sync(self._generated, src, bg, fields, idem))
        return self._result(resp, options.prefer_zip)

    def account(self) -> Account:
        """Credit balance and free calls of the key (``GET /account``)."""
        return self._account(self._call("account", lambda: gen.account_sync(self._generated)))

    def improve(self, image: ImageInput, *, image_filename: str | None = None, tag: str | None = None) -> str:
        """Submit ``image`` to the Improvement Program (``POST /improve``); returns the submission id.

        ``image`` accepts the same inputs as :meth:`remove_background`; ``tag`` groups submissions.
        """
        src = prepare_image(image)
        resp = self._call("improve", lambda: gen.improve_sync(self._generated, src, image_filename, tag))
        return self._improve_id(resp)


class AsyncRemoveBg(_Base):
    """Asynchronous (asyncio) remove.bg client; same arguments and methods as :class:`RemoveBg`.

    The retry policy's ``total_timeout`` is enforced as a hard deadline on each call
    (``RemoveBgTimeoutError`` when exceeded). Use ``async with`` or ``await client.aclose()``.
    """

    _asynchronous = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connections."""
        await gen.close_async(self._generated)

    async def _call(self, what: str, send: Callable[[], Awaitable[gen.RawResponse]]) -> gen.RawResponse:
        policy = self.retry_policy
        start = time.monotonic()
        retry = 0
        while True:
            remaining = None if policy.total_timeout is None else policy.total_timeout - (time.monotonic() - start)
            try:
                async with asyncio.timeout(remaining):
                    return _check(await send())
            except TimeoutError:
                raise RemoveBgTimeoutError(
                    "Request timed out", f"total time budget of {policy.total_timeout} s exceeded"
                ) from None
            except (httpx.TransportError, RemoveBgError) as exc:
                error = _as_error(exc)
            await asyncio.sleep(self._retry_delay(what, error, retry, policy, start))
            retry += 1

    @keywords_of(RemovalOptions)
    async def remove_background(self, image: ImageInput, options: RemovalOptions) -> Result:
        """Remove the background of ``image``; see :meth:`RemoveBg.remove_background`."""
        return await self.remove_background_with(image, options)

    async def remove_background_with(self, image: ImageInput, options: RemovalOptions) -> Result:
        """:meth:`remove_background` with its options given as one :class:`RemovalOptions`."""
        src, bg, fields = self._removebg_request(image, options)
        idem = str(uuid.uuid4())  # one Idempotency-Key per call, the same for its retries: charged once
        resp = await self._call("removebg", lambda: gen.removebg_async(self._generated, src, bg, fields, idem))
        if options.prefer_zip:
            return await asyncio.to_thread(self._result, resp, True)
        return self._result(resp, False)

    async def account(self) -> Account:
        """Credit balance and free calls of the key; see :meth:`RemoveBg.account`."""
        return self._account(await self._call("account", lambda: gen.account_async(self._generated)))

    async def improve(
        self, image: ImageInput, *, image_filename: str | None = None, tag: str | None = None
    ) -> str:
        """Submit ``image`` to the Improvement Program; see :meth:`RemoveBg.improve`."""
        src = prepare_image(image)
        resp = await self._call("improve", lambda: gen.improve_async(self._generated, src, image_filename, tag))
        return self._improve_id(resp)
