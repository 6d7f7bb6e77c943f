"""CORS for the API: ``Access-Control-Allow-Origin: *`` and the exposed ``X-*`` headers on every response,
and the answer to a preflight. The console (``/admin``) is same-origin only and gets none of it."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXPOSED_HEADERS = (
    "X-Type, X-Width, X-Height, X-Credits-Charged, X-Foreground-Top, X-Foreground-Left, "
    "X-Foreground-Width, X-Foreground-Height, X-Max-Width, X-Max-Height, X-RateLimit-Limit, "
    "X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Request-Id, Idempotent-Replayed"
)
ALLOWED_HEADERS = (
    "X-API-Key, Accept, Content-Type, Authorization, X-Openbg-Force-Status, X-Openbg-Retry-After, "
    "X-Openbg-Latency-Ms, X-Openbg-Force-Empty-Balance, X-Openbg-Fail-Times, X-Openbg-Client-Token, Idempotency-Key"
)


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
