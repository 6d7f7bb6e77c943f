"""The one place that talks to the generated client ``removebg_api`` (internal).

Gaps of the generated code, and how they are bridged with what it offers:

* Its ``_parse_response`` decodes every documented error status as JSON, so a
  non-JSON error body (an HTML page from a proxy, garbage) raises inside
  ``sync_detailed`` and the response is lost. An httpx response event hook, passed
  through the generated ``Client``'s ``httpx_args``, records each response in a
  per-call (context-local) slot, so the wrapper can still report status, headers
  and body ("Unable to parse response").
* Emulation controls that the spec does not model (``X-Openbg-Fail-Times``,
  ``X-Openbg-Client-Token``) and any other extra header go in the client-wide
  ``headers``; per-call headers would need ``with_headers``, which mutates the shared
  httpx client, so the wrapper does not use it.
* A hard deadline for the sync client: httpx's timeouts bound each read, so a server
  that drips a byte per read-timeout could hold one attempt open for ever. The sync
  client's httpx transport is wrapped (:class:`DeadlineTransport`, passed through
  ``httpx_args``): while a call's deadline is set (a context variable), every
  request's timeouts are capped by the time left and the response body is cut with
  ``httpx.ReadTimeout`` once the deadline passes. (The async client uses
  ``asyncio.timeout`` instead.)
* Responses: what the generated parser made of the body (``Response.parsed``: ``Account``,
  ``ImproveResult``, ``Error``) travels in :class:`RawResponse` and is what the wrapper reads; the raw
  status, headers and bytes travel with it (results are binary, and headers carry the metadata).
* Multipart booleans: the generated ``to_multipart`` writes ``str(value)``; the wrapper
  fills the model with the strings ``"true"``/``"false"`` (what remove.bg's own clients
  send) instead of Python booleans (which would go out as ``True``/``False``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from removebg_api import AuthenticatedClient
from removebg_api.api.account import get_account
from removebg_api.api.improve import submit_improvement
from removebg_api.api.removebg import remove_background
from removebg_api.models.account import Account as AccountModel
from removebg_api.models.error import Error as ErrorModel
from removebg_api.models.improve_multipart import ImproveMultipart
from removebg_api.models.improve_result import ImproveResult as ImproveResultModel
from removebg_api.models.remove_bg_multipart import RemoveBgMultipart
from removebg_api.types import File, Response

from ._inputs import Source

_current: ContextVar[list[httpx.Response] | None] = ContextVar("openbg_responses", default=None)
#: ``time.monotonic()`` value after which the sync call in this context must stop (``None``: no deadline).
deadline: ContextVar[float | None] = ContextVar("openbg_deadline", default=None)


def _past() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("the call's total time budget is exhausted")


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that raises ``httpx.ReadTimeout`` once ``deadline`` has passed."""

    def __init__(self, inner: httpx.SyncByteStream, when: float) -> None:
        self._inner = inner
        self._when = when

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._when:
                raise _past()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DeadlineTransport(httpx.BaseTransport):
    """Wraps the sync transport so that no request outlives the deadline of its call."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        when = deadline.get()
        if when is None:
            return self._inner.handle_request(request)
        left = when - time.monotonic()
        if left <= 0:
            raise _past()
        timeouts = dict(request.extensions.get("timeout") or {})
        for phase in ("connect", "read", "write", "pool"):
            current = timeouts.get(phase)
            timeouts[phase] = left if current is None else min(float(current), left)
        request.extensions["timeout"] = timeouts
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _DeadlineStream(response.stream, when)
        return response

    def close(self) -> None:
        self._inner.close()


__all__ = ["AccountModel", "ErrorModel", "ImproveResultModel", "RawResponse"]


@dataclass(frozen=True)
class RawResponse:
    """Status, headers and body of one HTTP response, and what the generated parser made of the body
    (``Response.parsed``: an ``AccountModel``, ``ImproveResultModel``, ``ErrorModel``, a ``File``; ``None``
    for a status the spec does not document, or a body the parser could not read)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    parsed: object = None


def _record(response: httpx.Response) -> None:
    slot = _current.get()
    if slot is not None:
        slot.append(response)


def _sync_hook(response: httpx.Response) -> None:
    _record(response)


async def _async_hook(response: httpx.Response) -> None:
    _record(response)


def make_client(
    *, base_url: str, api_key: str, timeout: httpx.Timeout, headers: dict[str, str], verify_ssl: bool,
    asynchronous: bool,
) -> AuthenticatedClient:
    """The generated client, authenticating with ``X-Api-Key`` (remove.bg's scheme)."""
    hook: Any = _async_hook if asynchronous else _sync_hook
    httpx_args: dict[str, Any] = {"event_hooks": {"response": [hook]}}
    if not asynchronous:
        httpx_args["transport"] = DeadlineTransport(httpx.HTTPTransport(verify=verify_ssl))
    return AuthenticatedClient(
        base_url=base_url,
        token=api_key,
        prefix="",
        auth_header_name="X-Api-Key",
        timeout=timeout,
        headers=headers,
        verify_ssl=verify_ssl,
        httpx_args=httpx_args,
    )


