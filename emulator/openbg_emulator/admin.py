"""The operator's console behind ``/admin``: login with the admin token, sessions, CSRF, and the JSON API
that the console's page (``web/static/admin.js``) calls.

* **Token**: ``OPENBG_ADMIN_TOKEN``, else the file ``admin_token`` in the state dir (``openbg admin token``
  creates it). Without either, every login is refused with a message that says so. Compared with
  :func:`hmac.compare_digest`; read at each login, so a new token works without a restart.
* **Session**: a random id in the cookie ``openbg_admin`` (``HttpOnly; SameSite=Strict; Path=/admin``),
  held in this process's memory for 12 hours (a restart logs everyone out). Nothing under ``/admin`` but the
  login page and the login call answers without it.
* **CSRF**: every state-changing call (``POST``) must carry the session's CSRF token in ``X-CSRF-Token``
  (constant-time compare) and, when the browser sends one, an ``Origin`` equal to the server's own; the login
  call must be JSON and same-origin. Cross-site pages can send neither the header nor (SameSite) the cookie.

Every action goes through :class:`openbg_emulator.accounts.Accounts`, the same methods that the
``openbg keys …`` commands call. The token and API keys never go into a log line or a URL.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openbg_emulator.errors import ApiError
from openbg_emulator.settings import Settings

COOKIE = "openbg_admin"
SESSION_S = 12 * 3600
TOKEN_FILE = "admin_token"
ADMIN_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class BadInput(ValueError):
    """A console request's value is wrong (answered 400 with this text)."""


def token_path(settings: Settings) -> Path:
    return settings.resolved_state_dir / TOKEN_FILE


