"""Prometheus metrics and the access log (one line per request).

:class:`MetricsMiddleware` wraps the whole app: for every HTTP request it counts
``openbg_requests_total{endpoint,status,code}`` (``code``: the remove.bg error code of an error answer, "" for a
success), observes ``openbg_request_seconds{endpoint,size}`` (``size``: the request's size tier, "" when the
request never got that far), adds the credits of ``X-Credits-Charged`` to ``openbg_credits_charged_total`` and
writes one access-log line (logger ``openbg.access``): method, path, status, duration, size tier, error code,
response bytes and the request id. Never the key, never the query string.

The engine's model time is observed by the service's worker pool (:func:`observe_model`), and the queue depth
is read when Prometheus scrapes (:func:`watch_queue`). Metrics are per process: scrape each server, not nginx.
``OPENBG_METRICS`` chooses where ``/metrics`` is served: ``api`` (default, on the API port), a port number (a
separate listener on the same host, :func:`start_separate`), or ``off``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("openbg.access")

ENDPOINTS = frozenset({
    "/v1.0/removebg", "/v1.0/removebg.json", "/v1.0/account", "/v1.0/improve",
    "/healthz", "/readyz", "/metrics", "/openapi.yaml",
})

REQUESTS = Counter("openbg_requests", "HTTP requests answered, by endpoint, status and remove.bg error code",
                   ["endpoint", "status", "code"])
LATENCY = Histogram("openbg_request_seconds", "Time from the request's arrival to the end of its response",
                    ["endpoint", "size"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
MODEL = Histogram("openbg_model_seconds", "Engine time per call in the worker pool (model and image steps)",
                  ["runtime"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
CREDITS = Counter("openbg_credits_charged", "Credits charged for results (X-Credits-Charged)")
QUEUE = Gauge("openbg_queue_depth", "Engine calls running or waiting in the worker pool")
UNAVAILABLE = Counter("openbg_unavailable", "503 answers, by reason (server_busy: queue full; database)",
                      ["reason"])
RATE_LIMITED = Counter("openbg_rate_limited", "429 answers (rate limit exceeded)")
DB = Histogram("openbg_request_db_seconds", "Time one request spent in account-database calls", ["endpoint"],
               buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))

_db_time: ContextVar[list[float] | None] = ContextVar("openbg_db_time", default=None)


def add_db_time(seconds: float) -> None:
    """Called by the service around each database call; summed per request (metrics and access log)."""
    acc = _db_time.get()
    if acc is not None:
        acc[0] += seconds


def observe_model(seconds: float, runtime: str) -> None:
    MODEL.labels(runtime).observe(seconds)


def watch_queue(depth: Callable[[], int]) -> None:
    QUEUE.set_function(lambda: float(depth()))


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def start_separate(port: int, host: str) -> None:
    """Serve /metrics on its own port (OPENBG_METRICS=<port>), in a daemon thread."""
    start_http_server(port, addr=host)


def _error_code(body: bytes) -> str:
    try:
        return str(json.loads(body)["errors"][0]["code"])[:64]
    except (ValueError, KeyError, IndexError, TypeError):
        return "unknown"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path = str(scope.get("path", ""))
        endpoint = path if path in ENDPOINTS else "other"
        status = 0  # no answer yet; 499 (client gone) or 500 (an exception) if none is ever sent
        headers: dict[bytes, bytes] = {}
        size = 0
        err = bytearray()
        db = [0.0]
        token = _db_time.set(db)

        async def send_wrapper(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers.update((k.lower(), v) for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                size += len(chunk)
                if status >= 400 and len(err) < 4096:
                    err.extend(chunk[: 4096 - len(err)])
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_wrapper)
            failed = False
        finally:
            _db_time.reset(token)
            if status == 0:
                status = 500 if failed else 499
            dt = time.perf_counter() - t0
            DB.labels(endpoint).observe(db[0])
            code = _error_code(bytes(err)) if status >= 400 else ""
            tier = str((scope.get("state") or {}).get("openbg_size") or "")
            REQUESTS.labels(endpoint, str(status), code).inc()
            LATENCY.labels(endpoint, tier).observe(dt)
            charged = headers.get(b"x-credits-charged")
            if charged and headers.get(b"idempotent-replayed") != b"true":  # a replay charged nothing now
                try:
                    CREDITS.inc(float(charged))
                except ValueError:
                    pass
            if status == 503:
                UNAVAILABLE.labels("database" if b"database" in bytes(err) else code or "other").inc()
            elif status == 429:
                RATE_LIMITED.inc()
            rid = headers.get(b"x-request-id", b"-").decode("latin-1")
            safe_path = path[:200].encode("unicode_escape").decode("ascii").replace(" ", "%20")
            access_log.info("%s %s %d %.1fms size=%s code=%s bytes=%d db=%.2fms id=%s", scope.get("method", "-"),
                            safe_path, status, dt * 1000, tier or "-", code or "-", size, db[0] * 1000, rid)