def close_sync(client: AuthenticatedClient) -> None:
    """Close the generated client's sync httpx client, if it was opened."""
    client.__exit__(None, None, None)


async def close_async(client: AuthenticatedClient) -> None:
    """Close the generated client's async httpx client, if it was opened."""
    await client.__aexit__(None, None, None)


def _raw(resp: Response[Any]) -> RawResponse:
    return RawResponse(int(resp.status_code), _lower(resp.headers), resp.content, resp.parsed)


def _lower(headers: MutableMapping[str, str] | httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _from_slot(slot: list[httpx.Response], exc: Exception) -> RawResponse:
    """The recorded response after the generated parser failed on its body."""
    if not slot:
        raise exc
    r = slot[-1]
    return RawResponse(r.status_code, _lower(r.headers), r.content)


def _file(src: Source) -> File:
    assert src.data is not None
    return File(payload=io.BytesIO(src.data), file_name=src.filename, mime_type=src.mime_type)


def removebg_body(src: Source, bg: Source | None, fields: Mapping[str, str]) -> RemoveBgMultipart:
    """A fresh generated multipart body (file payloads are streams, so one per attempt)."""
    wire: dict[str, Any] = dict(fields)
    if src.url is not None:
        wire["image_url"] = src.url
    elif src.b64 is not None:
        wire["image_file_b64"] = src.b64
    if bg is not None and bg.url is not None:
        wire["bg_image_url"] = bg.url
    try:
        body = RemoveBgMultipart.from_dict(wire)
    except TypeError as exc:  # the generated enum checks
        raise ValueError(str(exc)) from None
    if src.data is not None:
        body.image_file = _file(src)
    if bg is not None and bg.data is not None:
        body.bg_image_file = _file(bg)
    return body


def improve_body(src: Source, image_filename: str | None, tag: str | None) -> ImproveMultipart:
    """A fresh generated multipart body for ``POST /improve``."""
    body = ImproveMultipart()
    if src.data is not None:
        body.image_file = _file(src)
    elif src.url is not None:
        body.image_url = src.url
    elif src.b64 is not None:
        body.image_file_b64 = src.b64
    if image_filename is not None:
        body.image_filename = image_filename
    if tag is not None:
        body.tag = tag
    return body


def _call_sync(send: Callable[[], Response[Any]]) -> RawResponse:
    """Run one generated ``sync_detailed`` call, keeping the raw response if its parser fails."""
    slot: list[httpx.Response] = []
    token = _current.set(slot)
    try:
        return _raw(send())
    except (ValueError, KeyError, TypeError) as exc:
        return _from_slot(slot, exc)
    finally:
        _current.reset(token)


async def _call_async(send: Callable[[], Awaitable[Response[Any]]]) -> RawResponse:
    """Run one generated ``asyncio_detailed`` call, keeping the raw response if its parser fails."""
    slot: list[httpx.Response] = []
    token = _current.set(slot)
    try:
        return _raw(await send())
    except (ValueError, KeyError, TypeError) as exc:
        return _from_slot(slot, exc)
    finally:
        _current.reset(token)


def removebg_sync(client: AuthenticatedClient, src: Source, bg: Source | None, fields: Mapping[str, str],
                  idempotency_key: str) -> RawResponse:
    """``POST /removebg`` through ``remove_background.sync_detailed``."""
    return _call_sync(lambda: remove_background.sync_detailed(
        client=client, body=removebg_body(src, bg, fields), idempotency_key=idempotency_key))


async def removebg_async(
    client: AuthenticatedClient, src: Source, bg: Source | None, fields: Mapping[str, str], idempotency_key: str
) -> RawResponse:
    """``POST /removebg`` through ``remove_background.asyncio_detailed``."""
    return await _call_async(lambda: remove_background.asyncio_detailed(
        client=client, body=removebg_body(src, bg, fields), idempotency_key=idempotency_key))


def account_sync(client: AuthenticatedClient) -> RawResponse:
    """``GET /account`` through ``get_account.sync_detailed``."""
    return _call_sync(lambda: get_account.sync_detailed(client=client))


async def account_async(client: AuthenticatedClient) -> RawResponse:
    """``GET /account`` through ``get_account.asyncio_detailed``."""
    return await _call_async(lambda: get_account.asyncio_detailed(client=client))


def improve_sync(client: AuthenticatedClient, src: Source, image_filename: str | None, tag: str | None) -> RawResponse:
    """``POST /improve`` through ``submit_improvement.sync_detailed``."""
    return _call_sync(
        lambda: submit_improvement.sync_detailed(client=client, body=improve_body(src, image_filename, tag))
    )


async def improve_async(
    client: AuthenticatedClient, src: Source, image_filename: str | None, tag: str | None
) -> RawResponse:
    """``POST /improve`` through ``submit_improvement.asyncio_detailed``."""
    return await _call_async(
        lambda: submit_improvement.asyncio_detailed(client=client, body=improve_body(src, image_filename, tag))
    )
