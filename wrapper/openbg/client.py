"""The clients: :class:`RemoveBg` (sync) and :class:`AsyncRemoveBg` (asyncio).

Both are thin, typed layers over the generated client ``removebg_api``: they
build the generated request models, call the generated ``sync_detailed`` /
``asyncio_detailed`` functions, and turn the generated ``Response`` into a
:class:`~openbg.results.Result`, an :class:`~openbg.results.Account` or a
:class:`~openbg.errors.RemoveBgError`, retrying as :class:`~openbg.RetryPolicy` says. Each removal
sends a fresh ``Idempotency-Key`` (the same for all its retries), so that an openbg server charges a
retried call once even when an earlier answer was lost.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Self, TypeAlias

import httpx
from removebg_api.models import channels as _gen_channels
from removebg_api.models import format_ as _gen_format
from removebg_api.models import quality as _gen_quality
from removebg_api.models import shadow_opacity_auto as _gen_shadow_opacity_auto
from removebg_api.models import shadow_type as _gen_shadow_type
from removebg_api.models import size as _gen_size
from removebg_api.models import subject_type as _gen_subject_type
from removebg_api.models import type_level as _gen_type_level

from . import _generated as gen
from ._inputs import BgImageInput, ImageInput, Source, prepare_bg_image, prepare_image
from ._retry import RetryEvent, RetryPolicy, log_retry
from .errors import RemoveBgConnectionError, RemoveBgError, RemoveBgTimeoutError, error_from_response
from .results import Account, Result
from .zipcompose import zip2png

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncRemoveBg",
    "Channels",
    "Format",
    "Quality",
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

# The parameter types are the generated client's (made from openapi.yaml's enums): a value added to the spec
# and regenerated (./codegen.sh) is accepted here, by mypy and by the CLI's choices, with no hand edit.
#: Output size tier (``small``/``regular`` are aliases of ``preview``, ``4k`` of ``full``).
Size: TypeAlias = _gen_size.Size
#: Foreground type hint.
SubjectType: TypeAlias = _gen_subject_type.SubjectType
#: Granularity of the detected class reported as ``Result.type`` (``none``: not reported).
TypeLevel: TypeAlias = _gen_type_level.TypeLevel
#: Result format (``zip`` = ``color.jpg`` + ``alpha.png``).
Format: TypeAlias = _gen_format.Format
#: ``rgba`` (cut-out) or ``alpha`` (the matte only).
Channels: TypeAlias = _gen_channels.Channels
#: Shadow kind; a mapping ``{detected type: kind}`` sets types individually.
ShadowType: TypeAlias = _gen_shadow_type.ShadowType
#: Shadow opacity 0–100 or ``"auto"``; a mapping ``{detected type: opacity}`` sets types individually.
ShadowOpacity: TypeAlias = int | _gen_shadow_opacity_auto.ShadowOpacityAuto
#: Emulator extension: speed/quality trade-off of the matting (ignored by remove.bg).
Quality: TypeAlias = _gen_quality.Quality


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _fields(
    *,
    size: str,
    type: str,
    type_level: str | int,
    format: str,
    roi: str | None,
    crop: bool,
    crop_margin: str | None,
    scale: str | int | None,
    position: str | None,
    channels: str,
    add_shadow: bool,
    shadow_type: ShadowType | Mapping[str, ShadowType] | None,
    shadow_opacity: ShadowOpacity | Mapping[str, ShadowOpacity] | None,
    semitransparency: bool,
    bg_color: str | None,
    quality: str | None,
) -> dict[str, str]:
    """The request's text fields as remove.bg expects them in a form (spec §5)."""
    f: dict[str, str] = {
        "size": size,
        "type": type,
        "type_level": str(type_level),
        "format": format,
        "channels": channels,
        "crop": _bool(crop),
        "semitransparency": _bool(semitransparency),
    }
    if roi is not None:
        f["roi"] = roi
    if crop_margin is not None:
        f["crop_margin"] = crop_margin
    if scale is not None:
        f["scale"] = f"{scale}%" if isinstance(scale, int) else scale
    if position is not None:
        f["position"] = position
    if add_shadow:
        f["add_shadow"] = "true"
    for name, value in (("shadow_type", shadow_type), ("shadow_opacity", shadow_opacity)):
        if value is None:
            continue
        if isinstance(value, Mapping):
            for kind, v in value.items():
                f[f"{name}[{kind}]"] = str(v)
        else:
            f[name] = str(value)
    if bg_color is not None:
        f["bg_color"] = bg_color
    if quality is not None:
        f["quality"] = quality
    return f


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


