"""The emulator's response helpers: the remove.bg error shape, compact JSON, the ``Accept`` check, the
rate-limit headers and the credit figures of ``X-Credits-Charged``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from openbg_emulator.accounts import RateState
from openbg_emulator.errors import ApiError

JSON_TYPE = "application/json; charset=utf-8"


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
