"""The emulator's HTTP service (Starlette): remove.bg API v1.0 on top of the engine and the accounts.

Per /removebg request: auth → parse (multipart / urlencoded / JSON) → fetch URLs → ``engine.probe`` →
rate limit → credits check (``engine.quote``) → ``engine.remove`` in the worker pool → atomic charge →
binary or JSON response with every ``X-*`` header of the spec. Every error is answered in the remove.bg
error shape ``{"errors":[{title, code, detail}]}``, with CORS and (after auth) rate-limit headers.

Emulation controls (``X-Openbg-*`` request headers) are honoured only when the server runs with
``--test-controls`` / ``OPENBG_TEST_CONTROLS=1``; see docs/emulator.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import inspect
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.applications import Starlette
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbg_emulator import idempotency, metrics, urlfetch
from openbg_emulator.accounts import (
    Accounts,
    ImproveLimit,
    InsufficientCredits,
    KeyInfo,
    RateState,
    db_unavailable,
)
from openbg_emulator.errors import ApiError
from openbg_emulator.settings import Settings
from openbg_emulator.storage import atomic_write

log = logging.getLogger("openbg.emulator")

JSON_TYPE = "application/json; charset=utf-8"
EXPOSED_HEADERS = (
    "X-Type, X-Width, X-Height, X-Credits-Charged, X-Foreground-Top, X-Foreground-Left, "
    "X-Foreground-Width, X-Foreground-Height, X-Max-Width, X-Max-Height, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Request-Id"
)
ALLOWED_HEADERS = (
    "X-API-Key, Accept, Content-Type, Authorization, X-Openbg-Force-Status, X-Openbg-Retry-After, "
    "X-Openbg-Latency-Ms, X-Openbg-Force-Empty-Balance, X-Openbg-Fail-Times, X-Openbg-Client-Token"
)
MAX_LATENCY_MS = 60_000
BINARY_FIELDS = frozenset({"image_file", "bg_image_file"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


# ----------------------------------------------------------------------------- small helpers
def fmt_credits(c: float) -> str:
    """0.25 → "0.25", 1 → "1", 0 → "0"."""
    if float(c).is_integer():
        return str(int(c))
    return f"{c:.4f}".rstrip("0").rstrip(".")


def error_response(err: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    h = dict(headers or {})
    h.update(err.headers or {})
    return Response(
        json.dumps(err.body(), separators=(",", ":")),
        status_code=err.status or 400,
        headers=h,
        media_type=JSON_TYPE,
    )


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, headers=dict(headers or {}),
                    media_type=JSON_TYPE)


def wants_json(accept: str | None) -> bool:
    """True when the Accept header names application/json (with q > 0)."""
    if not accept:
        return False
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0].lower() != "application/json":
            continue
        q = 1.0
        for p in parts[1:]:
            if p.lower().startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 1.0
        if q > 0:
            return True
    return False


def rate_headers(rs: RateState) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(rs.limit),
        "X-RateLimit-Remaining": str(rs.remaining),
        "X-RateLimit-Reset": str(rs.reset),
    }


def openapi_text() -> str | None:
    """The hand-written openapi.yaml: packaged (``openbg_emulator/openapi.yaml``, a symlink to the repo root
    file, so editable installs serve the live file and wheels a copy), else the repo root."""
    try:
        res = resources.files("openbg_emulator") / "openapi.yaml"
        if res.is_file():
            return res.read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        pass
    repo = Path(__file__).resolve().parents[2] / "openapi.yaml"
    try:
        return repo.read_text(encoding="utf-8")
    except OSError:
        return None


# ----------------------------------------------------------------------------- worker pool
def _counted(call: Callable[[], Any]) -> Any:
    """Run one engine call counted as a request in the engine (models.request_in_progress: a model
    run takes all cores only while its request is the only one)."""
    from openbg_emulator.models import request_in_progress

    t0 = time.perf_counter()
    try:
        with request_in_progress():
            return call()
    finally:
        metrics.observe_model(time.perf_counter() - t0, _RUNTIME[0])


_RUNTIME = ["auto"]  # the runtime label of openbg_model_seconds (openvino or onnxruntime; set by create_app)


class WorkerPool:
    """Engine calls off the event loop: ``workers`` threads, at most ``queue`` more waiting; beyond that
    :meth:`run` fails at once with 503 ``server_busy``."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="openbg-engine")
        self._inflight = 0
        self._lock = threading.Lock()

    @property
    def inflight(self) -> int:
        return self._inflight

    def _release(self, _f: object = None) -> None:
        with self._lock:
            self._inflight -= 1

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._inflight >= self.capacity:
                raise ApiError("server_busy", status=503, headers={"Retry-After": "1"})
            self._inflight += 1
        try:
            fut: Future[Any] = self.executor.submit(_counted, partial(fn, *args, **kwargs))
        except BaseException:
            self._release()
            raise
        fut.add_done_callback(self._release)  # counts until the thread really finishes
        return await asyncio.wrap_future(fut)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