def _check(resp: gen.RawResponse) -> gen.RawResponse:
    """Return a 2xx response; raise the matching :class:`RemoveBgError` otherwise."""
    if 200 <= resp.status_code < 300:
        return resp
    raise error_from_response(resp.status_code, resp.content, resp.headers)


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

    def _before_retry(self, what: str, error: RemoveBgError, retry: int, delay: float) -> None:
        log_retry(what, error, retry, delay)
        if self.on_retry is not None:
            self.on_retry(RetryEvent(what, error, retry + 1, delay))

    @staticmethod
    def _removebg_request(image: ImageInput, bg_image: BgImageInput | None, fields: dict[str, str],
                          prefer_zip: bool) -> tuple[Source, Source | None, dict[str, str]]:
        src = prepare_image(image)
        bg = prepare_bg_image(bg_image) if bg_image is not None else None
        if prefer_zip:
            if fields["format"] not in ("auto", "png", "zip"):
                raise ValueError("prefer_zip=True needs format 'auto', 'png' or 'zip'")
            fields = {**fields, "format": "zip"}
        return src, bg, fields

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
    def _improve_id(resp: gen.RawResponse) -> str:
        try:
            ident = json.loads(resp.content.decode("utf-8"))["id"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise RemoveBgError(resp.status_code, None, "Unable to parse response", f"improve: {exc!r}") from exc
        return str(ident)


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
            except httpx.UnsupportedProtocol:
                raise
            except httpx.TransportError as exc:
                error = _transport_error(exc)
            except RemoveBgError as exc:
                error = exc
            delay = policy.delay_for(error, retry, time.monotonic() - start)
            if delay is None:
                raise error
            self._before_retry(what, error, retry, delay)
            time.sleep(delay)
            retry += 1

    def remove_background(
        self,
        image: ImageInput,
        *,
        size: Size = "preview",
        type: SubjectType = "auto",
        type_level: TypeLevel = "1",
        format: Format = "auto",
        roi: str | None = None,
        crop: bool = False,
        crop_margin: str | None = None,
        scale: str | int | None = None,
        position: str | None = None,
        channels: Channels = "rgba",
        add_shadow: bool = False,
        shadow_type: ShadowType | Mapping[str, ShadowType] | None = None,
        shadow_opacity: ShadowOpacity | Mapping[str, ShadowOpacity] | None = None,
        semitransparency: bool = True,
        bg_color: str | None = None,
        bg_image: BgImageInput | None = None,
        quality: Quality | None = None,
        prefer_zip: bool = False,
        extra_fields: Mapping[str, str] | None = None,
    ) -> Result:
        """Remove the background of ``image`` (``POST /removebg``).

        Args:
            image: a path, bytes, a binary file object, a PIL image, an ``http(s)://`` URL
                (sent as ``image_url``) or base64 / a ``data:`` URI (sent as ``image_file_b64``).
            size: output size tier; remove.bg's default ``preview`` (0.25 MP, 0.25 credits).
            type: foreground type hint.
            type_level: class granularity of ``Result.type``.
            format: result format; ``auto`` gives PNG if the result has transparency, else JPG.
            roi: region of interest ``"x1 y1 x2 y2"`` (``px`` or ``%`` each); default the whole image.
            crop: crop off empty regions.
            crop_margin: margin added when cropping (``"10px"``, ``"5% 10%"``, four values).
            scale: subject scale ``"10%"``..``"100%"`` (an int means percent) or ``"original"``.
            position: ``"original"``, ``"center"`` or ``"X% Y%"`` (defaults to center when scaling).
            channels: ``rgba`` or ``alpha`` (the matte only).
            add_shadow: deprecated remove.bg flag (a car shadow for cars).
            shadow_type: shadow kind, or ``{type: kind}`` for the per-type form.
            shadow_opacity: 0–100 or ``"auto"``, or ``{type: opacity}``.
            semitransparency: keep semi-transparent regions (car windows).
            bg_color: background colour: hex (``"81d4fa"``, ``"81d4fa77"``) or a colour name.
            bg_image: background image: a path, bytes, a file object, a PIL image or an ``http(s)`` URL.
            quality: emulator extension (``fast``/``balanced``/``best``); omit for remove.bg.
            prefer_zip: ask for ``format=zip`` (smaller, faster, above 10 MP) and compose the PNG
                locally; the result's ``content`` is then that PNG (``zip_content`` keeps the ZIP).
            extra_fields: more form fields sent as they are (an API option this client has no keyword
                for yet); a name given here replaces the keyword's value.

        Raises:
            BadRequestError, InsufficientCreditsError, AuthenticationError, RequestTimeoutError, RateLimitError,
            ServerError, RemoveBgConnectionError: see :mod:`openbg.errors`.
        """
        fields = _fields(
            size=size, type=type, type_level=type_level, format=format, roi=roi, crop=crop,
            crop_margin=crop_margin, scale=scale, position=position, channels=channels,
            add_shadow=add_shadow, shadow_type=shadow_type, shadow_opacity=shadow_opacity,
            semitransparency=semitransparency, bg_color=bg_color, quality=quality,
        )
        fields.update(extra_fields or {})
        src, bg, fields = self._removebg_request(image, bg_image, fields, prefer_zip)
        idem = str(uuid.uuid4())  # one Idempotency-Key per call, the same for its retries: charged once
        resp = self._call("removebg", lambda: gen.removebg_sync(self._generated, src, bg, fields, idem))
        return self._result(resp, prefer_zip)

    def account(self) -> Account:
        """Credit balance and free calls of the key (``GET /account``)."""
        resp = self._call("account", lambda: gen.account_sync(self._generated))
        try:
            body = json.loads(resp.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RemoveBgError(resp.status_code, None, "Unable to parse response", str(exc)) from exc
        return Account.from_json(body)

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
            except httpx.UnsupportedProtocol:
                raise
            except httpx.TransportError as exc:
                error = _transport_error(exc)
            except RemoveBgError as exc:
                error = exc
            delay = policy.delay_for(error, retry, time.monotonic() - start)
            if delay is None:
                raise error
            self._before_retry(what, error, retry, delay)
            await asyncio.sleep(delay)
            retry += 1

    async def remove_background(
        self,
        image: ImageInput,
        *,
        size: Size = "preview",
        type: SubjectType = "auto",
        type_level: TypeLevel = "1",
        format: Format = "auto",
        roi: str | None = None,
        crop: bool = False,
        crop_margin: str | None = None,
        scale: str | int | None = None,
        position: str | None = None,
        channels: Channels = "rgba",
        add_shadow: bool = False,
        shadow_type: ShadowType | Mapping[str, ShadowType] | None = None,
        shadow_opacity: ShadowOpacity | Mapping[str, ShadowOpacity] | None = None,
        semitransparency: bool = True,
        bg_color: str | None = None,
        bg_image: BgImageInput | None = None,
        quality: Quality | None = None,
        prefer_zip: bool = False,
        extra_fields: Mapping[str, str] | None = None,
    ) -> Result:
        """Remove the background of ``image``; see :meth:`RemoveBg.remove_background`."""
        fields = _fields(
            size=size, type=type, type_level=type_level, format=format, roi=roi, crop=crop,
            crop_margin=crop_margin, scale=scale, position=position, channels=channels,
            add_shadow=add_shadow, shadow_type=shadow_type, shadow_opacity=shadow_opacity,
            semitransparency=semitransparency, bg_color=bg_color, quality=quality,
        )
        fields.update(extra_fields or {})
        src, bg, fields = self._removebg_request(image, bg_image, fields, prefer_zip)
        idem = str(uuid.uuid4())  # one Idempotency-Key per call, the same for its retries: charged once
        resp = await self._call("removebg", lambda: gen.removebg_async(self._generated, src, bg, fields, idem))
        if prefer_zip:
            return await asyncio.to_thread(self._result, resp, prefer_zip)
        return self._result(resp, prefer_zip)

    async def account(self) -> Account:
        """Credit balance and free calls of the key; see :meth:`RemoveBg.account`."""
        resp = await self._call("account", lambda: gen.account_async(self._generated))
        try:
            body = json.loads(resp.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RemoveBgError(resp.status_code, None, "Unable to parse response", str(exc)) from exc
        return Account.from_json(body)

    async def improve(
        self, image: ImageInput, *, image_filename: str | None = None, tag: str | None = None
    ) -> str:
        """Submit ``image`` to the Improvement Program; see :meth:`RemoveBg.improve`."""
        src = prepare_image(image)
        resp = await self._call("improve", lambda: gen.improve_async(self._generated, src, image_filename, tag))
        return self._improve_id(resp)
