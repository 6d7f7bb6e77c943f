"""The remove.bg API v1.0 service: one :class:`Service` per app, on top of the engine and the accounts.

Per /removebg request: auth → parse (multipart / urlencoded / JSON) → fetch URLs → ``engine.probe`` →
rate limit and credits check against ``engine.plan`` → ``engine.remove`` of that plan in the worker pool → atomic charge →
binary or JSON response with every ``X-*`` header of the spec. Every error is answered in the remove.bg
error shape ``{"errors":[{title, code, detail}]}``, with CORS and (after auth) rate-limit headers.

Emulation controls (``X-Openbg-*`` request headers) are honoured only when the server runs with
``--test-controls`` / ``OPENBG_TEST_CONTROLS=1``; see docs/emulator.md.

Around it: ``app`` (routes, middleware, start-up), ``bodies`` (request bodies → fields), ``controls``
(the ``X-Openbg-*`` headers), ``responses`` (error shape, JSON, headers), ``workers`` (the engine's
thread pool), ``cors`` and ``improve`` (POST /improve).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from openbg_emulator import idempotency, metrics, urlfetch
from openbg_emulator.accounts import (
    Accounts,
    InsufficientCredits,
    KeyInfo,
    db_unavailable,
)
from openbg_emulator.bodies import Limits, read_fields
from openbg_emulator.controls import Controls, forced_error, parse_controls
from openbg_emulator.engine import Engine, EngineLike
from openbg_emulator.errors import ApiError
from openbg_emulator.improve import submit_improvement
from openbg_emulator.responses import (
    error_response,
    fmt_credits,
    json_response,
    rate_headers,
    wants_json,
)
from openbg_emulator.settings import Settings
from openbg_emulator.workers import WorkerPool, runtime_label

log = logging.getLogger("openbg.emulator")


# ----------------------------------------------------------------------------- the service
@dataclass
class Ctx:
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)
    key: KeyInfo | None = None


class Service:
    def __init__(self, settings: Settings, accounts: Accounts, engine: EngineLike | None = None) -> None:
        self.settings = settings
        self.accounts = accounts
        self.engine: EngineLike = engine if engine is not None else Engine(settings)
        #: the runtime label of openbg_model_seconds (openvino or onnxruntime)
        self.runtime_label = runtime_label(settings)
        self.pool = WorkerPool(settings.workers, settings.queue)
        self.io_limiter = anyio.CapacityLimiter(16)
        self.ready = threading.Event()
        self.load_error: str | None = None
        mf = settings.max_upload_bytes
        b64 = math.ceil(mf * 4 / 3) + 4096
        self.limits = Limits(max_file=mf, max_body=2 * b64 + (1 << 20), max_field=b64 + 65536)
        self._fail_counts: dict[tuple[str, str, int], int] = {}
        self._fail_lock = threading.Lock()

    def in_engine(self, call: Callable[[], Any]) -> Any:
        """Run one engine call (in a worker thread) counted as a request in the engine (a model run takes
        all cores only while its request is the only one), timed for ``openbg_model_seconds``."""
        t0 = time.perf_counter()
        try:
            with self.engine.request():
                return call()
        finally:
            metrics.observe_model(time.perf_counter() - t0, self.runtime_label)

    # ---------------------------------------------------------------- lifecycle
    def load_model(self) -> None:
        try:
            self.engine.warmup(concurrent=self.settings.workers > 1)
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
                self.engine.remove(data, parse_options({"image_file": data, "size": size}))
            except Exception as e:  # noqa: BLE001 - e.g. unknown_foreground is fine: the steps before it ran
                log.info("warm-up removal (size=%s): %s", size, e)

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
        info: KeyInfo | None = await self._db(self.accounts.authenticate, key.strip())
        if info is None:
            raise ApiError("auth_failed", title="API Key invalid")
        ctx.key = info
        ctx.headers.update(rate_headers(await self._db(self.accounts.rate.peek, info.id, info.rate_limit)))
        return info

    async def controls(self, request: Request, ctx: Ctx) -> Controls:
        """Apply the emulation controls that act before processing; returns them for the later ones."""
        c = parse_controls(request.headers)
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
        info = await anyio.to_thread.run_sync(self.engine.probe, data, limiter=self.io_limiter)
        if bg is not None:
            await anyio.to_thread.run_sync(self.engine.probe, bg, limiter=self.io_limiter)
        plan = self.engine.plan(info, options)
        await self.consume_rate(ctx, plan.rate_cost)
        if controls.empty_balance:
            raise ApiError("insufficient_credits", detail="Forced by X-Openbg-Force-Empty-Balance (emulation control)")
        can_pay = await self._db(self.accounts.can_pay, key, plan.credits, plan.preview, idem)
        # size=auto is "the highest resolution available for the image and the account's credits":
        # with too few credits for a full-size result, a preview (free call or 0.25 credits) it is.
        fallback = plan.fallback
        if not can_pay and fallback is not None and await self._db(self.accounts.can_pay, key, fallback.credits,
                                                                   fallback.preview, idem):
            plan, can_pay = fallback, True
            request.state.openbg_size = "preview"  # what is delivered, for metrics and the access log
        if not can_pay:
            raise ApiError(
                "insufficient_credits",
                detail=f"This request costs {fmt_credits(plan.credits)} "
                       f"credit{'' if plan.credits == 1 else 's'}; the balance is too low"
                       + (" and no free calls are left for it" if plan.preview
                          else " (free calls pay for previews only: ask for size=preview or size=auto)"),
            )
        result = await self.pool.run(self.in_engine, partial(self.engine.remove, data, options, plan=plan, bg_image=bg))
        try:
            charge = await self._db(self.accounts.charge, key.id, plan.credits, plan.preview, ctx.request_id,
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
        return await submit_improvement(self, request, ctx)