def configured_token(settings: Settings) -> str | None:
    """``OPENBG_ADMIN_TOKEN``, else the state dir's token file, else None (the console is closed)."""
    if settings.admin_token:
        return settings.admin_token
    try:
        text = token_path(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def ensure_token(settings: Settings, new: bool = False) -> tuple[str, bool]:
    """The state dir's admin token, created (mode 0600) if absent or if ``new``; returns (token, created)."""
    path = token_path(settings)
    if not new:
        try:
            text = path.read_text(encoding="utf-8").strip()
            if text:
                return text, False
        except FileNotFoundError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    token = "obgadm_" + secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    tmp.replace(path)
    return token, True


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    """Admin sessions in memory (thread-safe; expired ones are dropped as they are met)."""

    def __init__(self) -> None:
        self._d: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        s = Session(csrf=secrets.token_urlsafe(32), expires=time.time() + SESSION_S)
        with self._lock:
            now = time.time()
            for k in [k for k, v in self._d.items() if v.expires < now]:
                del self._d[k]
            self._d[sid] = s
        return sid, s

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            s = self._d.get(sid)
            if s is None:
                return None
            if s.expires < time.time():
                del self._d[sid]
                return None
            return s

    def drop(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._d.pop(sid, None)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    h.update(headers or {})
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, headers=h,
                    media_type="application/json; charset=utf-8")


def _error(status: int, code: str, title: str, detail: str = "") -> Response:
    err: dict[str, str] = {"title": title, "code": code}
    if detail:
        err["detail"] = detail
    return _json({"errors": [err]}, status)


class Admin:
    """The console's routes, bound to the service (its settings, accounts and worker pool)."""

    def __init__(self, svc: Any, settings: Settings, page: Callable[[str, str], Response]) -> None:
        self.svc = svc
        self.settings = settings
        self.accounts = svc.accounts
        self.sessions = Sessions()
        self.started = time.time()
        self._page = page  # (static file name, CSP) → Response
        self._fail_lock = asyncio.Lock()

    # ---------------------------------------------------------------- guards
    def _session(self, request: Request) -> tuple[str | None, Session | None]:
        sid = request.cookies.get(COOKIE)
        return sid, self.sessions.get(sid)

    @staticmethod
    def _same_origin(request: Request) -> bool:
        """False when the browser says the request comes from another site (Origin / Sec-Fetch-Site)."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not a browser's cross-site request (those always carry Origin on POST)
        host = request.headers.get("host", "")
        return origin in (f"http://{host}", f"https://{host}")

    def guarded(self, fn: Callable[[Request], Awaitable[Response]], *, write: bool = False) -> Callable[
            [Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            _sid, s = self._session(request)
            if s is None:
                return _error(401, "admin_login_required", "Log in to the admin console first")
            if write:
                sent = request.headers.get("x-csrf-token", "")
                if not self._same_origin(request) or not hmac.compare_digest(sent.encode(), s.csrf.encode()):
                    return _error(403, "csrf_failed", "Missing or wrong CSRF token",
                                  "Reload the admin page and try again")
            try:
                return await fn(request)
            except ValueError as e:
                return _error(400, "invalid_request", "Invalid value", str(e))
            except ApiError as e:  # e.g. the database is down: 503 with Retry-After, as on the API
                return Response(json.dumps(e.body()), status_code=e.status, headers=dict(e.headers or {}),
                                media_type="application/json")
        return handler

    async def _body(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise ValueError("send application/json")
        raw = await request.body()
        if len(raw) > 65536:
            raise ValueError("body too large")
        try:
            obj = json.loads(raw or b"{}")
        except ValueError:
            raise ValueError("the body is not valid JSON") from None
        if not isinstance(obj, dict):
            raise BadInput("the body must be a JSON object")
        return obj

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.svc._db(fn, *args, **kwargs)

    # ---------------------------------------------------------------- pages
    async def page(self, request: Request) -> Response:
        _sid, s = self._session(request)
        resp = self._page("admin.html" if s is not None else "login.html", ADMIN_CSP)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    async def script(self, request: Request) -> Response:
        _sid, s = self._session(request)
        if s is None:
            return _error(401, "admin_login_required", "Log in to the admin console first")
        resp = self._page("admin.js", ADMIN_CSP)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    # ---------------------------------------------------------------- login / logout
    async def login(self, request: Request) -> Response:
        if not self._same_origin(request):
            return _error(403, "csrf_failed", "Cross-site login refused")
        try:
            body = await self._body(request)
        except ValueError as e:
            return _error(400, "invalid_request", "Invalid login request", str(e))
        sent = body.get("token")
        expected = configured_token(self.settings)
        if expected is None:
            return _error(403, "admin_disabled", "The admin console has no token",
                          "Set OPENBG_ADMIN_TOKEN or run `openbg admin token` on the server, then log in")
        ok = isinstance(sent, str) and hmac.compare_digest(sent.strip().encode(), expected.encode())
        if not ok:
            async with self._fail_lock:  # failed logins are answered one at a time, slowly
                await asyncio.sleep(0.5)
            return _error(403, "admin_auth_failed", "Wrong admin token")
        sid, s = self.sessions.create()
        resp = _json({"csrf": s.csrf})
        resp.set_cookie(COOKIE, sid, max_age=SESSION_S, path="/admin", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
        return resp

    async def logout(self, request: Request) -> Response:
        sid, _s = self._session(request)
        self.sessions.drop(sid)
        resp = _json({"ok": True})
        resp.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="strict")
        return resp

    async def session(self, request: Request) -> Response:
        _sid, s = self._session(request)
        assert s is not None
        return _json({"csrf": s.csrf, "expires": int(s.expires)})

    # ---------------------------------------------------------------- keys
    @staticmethod
    def _key(info: Any) -> dict[str, Any]:
        return asdict(info)

    async def keys(self, request: Request) -> Response:
        rows = await self._db(self.accounts.list_keys)
        return _json({"keys": [self._key(k) for k in rows],
                      "defaults": {"free_calls": self.accounts.default_free_calls,
                                   "rate_limit": self.accounts.default_rate_limit}})

    async def create(self, request: Request) -> Response:
        b = await self._body(request)
        name = str(b.get("name") or "").strip()
        if not name or len(name) > 200:
            raise ValueError("name: 1 to 200 characters")
        key, info = await self._db(self.accounts.create_key, name, credits=_num(b.get("credits"), "credits", 0.0),
                                   free_calls=_opt_int(b.get("free_calls"), "free_calls"),
                                   rate_limit=_opt_int(b.get("rate_limit"), "rate_limit"))
        return _json({"key": key, "info": self._key(info)}, 201)

    async def revoke(self, request: Request) -> Response:
        info = await self._db(self.accounts.revoke, request.path_params["kid"])
        return self._found(info)

    async def credit(self, request: Request) -> Response:
        b = await self._body(request)
        info = await self._db(self.accounts.credit, request.path_params["kid"], _num(b.get("amount"), "amount"))
        return self._found(info)

    async def limits(self, request: Request) -> Response:
        b = await self._body(request)
        kw: dict[str, Any] = {}
        for name in ("rate_limit", "free_calls"):
            if name in b:
                kw[name] = _opt_int(b[name], name)
        info = await self._db(self.accounts.set_limits, request.path_params["kid"], **kw)
        return self._found(info)

    async def ledger(self, request: Request) -> Response:
        kid = request.path_params["kid"]
        try:
            days = max(1, min(366, int(request.query_params.get("days", "30"))))
        except ValueError:
            raise ValueError("days must be an integer") from None
        daily = await self._db(self.accounts.ledger_daily, kid, days)
        if daily is None:
            return _error(404, "not_found", "No such key")
        rows = await self._db(self.accounts.ledger_rows, kid)
        return _json({"daily": daily, "recent": rows[-50:][::-1]})

    def _found(self, info: Any) -> Response:
        if info is None:
            return _error(404, "not_found", "No such key")
        return _json({"info": self._key(info)})

    # ---------------------------------------------------------------- server state
    async def state(self, request: Request) -> Response:
        svc, s = self.svc, self.settings
        out: dict[str, Any] = {
            "ready": svc.ready.is_set(),
            "load_error": svc.load_error,
            "uptime_s": int(time.time() - self.started),
            "workers": svc.pool.workers,
            "queue": svc.pool.capacity - svc.pool.workers,
            "in_flight": svc.pool.inflight,
            "test_controls": s.test_controls,
            "quality_default": s.quality,
            "device": s.device,
            "threads": s.threads,
            "rate_window_s": s.rate_window_s,
            "database": "sqlite" if s.resolved_database_url.startswith("sqlite") else "other",
            "keys": await self._db(self.accounts.count_keys),
        }
        out.update(_model_state(svc.engine))
        return _json(out)

    def routes(self) -> list[Route]:
        g = self.guarded
        return [
            Route("/admin", self.page, methods=["GET"]),
            Route("/admin/", self.page, methods=["GET"]),
            Route("/admin/admin.js", self.script, methods=["GET"]),
            Route("/admin/login", self.login, methods=["POST"]),
            Route("/admin/logout", g(self.logout, write=True), methods=["POST"]),
            Route("/admin/api/session", g(self.session), methods=["GET"]),
            Route("/admin/api/state", g(self.state), methods=["GET"]),
            Route("/admin/api/keys", g(self.keys), methods=["GET"]),
            Route("/admin/api/keys", g(self.create, write=True), methods=["POST"]),
            Route("/admin/api/keys/{kid}/revoke", g(self.revoke, write=True), methods=["POST"]),
            Route("/admin/api/keys/{kid}/credit", g(self.credit, write=True), methods=["POST"]),
            Route("/admin/api/keys/{kid}/limits", g(self.limits, write=True), methods=["POST"]),
            Route("/admin/api/keys/{kid}/ledger", g(self.ledger), methods=["GET"]),
            Route("/admin/{rest:path}", self.not_found, methods=["GET", "POST"]),
        ]

    async def not_found(self, request: Request) -> Response:
        _sid, s = self._session(request)
        if s is None:
            return _error(401, "admin_login_required", "Log in to the admin console first")
        return _error(404, "not_found", f"No route {request.url.path}")


def _model_state(engine: Any) -> dict[str, Any]:
    """What the engine's loaded model reports (name, providers, input precision and size); loads nothing."""
    sessions = list(getattr(engine, "_segmenters", {}).values())
    if not sessions:
        return {"model": None}
    seg = sessions[0]
    out: dict[str, Any] = {"model": getattr(seg, "name", None)}
    try:
        info = engine.runtimes()[0]  # what /readyz reports: the runtime actually chosen
        out["runtime"] = f"{info.get('runtime', '?')} {info.get('version', '')}".strip()
        out["precision"] = info.get("precision")
        out["providers"] = list(info.get("providers") or [])
        out["input_size"] = list(getattr(seg, "input_size", ()))
        out["model_note"] = getattr(getattr(seg, "prepared", None), "note", None)
    except Exception as e:  # noqa: BLE001 - the console shows what it has
        out["runtime_error"] = str(e)
    return out


def _num(v: Any, name: str, default: float | None = None) -> float:
    if v is None or v == "":
        if default is not None:
            return default
        raise ValueError(f"{name} is required")
    if isinstance(v, bool):
        raise BadInput(f"{name} must be a number")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if not math.isfinite(x) or abs(x) > 1e12:
        raise ValueError(f"{name} must be a finite number")
    return x


def _opt_int(v: Any, name: str) -> int | None:
    """None / "" → None (the server default); otherwise an integer ≥ 0."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise BadInput(f"{name} must be an integer >= 0")
    try:
        n = int(str(v).strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer >= 0") from None
    if n < 0 or n > 10**9:
        raise ValueError(f"{name} must be an integer >= 0")
    return n