# ----------------------------------------------------------------------------- request bodies
class _FileTooLarge(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


class _CappedMultipart(MultiPartParser):
    """Starlette's multipart parser with a per-file byte cap enforced while streaming.

    The image fields (:data:`BINARY_FIELDS`) are collected in memory like plain fields, with or without
    a filename: the engine needs their bytes anyway, and Starlette's spooled file would roll a photo
    over 1 MB to a temporary file on disk, written chunk by chunk through the thread pool (one hop
    per 64 KiB while the request is read) and read back once complete. The cap below is the same.
    """

    spool_max_size = 1024 * 1024

    def __init__(self, headers: Headers, stream: Any, *, max_file: int, max_part: int) -> None:
        super().__init__(headers, stream, max_files=16, max_fields=1000, max_part_size=max_part)
        self.max_file = max_file
        self._file_bytes = 0
        self.ended = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        part = self._current_part
        if part.file is not None and part.field_name in BINARY_FIELDS:
            part.file.file.close()  # still in memory (nothing written yet): no file on disk
            self._files_to_close_on_error.remove(part.file.file)  # type: ignore[arg-type]
            part.file = None  # the bytes go to part.data; on_part_end keeps them as bytes

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None or self._current_part.field_name in BINARY_FIELDS:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file:
                raise _FileTooLarge()
        super().on_part_data(data, start, end)

    def on_part_end(self) -> None:
        # A file field sent without a filename (e.g. requests' files={"image_file": (None, data)}) is still
        # binary: keep its bytes instead of decoding them as text.
        part = self._current_part
        if part.file is None and part.field_name in BINARY_FIELDS:
            self.items.append((part.field_name, bytes(part.data)))  # type: ignore[arg-type]
            return
        super().on_part_end()


@dataclass
class Limits:
    max_file: int
    max_body: int
    max_field: int


async def _capped_stream(request: Request, cap: int) -> Any:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise _BodyTooLarge()
        yield chunk


async def _read_body(request: Request, cap: int) -> bytes:
    buf = bytearray()
    async for chunk in _capped_stream(request, cap):
        buf.extend(chunk)
    return bytes(buf)


def _put(fields: dict[str, object], name: str, value: object) -> None:
    # Repeated fields: the first non-empty value wins (empty values mean absent anyway).
    if name in fields and fields[name] not in ("", b"", None):
        return
    fields[name] = value


async def read_fields(request: Request, limits: Limits) -> dict[str, object]:
    """The request's fields as a flat dict: str / bytes (file parts) / JSON values.

    Raises ApiError: 400 invalid_request (malformed body), 400 file_too_large, 413 payload_too_large,
    415 unsupported_media_type.
    """
    cl = request.headers.get("content-length")
    if cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise ApiError("invalid_request", detail="Content-Length is not a number") from None
        if n > limits.max_body:
            raise ApiError("payload_too_large", status=413,
                           detail=f"Request body exceeds the limit of {limits.max_body} bytes")
    ctype = request.headers.get("content-type", "")
    mtype = ctype.split(";", 1)[0].strip().lower()
    try:
        if mtype == "multipart/form-data":
            parser = _CappedMultipart(request.headers, _capped_stream(request, limits.max_body),
                                      max_file=limits.max_file, max_part=limits.max_field)
            try:
                form = await parser.parse()
            except MultiPartException as e:
                raise ApiError("invalid_request", detail=f"Malformed multipart body: {e.message}") from None
            except (ValueError, KeyError, UnicodeError) as e:
                raise ApiError("invalid_request", detail=f"Malformed multipart body: {e}") from None
            if not parser.ended:
                await form.close()
                raise ApiError("invalid_request", detail="Malformed multipart body: no closing boundary")
            fields: dict[str, object] = {}
            try:
                for name, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        data = await value.read()
                        _put(fields, name, bytes(data))
                    else:  # str, or bytes for a filename-less file field
                        _put(fields, name, value)
            finally:
                await form.close()
            return fields
        if mtype == "application/x-www-form-urlencoded":
            body = await _read_body(request, limits.max_body)
            try:
                text = body.decode("utf-8")
                pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                                  max_num_fields=1000)
            except (UnicodeDecodeError, ValueError) as e:
                raise ApiError("invalid_request", detail=f"Malformed form body: {e}") from None
            fields = {}
            for name, value in pairs:
                _put(fields, name, value)
            return fields
        if mtype == "application/json" or (mtype.startswith("application/") and mtype.endswith("+json")):
            body = await _read_body(request, limits.max_body)
            if not body.strip():
                return {}
            try:
                obj = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise ApiError("invalid_request", detail="The JSON body is not valid UTF-8") from None
            except (ValueError, RecursionError) as e:
                raise ApiError("invalid_request", detail=f"The body is not valid JSON: {e}") from None
            if not isinstance(obj, dict):
                raise ApiError("invalid_request", detail="The JSON body must be an object")
            return {str(k): v for k, v in obj.items() if v is not None}
        if mtype == "":
            body = await _read_body(request, limits.max_body)
            if not body:
                return {}
        raise ApiError(
            "unsupported_media_type", status=415,
            detail=f"Content-Type {mtype or '(none)'!s} is not supported; use multipart/form-data, "
                   "application/x-www-form-urlencoded or application/json",
        )
    except _FileTooLarge:
        raise ApiError("file_too_large", detail=f"File exceeds limit of {limits.max_file // (1024 * 1024)}MB") from None
    except _BodyTooLarge:
        raise ApiError("payload_too_large", status=413,
                       detail=f"Request body exceeds the limit of {limits.max_body} bytes") from None


