"""Fixtures for the live-emulator tests: small deterministic images and a loopback image host."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.emulator.emu_helpers import synthetic


@pytest.fixture(scope="session")
def alt_server(tmp_path_factory, emulator_server_class):  # type: ignore[no-untyped-def]
    """A second live emulator with other settings (one process for all of them, to save start-ups):
    test controls OFF, private URLs NOT allowed, a 2 s rate window, 2 /improve submissions a day,
    one engine worker and no queue (so a second concurrent removal gets 503 server_busy)."""
    server = emulator_server_class(
        tmp_path_factory.mktemp("alt") / "state",
        {"OPENBG_TEST_CONTROLS": "0", "OPENBG_ALLOW_PRIVATE_URLS": "0", "OPENBG_RATE_WINDOW_S": "2",
         "OPENBG_IMPROVE_PER_DAY": "2"},
        ["--workers", "1", "--queue", "0"],
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jpeg() -> bytes:
    return synthetic()


@pytest.fixture(scope="session")
def png() -> bytes:
    return synthetic(fmt="PNG")


@pytest.fixture(scope="session")
def photo(tmp_path_factory, jpeg) -> Path:  # type: ignore[no-untyped-def]
    """The synthetic JPEG as a file, for clients that upload a path."""
    p = tmp_path_factory.mktemp("photo") / "file.jpg"
    p.write_bytes(jpeg)
    return p


@dataclass
class ImageHost:
    """A loopback HTTP server for image_url tests: ``routes[path] = (status, headers, body)``."""

    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="session")
def image_host(jpeg: bytes) -> Iterator[ImageHost]:
    host = ImageHost()
    host.routes["/img.jpg"] = (200, {"Content-Type": "image/jpeg"}, jpeg)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            host.hits.append(self.path)
            route = host.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, headers, body = route
            if status == -1:  # special: stall
                time.sleep(float(body or b"5"))
                return
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the emulator hangs up on oversized bodies on purpose: no traceback on stderr

    srv = QuietServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    host.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield host
    srv.shutdown()
    srv.server_close()
