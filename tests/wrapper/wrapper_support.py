"""Helpers for the wrapper tests (imported by conftest.py and the tests): synthetic photos,
a fault-injecting TCP proxy and a raw-bytes HTTP server, all on 127.0.0.1."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from openbg import RetryPolicy
from PIL import Image, ImageDraw, ImageFilter

FAST_RETRY = RetryPolicy(retries=4, backoff_base=0.05, backoff_max=0.5, jitter=0.1, max_retry_after=5,
                         total_timeout=60)


def make_photo(seed: int = 0, size: tuple[int, int] = (160, 120)) -> bytes:
    """A small JPEG: a soft-edged coloured subject on a gradient background (deterministic)."""
    w, h = size
    bg = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    bg = Image.merge("RGB", [bg.getchannel(0).point(lambda v, s=seed: (v // 3 + 150 + 7 * s) % 256),
                             bg.getchannel(1).point(lambda v: v // 4 + 170),
                             bg.getchannel(2).point(lambda v, s=seed: 200 - v // 5 + 3 * s)])
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    cx, cy = w // 2 + (seed % 3 - 1) * w // 10, h // 2 + 5
    d.ellipse((cx - w // 5, cy - h // 3, cx + w // 5, cy + h // 3), fill=255)
    d.ellipse((cx - w // 10, cy - h // 2 + 4, cx + w // 10, cy - h // 4), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(1.5))
    fg = Image.new("RGB", (w, h), ((40 + 50 * seed) % 256, 60, 140))
    img = Image.composite(fg, bg, mask)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=92)
    return out.getvalue()


def http_requests(caplog: pytest.LogCaptureFixture, path: str) -> int:
    """Requests httpx actually sent to ``path`` (httpx logs each one at INFO)."""
    return sum(1 for r in caplog.records if r.name == "httpx" and path in r.getMessage())


def retries_logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.name == "openbg" and "retry" in r.getMessage())


# --------------------------------------------------------------------------- fault-injecting proxy
@dataclass
class FaultProxy:
    """A TCP proxy on 127.0.0.1 to ``upstream``; ``kill(request_no)`` decides, per HTTP request
    seen on the client side (counted from 1), whether to cut that connection after the upstream
    started answering (the client sees a dropped connection mid-response)."""

    upstream: tuple[str, int]
    kill: Callable[[int], bool] = lambda n: False
    refuse_first: int = 0  # close this many new connections at once, before any byte
    requests: int = 0
    killed: int = 0
    refused: int = 0
    connections: int = 0
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: socket.socket | None = None

    def start(self) -> FaultProxy:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        self._server = s
        self.port = s.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def base_url(self, path: str = "/v1.0") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                refuse = self.refused < self.refuse_first
                if refuse:
                    self.refused += 1
            if refuse:
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)
        doomed = threading.Event()
        done = threading.Event()

        def pump_up() -> None:
            try:
                while data := client.recv(65536):
                    starts = data.count(b"HTTP/1.1\r\n")  # request lines in this chunk
                    for _ in range(starts):
                        with self._lock:
                            self.requests += 1
                            n = self.requests
                        if self.kill(n):
                            doomed.set()
                    upstream.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        def pump_down() -> None:
            try:
                while data := upstream.recv(65536):
                    if doomed.is_set():
                        client.sendall(data[: max(1, len(data) // 2)])
                        with self._lock:
                            self.killed += 1
                        break
                    client.sendall(data)
            except OSError:
                pass
            finally:
                for s in (client, upstream):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()
                done.set()

        threading.Thread(target=pump_up, daemon=True).start()
        pump_down()


class RawServer:
    """A one-trick HTTP server that answers every request with the same raw bytes."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.hits = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                c, _ = self._sock.accept()
            except OSError:
                return
            try:
                c.settimeout(5)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(rest) < length:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                self.hits += 1
                c.sendall(self.response)
            except OSError:
                pass
            finally:
                c.close()

    def close(self) -> None:
        self._sock.close()
