"""Fixtures for the reliability tests (issue 9).

* ``rel_server`` (session): an emulator with the URL guard relaxed (``OPENBG_ALLOW_PRIVATE_URLS=1``, so that
  hostile image hosts on 127.0.0.1 can be reached) and a 3 s fetch deadline (``OPENBG_FETCH_TIMEOUT_S=3``).
* ``guarded_server`` (session): an emulator with the URL guard ON (``OPENBG_ALLOW_PRIVATE_URLS=0``).
* ``hostile_host`` (session): a raw-socket HTTP server on 127.0.0.1 that stalls, streams forever, lies about
  Content-Length or redirects, by path.
* ``deadline_server`` (module): an emulator with 2 s header and body read deadlines (``test_slowloris.py``).
* ``start_emulator``: start another emulator on a given state dir (fault tests: kill, restart, full disk).

Every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EmulatorServer
from tests.reliability.rel_helpers import RawServer, photo, respond


@pytest.fixture(scope="session")
def rel_server() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="openbg-rel-") as d:
        s = EmulatorServer(Path(d) / "state", {"OPENBG_FETCH_TIMEOUT_S": "3", "OPENBG_FETCH_LOOPBACK_ONLY": "1"}, ["--test-controls"])
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture(scope="session")
def guarded_server() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="openbg-guard-") as d:
        s = EmulatorServer(Path(d) / "state", {"OPENBG_ALLOW_PRIVATE_URLS": "0", "OPENBG_FETCH_LOOPBACK_ONLY": "1"}, [])
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture(scope="module")
def deadline_server() -> Iterator[Any]:
    """An emulator with short read deadlines (2 s for the head, 2 s + 1 s/KiB for the body): slowloris tests."""
    with tempfile.TemporaryDirectory(prefix="openbg-deadline-") as d:
        s = EmulatorServer(Path(d) / "state", {"OPENBG_HEADER_TIMEOUT": "2", "OPENBG_BODY_TIMEOUT": "2",
                                               "OPENBG_FETCH_LOOPBACK_ONLY": "1"}, [])
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Any]]:
    started: list[Any] = []

    def start(state_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None) -> Any:
        s = EmulatorServer(state_dir, {"OPENBG_FETCH_LOOPBACK_ONLY": "1", **(env or {})}, list(args or []))
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


HOSTILE_PATHS = ("/ok.png", "/stall", "/slow-drip", "/endless", "/short-body", "/huge-cl", "/redirect-loop",
                 "/redirect-to-ok", "/500", "/empty")


@pytest.fixture(scope="session")
def hostile_host() -> Iterator[RawServer]:
    ok = photo()

    def handler(conn: Any, req: bytes) -> None:
        line = req.split(b"\r\n", 1)[0].decode("latin-1")
        path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
        if path == "/ok.png":
            respond(conn, 200, ok, {"Content-Type": "image/png"})
        elif path == "/stall":  # accepts, never answers
            time.sleep(20)
        elif path == "/slow-drip":  # a byte a second, forever (until the client gives up)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n")
            for _ in range(40):
                conn.sendall(b"\x89")
                time.sleep(0.5)
        elif path == "/endless":  # no Content-Length, data without end
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n")
            block = b"\x89PNG" + b"\0" * 65532
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                conn.sendall(block)
        elif path == "/short-body":  # Content-Length says more than is sent, then the connection closes
            respond(conn, 200, ok[:100], {"Content-Type": "image/png"}, content_length=len(ok) + 5000)
        elif path == "/huge-cl":  # claims 1 GB
            respond(conn, 200, ok[:100], {"Content-Type": "image/png"}, content_length=1 << 30)
        elif path == "/redirect-loop":
            respond(conn, 302, b"", {"Location": "/redirect-loop"})
        elif path == "/redirect-to-ok":
            respond(conn, 302, b"", {"Location": "/ok.png"})
        elif path == "/500":
            respond(conn, 500, b"oops")
        elif path == "/empty":
            respond(conn, 200, b"")
        else:
            respond(conn, 404, b"")

    srv = RawServer(handler)
    yield srv
    srv.close()