def _absent(v: object) -> bool:
    return v is None or v == "" or v == b""


def decode_b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ApiError("failed_to_read_image", detail="image_file_b64 must be a string")
    text = value.strip()
    m = re.match(r"data:[^,]*;base64,", text, re.IGNORECASE)
    if m:
        text = text[m.end():]
    text = re.sub(r"\s+", "", text)
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            data = base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            raise ApiError("failed_to_read_image", detail="image_file_b64 is not valid base64") from None
    if not data:
        raise ApiError("failed_to_read_image", detail="image_file_b64 holds no data")
    return data


# ----------------------------------------------------------------------------- emulation controls
@dataclass
class Controls:
    force_status: int | None = None
    retry_after: int = 1
    latency_ms: int = 0
    empty_balance: bool = False
    fail_times: int | None = None
    client_token: str = ""


def _parse_controls(headers: Headers) -> Controls:
    """Validate the X-Openbg-* headers (always: a malformed one is 400 invalid_request, as openapi.yaml says,
    whether or not test controls are on)."""
    c = Controls()

    def as_int(name: str, lo: int, hi: int) -> int | None:
        v = headers.get(name)
        if v is None:
            return None
        v = v.strip()
        if not re.fullmatch(r"[0-9]{1,9}", v):
            raise ApiError("invalid_request", detail=f"{name} must be an integer")
        n = int(v)
        if not lo <= n <= hi:
            raise ApiError("invalid_request", detail=f"{name} must be between {lo} and {hi}")
        return n

    fs = as_int("X-Openbg-Force-Status", 100, 999)
    if fs is not None and fs not in (429, 500, 503):
        raise ApiError("invalid_request", detail="X-Openbg-Force-Status must be 429, 500 or 503")
    c.force_status = fs
    c.retry_after = as_int("X-Openbg-Retry-After", 1, 3600) or 1
    c.latency_ms = as_int("X-Openbg-Latency-Ms", 0, MAX_LATENCY_MS) or 0
    eb = headers.get("x-openbg-force-empty-balance")
    if eb is not None:
        v = eb.strip().lower()
        if v not in ("true", "false", "1", "0"):
            raise ApiError("invalid_request", detail="X-Openbg-Force-Empty-Balance must be true or false")
        c.empty_balance = v in ("true", "1")
    c.fail_times = as_int("X-Openbg-Fail-Times", 0, 1000)
    c.client_token = (headers.get("x-openbg-client-token") or "")[:200]
    return c


