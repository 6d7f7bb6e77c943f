"""The emulator's ASGI app: the routes of remove.bg API v1.0 (bound to a :class:`~openbg_emulator.service.Service`),
/healthz, /readyz, /openapi.yaml, the web pages and /metrics; the error answers for unknown routes and
methods; CORS and metrics middleware; the model load at start-up and the clean shutdown.

``create_app(settings)`` is what ``openbg serve`` (server_cli) runs under uvicorn.
"""

from __future__ import annotations

import contextlib
import threading
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openbg_emulator import metrics
from openbg_emulator.accounts import Accounts
from openbg_emulator.cors import CorsMiddleware
from openbg_emulator.engine import EngineLike
from openbg_emulator.errors import ApiError
from openbg_emulator.responses import error_response, json_response
from openbg_emulator.service import Service
from openbg_emulator.settings import Settings


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


def create_app(settings: Settings, accounts: Accounts | None = None, engine: EngineLike | None = None,
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
            return json_response({"status": "ready", "runtime": svc.engine.runtimes()})
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
    metrics.watch_queue(lambda: svc.pool.inflight)
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.add_middleware(CorsMiddleware)
    app.add_middleware(metrics.MetricsMiddleware)
    app.state.service = svc
    return app


def open_accounts(settings: Settings) -> Accounts:
    settings.resolved_state_dir.mkdir(parents=True, exist_ok=True)
    return Accounts(
        settings.resolved_database_url,
        default_free_calls=settings.free_calls,
        default_rate_limit=settings.rate_limit,
        improve_per_day=settings.improve_per_day,
        rate_window_s=settings.rate_window_s,
    )
