"""The emulator's web pages: ``/`` (try it), ``/docs`` (the API reference, Swagger UI, from openapi.yaml)
and ``/admin`` (the operator's console, :mod:`openbg_emulator.admin`).

Static files only (``static/``: HTML, CSS and plain JavaScript with no dependency; ``vendor/``: Swagger UI,
copied from the pinned npm package at set-up by ``make web-assets``), served from the package so an
installed wheel serves them. Every page has a strict Content-Security-Policy: scripts only from this
server's own files, no inline script, no request to another host.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openbg_emulator.settings import Settings

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Swagger UI: the same, without blob: images (its styles come from swagger-ui.css; React sets the rest via CSSOM).
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", "": "text/plain"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
#: the user manual, linked from /docs: served as text from a source checkout (not in a wheel)
MANUAL = {"README.md": "README.md", "web.md": "docs/web.md", "emulator.md": "docs/emulator.md",
          "reliability.md": "docs/reliability.md", "performance.md": "docs/engineering/performance.md",
          "quality.md": "docs/engineering/quality.md", "ARCHITECTURE.md": "docs/ARCHITECTURE.md",
          "index.md": "docs/index.md", "deploy.md": "docs/deploy.md"}
REPO = Path(__file__).resolve().parents[3]


def _read(folder: str, name: str) -> bytes | None:
    if not _NAME.match(name):
        return None
    try:
        res = resources.files("openbg_emulator.web") / folder / name
        return res.read_bytes() if res.is_file() else None
    except (OSError, ModuleNotFoundError):
        return None


def security_headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}


def file_response(folder: str, name: str, csp: str = PAGE_CSP) -> Response:
    data = _read(folder, name)
    if data is None:
        detail = f"{folder}/{name} is not installed"
        if folder == "vendor":
            detail += "; run `make web-assets` (copies Swagger UI from npm into the package)"
        body = json.dumps({"errors": [{"title": "Not found", "code": "not_found", "detail": detail}]})
        return Response(body, status_code=404, media_type="application/json; charset=utf-8",
                        headers=security_headers(csp))
    return Response(data, media_type=TYPES.get(Path(name).suffix, "application/octet-stream"),
                    headers=security_headers(csp))


def routes(svc: Any, settings: Settings) -> list[Route]:
    """The pages' routes, to add to the app's (``create_app``)."""
    from openbg_emulator.admin import Admin

    admin = Admin(svc, settings, lambda name, csp: file_response("static", name, csp))

    async def index(request: Request) -> Response:
        return file_response("static", "index.html")

    async def docs(request: Request) -> Response:
        return file_response("static", "docs.html", DOCS_CSP)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name in ("admin.js", "admin.html"):  # only behind the admin login (/admin, /admin/admin.js)
            return file_response("static", "-")
        return file_response("static", name)

    async def vendor(request: Request) -> Response:
        return file_response("vendor", request.path_params["name"], DOCS_CSP)

    async def spec(request: Request) -> Response:
        """openapi.yaml as JSON, with this server first in ``servers`` (Swagger UI's "Try it out")."""
        import yaml

        from openbg_emulator.app import openapi_text

        text = openapi_text()
        if text is None:
            return file_response("static", "openapi.yaml")
        doc = yaml.safe_load(text)
        doc["servers"] = [{"url": "/v1.0", "description": "this openbg server"}, *doc.get("servers", [])]
        return Response(json.dumps(doc), media_type="application/json; charset=utf-8",
                        headers=security_headers(DOCS_CSP))

    async def manual(request: Request) -> Response:
        rel = MANUAL.get(request.path_params["name"])
        path = REPO / rel if rel else None
        if path is None or not path.is_file():
            body = json.dumps({"errors": [{"title": "Not found", "code": "not_found",
                                           "detail": "The user manual is in the source checkout's docs/"}]})
            return Response(body, status_code=404, media_type="application/json; charset=utf-8")
        return Response(path.read_bytes(), media_type="text/plain; charset=utf-8", headers=security_headers(PAGE_CSP))

    return [
        Route("/", index, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/", docs, methods=["GET"]),
        Route("/docs/openapi.json", spec, methods=["GET"]),
        Route("/docs/manual/{name}", manual, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/vendor/{name}", vendor, methods=["GET"]),
        *admin.routes(),
    ]