def forced_error(status: int, retry_after: int) -> ApiError:
    detail = "Forced by X-Openbg-Force-Status (emulation control)"
    if status == 429:
        return ApiError("rate_limit_exceeded", detail=detail, headers={"Retry-After": str(retry_after)})
    if status == 503:
        return ApiError("server_busy", status=503, detail=detail, headers={"Retry-After": str(retry_after)})
    return ApiError("internal_error", status=500, detail=detail)


# ----------------------------------------------------------------------------- the service
@dataclass
class Ctx:
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)
    key: KeyInfo | None = None


class Service:
    def __init__(self, settings: Settings, accounts: Accounts, engine: Any = None) -> None:
        self.settings = settings
        self.accounts = accounts
        self._engine = engine  # None: import openbg_emulator.engine on first use
        self.pool = WorkerPool(settings.workers, settings.queue)
        self.io_limiter = anyio.CapacityLimiter(16)
        self.ready = threading.Event()
        self.load_error: str | None = None
        mf = settings.max_upload_bytes
        b64 = math.ceil(mf * 4 / 3) + 4096
        self.limits = Limits(max_file=mf, max_body=2 * b64 + (1 << 20), max_field=b64 + 65536)
        self._fail_counts: dict[tuple[str, str, int], int] = {}
        self._fail_lock = threading.Lock()

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from openbg_emulator import engine as engine_mod

            self._engine = engine_mod
        return self._engine

    def engine_fn(self, name: str) -> Callable[..., Any]:
        """``engine.<name>``, with ``settings=`` bound when the function takes it."""
        fn = getattr(self.engine, name)
        try:
            takes = "settings" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            takes = False
        return partial(fn, settings=self.settings) if takes else fn

    # ---------------------------------------------------------------- lifecycle
    def load_model(self) -> None:
        try:
            warm = getattr(self.engine, "warmup", None)
            if callable(warm):
                try:
                    warm(settings=self.settings)
                except TypeError:
                    warm()
            else:
                from openbg_emulator import models

                models.get_segmenter(settings=self.settings)
            log.info("model loaded; warming up")
            self._warm_pipeline()  # before ready: the first real request must not pay one-time costs
            self.ready.set()
            log.info("warm-up done; ready")
        except Exception as e:  # noqa: BLE001 - reported on /readyz and in the log
            self.load_error = str(e)
            log.error("model failed to load: %s", e)

    def _warm_pipeline(self) -> None:
        """Run one full-size and one preview removal of a synthetic photo, so that the first real request
        pays none of the one-time costs (numba-compiled matting kernels, lazy model loads, the preview
        session). A failure here is logged, not fatal: the model itself loaded."""
        import io

        from PIL import Image, ImageDraw, ImageFilter

        from openbg_emulator.options import parse_options

        im = Image.new("RGB", (640, 480), (228, 230, 232))  # > 0.25 MP: the band matting runs at size=full
        draw = ImageDraw.Draw(im)
        draw.ellipse((200, 90, 440, 410), fill=(176, 48, 40))
        draw.rectangle((290, 40, 350, 120), fill=(60, 60, 70))
        buf = io.BytesIO()
        im.filter(ImageFilter.GaussianBlur(1.5)).save(buf, "JPEG", quality=90)
        data = buf.getvalue()
        for size in ("full", "preview"):
            try:
                self.engine_fn("remove")(data, parse_options({"image_file": data, "size": size}), bg_image=None)
            except Exception as e:  # noqa: BLE001 - e.g. unknown_foreground is fine: the steps before it ran
                log.info("warm-up removal (size=%s): %s", size, e)
        if self.settings.workers > 1:
            try:  # concurrent inferences run on a one-thread session (models.Concurrency): make it now
                from openbg_emulator import models

                models.ensure_concurrent()
            except Exception as e:  # noqa: BLE001 - the first concurrent run makes it then
                log.info("warm-up of the concurrent session: %s", e)

    # ---------------------------------------------------------------- plumbing
    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=self.io_limiter)
        except Exception as e:
            if not db_unavailable(e):
                raise
            log.warning("database unavailable: %s", (str(e).splitlines() or [type(e).__name__])[0])
            raise ApiError("server_busy", status=503, title="Service unavailable",
                           detail="The account database is unavailable; nothing was charged; retry after "
                                  "the given delay", headers={"Retry-After": "2"}) from None
        finally:
            metrics.add_db_time(time.perf_counter() - t0)

    async def handle(self, request: Request, body: Callable[[Request, Ctx], Awaitable[Response]]) -> Response:
        ctx = Ctx(request_id=uuid.uuid4().hex[:16])
        try:
            resp = await body(request, ctx)
        except ApiError as e:
            resp = error_response(e, ctx.headers)
        except ClientDisconnect:  # the client left (or the HTTP layer cut a dripping body): nobody reads this
            log.info("request %s %s %s: client disconnected before the body was read", ctx.request_id,
                     request.method, request.url.path)
            resp = error_response(ApiError("invalid_request", status=400, detail="The client disconnected"),
                                  ctx.headers)
        except Exception:
            log.exception("request %s %s %s failed", ctx.request_id, request.method, request.url.path)
            resp = error_response(
                ApiError("internal_error", status=500,
                         detail=f"Unexpected server error; request id {ctx.request_id}"),
                ctx.headers,
            )
        resp.headers["X-Request-Id"] = ctx.request_id
        return resp

    async def authenticate(self, request: Request, ctx: Ctx) -> KeyInfo:
        key = (request.headers.get("x-api-key") or "").strip() or None
        if key is None:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                key = token.strip()
        if key is None or key.strip() == "":
            raise ApiError("auth_failed", title="Missing API Key", detail="Provide the API key in the X-API-Key header")
        info = await self._db(self.accounts.authenticate, key.strip())
        if info is None:
            raise ApiError("auth_failed", title="API Key invalid")
        ctx.key = info
        ctx.headers.update(rate_headers(await self._db(self.accounts.rate.peek, info.id, info.rate_limit)))
        return info

    async def controls(self, request: Request, ctx: Ctx) -> Controls:
        """Apply the emulation controls that act before processing; returns them for the later ones."""
        c = _parse_controls(request.headers)
        if not self.settings.test_controls:
            return Controls()
        if c.latency_ms:
            await asyncio.sleep(c.latency_ms / 1000)
        assert ctx.key is not None
        if c.fail_times is not None:
            status = c.force_status or 503
            k = (ctx.key.id, c.client_token, c.fail_times)
            with self._fail_lock:
                n = self._fail_counts.get(k, 0)
                self._fail_counts[k] = n + 1
                if len(self._fail_counts) > 10000:
                    self._fail_counts.clear()
            if n < c.fail_times:
                raise forced_error(status, c.retry_after)
        elif c.force_status is not None:
            raise forced_error(c.force_status, c.retry_after)
        return c

    async def consume_rate(self, ctx: Ctx, cost: int) -> None:
        assert ctx.key is not None
        rs = await self._db(self.accounts.rate.consume, ctx.key.id, ctx.key.rate_limit, cost)
        ctx.headers.update(rate_headers(rs))
        if not rs.allowed:
            raise ApiError(
                "rate_limit_exceeded",
                detail=f"This request needs {cost} of the {rs.limit} megapixel images per window; "
                       f"{rs.remaining} left, retry after {rs.retry_after} s",
                headers={"Retry-After": str(rs.retry_after)},
            )

    async def fetch(self, url: str, which: str) -> bytes:
        s = self.settings
        return await anyio.to_thread.run_sync(
            partial(urlfetch.fetch, url, which=which, allow_private=s.allow_private_urls,
                    max_bytes=s.max_upload_bytes, total_timeout=s.fetch_timeout_s,
                    loopback_only=s.fetch_loopback_only),
            limiter=self.io_limiter,
        )

    def check_size(self, data: bytes) -> None:
        if len(data) > self.settings.max_upload_bytes:
            raise ApiError("file_too_large",
                           detail=f"File exceeds limit of {self.settings.max_upload_bytes // (1024 * 1024)}MB")

    # ---------------------------------------------------------------- endpoints
    async def removebg(self, request: Request, ctx: Ctx, force_json: bool = False) -> Response:
        key = await self.authenticate(request, ctx)
        controls = await self.controls(request, ctx)
        fields = await read_fields(request, self.limits)
        idem = idempotency.from_request(request.headers, fields)  # Idempotency-Key: a repeat is not charged twice
        from openbg_emulator.options import parse_options

        options = await anyio.to_thread.run_sync(parse_options, fields, limiter=self.io_limiter)
        request.state.openbg_size = str(options.size)  # the size tier of metrics and the access log
        if options.image is not None:
            data = options.image
        elif options.image_url is not None:
            data = await self.fetch(options.image_url, "image")
        else:  # parse_options guarantees a source; keep the check for safety
            raise ApiError("missing_source")
        self.check_size(data)
        bg = options.bg_image
        if bg is None and options.bg_image_url is not None:
            bg = await self.fetch(options.bg_image_url, "bg")
        if bg is not None:
            self.check_size(bg)
        info = await anyio.to_thread.run_sync(self.engine_fn("probe"), data, limiter=self.io_limiter)
        if bg is not None:
            await anyio.to_thread.run_sync(self.engine_fn("probe"), bg, limiter=self.io_limiter)
        quote = self.engine_fn("quote")(info, options)
        await self.consume_rate(ctx, int(quote.rate_cost))
        if controls.empty_balance:
            raise ApiError("insufficient_credits", detail="Forced by X-Openbg-Force-Empty-Balance (emulation control)")
        can_pay = await self._db(self.accounts.can_pay, key, float(quote.credits), bool(quote.preview), idem)
        if not can_pay and options.size == "auto" and not quote.preview:
            # size=auto is "the highest resolution available for the image and the account's credits":
            # with too few credits for a full-size result, a preview (free call or 0.25 credits) it is.
            preview_options = dataclasses.replace(options, size="preview")
            preview_quote = self.engine_fn("quote")(info, preview_options)
            if await self._db(self.accounts.can_pay, key, float(preview_quote.credits), bool(preview_quote.preview),
                              idem):
                options, quote, can_pay = preview_options, preview_quote, True
                request.state.openbg_size = "preview"  # what is delivered, for metrics and the access log
        if not can_pay:
            raise ApiError(
                "insufficient_credits",
                detail=f"This request costs {fmt_credits(quote.credits)} "
                       f"credit{'' if quote.credits == 1 else 's'}; the balance is too low"
                       + (" and no free calls are left for it" if quote.preview
                          else " (free calls pay for previews only: ask for size=preview or size=auto)"),
            )
        result = await self.pool.run(self.engine_fn("remove"), data, options, bg_image=bg)
        preview = bool(getattr(result, "preview", float(result.credits) <= 0.25 + 1e-9))
        try:
            charge = await self._db(self.accounts.charge, key.id, float(result.credits), preview, ctx.request_id,
                                    idem)
        except InsufficientCredits:
            raise ApiError("insufficient_credits",
                           detail="The balance was used up by concurrent requests; nothing was charged") from None
        h = dict(ctx.headers)
        if result.type:
            h["X-Type"] = str(result.type)
        fg = result.foreground
        h.update({
            "X-Width": str(int(result.width)),
            "X-Height": str(int(result.height)),
            "X-Credits-Charged": fmt_credits(charge.credits),
            "X-Foreground-Top": str(int(fg.top)),
            "X-Foreground-Left": str(int(fg.left)),
            "X-Foreground-Width": str(int(fg.width)),
            "X-Foreground-Height": str(int(fg.height)),
            "X-Max-Width": str(int(result.max_width)),
            "X-Max-Height": str(int(result.max_height)),
        })
        if charge.replayed:
            h[idempotency.REPLAYED] = "true"
        if force_json or wants_json(request.headers.get("accept")):
            body = {"data": {
                "result_b64": base64.b64encode(result.content).decode("ascii"),
                "foreground_top": int(fg.top),
                "foreground_left": int(fg.left),
                "foreground_width": int(fg.width),
                "foreground_height": int(fg.height),
            }}
            return json_response(body, headers=h)
        return Response(result.content, headers=h, media_type=result.content_type)

    async def account(self, request: Request, ctx: Ctx) -> Response:
        key = await self.authenticate(request, ctx)
        controls = await self.controls(request, ctx)
        await self.consume_rate(ctx, 1)
        info = await self._db(self.accounts.get, key.id)
        if info is None:  # revoked and deleted concurrently
            raise ApiError("auth_failed", title="API Key invalid")
        total = 0.0 if controls.empty_balance else float(info.credits)
        free = 0 if controls.empty_balance else int(info.free_calls_left)
        body = {"data": {"attributes": {
            "credits": {"total": total, "subscription": 0.0, "payg": total, "enterprise": 0.0},
            "api": {"free_calls": free, "sizes": "all"},
        }}}
        return json_response(body, headers=ctx.headers)

    async def improve(self, request: Request, ctx: Ctx) -> Response:
        key = await self.authenticate(request, ctx)
        await self.controls(request, ctx)
        fields = await read_fields(request, self.limits)
        sources = [n for n in ("image_file", "image_file_b64", "image_url") if not _absent(fields.get(n))]
        if not sources:
            raise ApiError("missing_source")
        if len(sources) > 1:
            raise ApiError("multiple_sources")
        filename = _text_param(fields.get("image_filename"), "image_filename", "invalid_image_filename")
        tag = _text_param(fields.get("tag"), "tag", "invalid_tag")
        src = sources[0]
        if src == "image_file":
            data = fields["image_file"]
            if not isinstance(data, bytes):
                raise ApiError("invalid_request", detail="image_file must be a file part")
        elif src == "image_file_b64":
            data = decode_b64(fields["image_file_b64"])
        else:
            url = fields["image_url"]
            if not isinstance(url, str):
                raise ApiError("invalid_image_url", detail="image_url must be a string")
            data = await self.fetch(url, "image")
        self.check_size(data)
        info = await anyio.to_thread.run_sync(self.engine_fn("probe"), data, limiter=self.io_limiter)
        await self.consume_rate(ctx, 1)
        try:
            await self._db(self.accounts.take_improve_slot, key.id)
        except ImproveLimit:
            raise ApiError("improve_limit_reached",
                           detail=f"At most {self.accounts.improve_per_day} submissions a day per API key") from None
        sub_id = str(uuid.uuid4())
        fmt = str(getattr(info, "format", "bin"))
        ext = {"jpeg": "jpg"}.get(fmt, fmt)
        meta = {
            "id": sub_id,
            "key_id": key.id,
            "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "image_filename": filename,
            "tag": tag,
            "source": src,
            "image_url": fields.get("image_url") if src == "image_url" else None,
            "format": fmt,
            "width": int(info.width),
            "height": int(info.height),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "file": f"{sub_id}.{ext}",
        }
        try:
            await anyio.to_thread.run_sync(
                partial(store_submission, self.settings.improve_dir, sub_id, ext, data, meta),
                limiter=self.io_limiter,
            )
        except OSError as e:
            await self._db(self.accounts.release_improve_slot, key.id)
            log.error("request %s: could not store improve submission: %s", ctx.request_id, e.strerror or e)
            raise ApiError("internal_error", status=500,
                           detail=f"Could not store the submission ({e.strerror or 'I/O error'}); "
                                  f"nothing was kept; request id {ctx.request_id}") from None
        return json_response({"id": sub_id}, headers=ctx.headers)


