"""The emulation controls: the ``X-Openbg-*`` request headers (forced status, Retry-After, latency, empty
balance, fail-N-times, client token). They are always validated (a malformed one is 400 invalid_request,
as openapi.yaml says) and honoured only when the server runs with test controls on (docs/emulator.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers

from openbg_emulator.errors import ApiError

MAX_LATENCY_MS = 60_000


@dataclass
class Controls:
    force_status: int | None = None
    retry_after: int = 1
    latency_ms: int = 0
    empty_balance: bool = False
    fail_times: int | None = None
    client_token: str = ""


def parse_controls(headers: Headers) -> Controls:
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
