"""Fixtures for the wrapper tests: a small synthetic photo, a static file server for
``image_url``/``bg_image_url``, and a fault-injecting TCP proxy in front of the emulator."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.wrapper.wrapper_support import FaultProxy, make_photo


@pytest.fixture(scope="session")
def photo() -> bytes:
    """The one image most tests reuse (the emulator caches its mask by content)."""
    return make_photo(0)


@pytest.fixture(scope="session")
def warm_photo(live_server: Any, photo: bytes) -> bytes:
    """``photo``, once processed by the live server (its mask is cached: later calls are fast)."""
    from openbg import RemoveBg

    with RemoveBg(live_server.api_key, live_server.base_url) as c:
        c.remove_background(photo)
    return photo


@pytest.fixture
def photo_path(tmp_path: Path, photo: bytes) -> Path:
    p = tmp_path / "photo.jpg"
    p.write_bytes(photo)
    return p


@pytest.fixture
def quiet_openbg_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="openbg")  # last: it also sets the capture handler's level
    return caplog


# --------------------------------------------------------------------------- static file server
@pytest.fixture(scope="session")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``(base_url, folder)``: files written into ``folder`` are served at ``base_url/NAME``."""
    root = tmp_path_factory.mktemp("served")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def fault_proxy(live_server: Any) -> Iterator[Callable[..., FaultProxy]]:
    proxies: list[FaultProxy] = []

    def make(**kw: Any) -> FaultProxy:
        p = FaultProxy(upstream=("127.0.0.1", live_server.port), **kw).start()
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