def _text_param(value: object, name: str, code: str) -> str | None:
    if _absent(value):
        return None
    if not isinstance(value, str):
        raise ApiError(code, detail=f"{name} must be a string")
    if len(value) > 255:
        raise ApiError(code, detail=f"{name} is longer than 255 characters")
    if ".." in value or "/" in value or "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ApiError(code, detail=f"{name} must not contain '..', '/', '\\' or control characters")
    return value


def store_submission(directory: Path, sub_id: str, ext: str, data: bytes, meta: Mapping[str, Any]) -> None:
    """The image first, then its metadata (the metadata file marks a complete submission)."""
    directory.mkdir(parents=True, exist_ok=True)
    img = directory / f"{sub_id}.{ext}"
    atomic_write(img, data)
    try:
        atomic_write(directory / f"{sub_id}.json", json.dumps(meta, indent=2).encode("utf-8"))
    except BaseException:
        with contextlib.suppress(OSError):
            img.unlink()
        raise


# ----------------------------------------------------------------------------- ASGI glue
class CorsMiddleware:
    """``Access-Control-Allow-Origin: *`` and exposed headers on every response; answers preflight."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/admin"):  # the console: same origin only
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            resp = Response(status_code=204, headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Expose-Headers": EXPOSED_HEADERS,
                "Access-Control-Max-Age": "600",
            })
            await resp(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {k.lower() for k, _ in raw}
                if b"access-control-allow-origin" not in names:
                    raw.append((b"access-control-allow-origin", b"*"))
                if b"access-control-expose-headers" not in names:
                    raw.append((b"access-control-expose-headers", EXPOSED_HEADERS.encode()))
                message = dict(message)
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_cors)


def create_app(settings: Settings, accounts: Accounts | None = None, engine: Any = None,
               load_model: bool = True) -> Starlette:
    if accounts is None:
        accounts = open_accounts(settings)
    svc = Service(settings, accounts, engine)

    async def removebg(request: Request) -> Response:
        return await svc.handle(request, svc.removebg)

    async def removebg_json(request: Request) -> Response:
        return await svc.handle(request, partial(svc.removebg, force_json=True))

    async def account(request: Request) -> Response:
        return await svc.handle(request, svc.account)

    async def improve(request: Request) -> Response:
        return await svc.handle(request, svc.improve)

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> Response:
        if svc.ready.is_set():
            from openbg_emulator import models as _models

            return json_response({"status": "ready", "runtime": _models.loaded_runtimes()})
        detail = svc.load_error or "The model is loading and warming up"
        return error_response(ApiError("server_busy", status=503, title="Not ready", detail=detail,
                                       headers={"Retry-After": "1"}))

    async def openapi(request: Request) -> Response:
        text = openapi_text()
        if text is None:
            return error_response(ApiError("not_found", status=404, detail="openapi.yaml is not installed"))
        return Response(text, media_type="application/yaml; charset=utf-8")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        if status == 405:
            err = ApiError("method_not_allowed", status=405,
                           detail=f"{request.method} is not allowed on {request.url.path}")
            resp = error_response(err, getattr(exc, "headers", None) or {})
        elif status == 404:
            resp = error_response(ApiError("not_found", status=404, detail=f"No route {request.url.path}"))
        else:
            resp = error_response(ApiError("invalid_request", status=status if 400 <= status < 600 else 400,
                                           title=str(getattr(exc, "detail", "Error"))))
        return resp

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        if load_model:
            threading.Thread(target=svc.load_model, name="openbg-model-load", daemon=True).start()
        else:
            svc.ready.set()
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(svc.pool.shutdown)
            accounts.close()

    routes = [
        Route("/v1.0/removebg", removebg, methods=["POST"]),
        Route("/v1.0/removebg.json", removebg_json, methods=["POST"]),
        Route("/v1.0/account", account, methods=["GET"]),
        Route("/v1.0/improve", improve, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.yaml", openapi, methods=["GET"]),
    ]
    from openbg_emulator import web  # the pages: / (try it), /docs, /admin (docs/web.md)

    routes += web.routes(svc, settings)
    if settings.metrics == "api":
        routes.append(Route("/metrics", metrics.metrics_endpoint, methods=["GET"]))
    _RUNTIME[0] = _runtime_label(settings)
    metrics.watch_queue(lambda: svc.pool.inflight)
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.add_middleware(CorsMiddleware)
    app.add_middleware(metrics.MetricsMiddleware)
    app.state.service = svc
    return app


def _runtime_label(settings: Settings) -> str:
    """The model runtime the metrics label model time with (openvino, onnxruntime, ...)."""
    try:
        from openbg_emulator import runtime

        return runtime.choose(settings).runtime
    except Exception:  # noqa: BLE001 - a label, never a reason to fail start-up
        return settings.device


def open_accounts(settings: Settings) -> Accounts:
    settings.resolved_state_dir.mkdir(parents=True, exist_ok=True)
    return Accounts(
        settings.resolved_database_url,
        default_free_calls=settings.free_calls,
        default_rate_limit=settings.rate_limit,
        improve_per_day=settings.improve_per_day,
        rate_window_s=settings.rate_window_s,
    )

