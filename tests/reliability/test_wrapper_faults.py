"""The wrapper against hostile servers (issue 9): tiny raw-socket servers on 127.0.0.1 that drop connections,
stall, drip, answer garbage or storms of 5xx. Every call ends with a typed error, after a bounded number of
attempts, within its time budget.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openbg import (
    AsyncRemoveBg,
    RateLimitError,
    RemoveBg,
    RemoveBgConnectionError,
    RemoveBgError,
    RemoveBgTimeoutError,
    RetryPolicy,
    ServerError,
)

from tests.reliability.rel_helpers import RawServer, photo, respond

IMG = photo((32, 24))
RETRIES = 2
FAST = RetryPolicy(retries=RETRIES, backoff_base=0.05, backoff_max=0.2, jitter=0.0, max_retry_after=2,
                   total_timeout=8.0)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, bytes], None]], RawServer]]:
    servers: list[RawServer] = []

    def make(handler: Callable[[socket.socket, bytes], None]) -> RawServer:
        s = RawServer(handler)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def client(srv: RawServer, timeout: float = 1.0, policy: RetryPolicy = FAST) -> RemoveBg:
    return RemoveBg(api_key="obg_test", base_url=srv.url("/v1.0"), timeout=timeout, retry_policy=policy)


def drop(conn: socket.socket, _req: bytes) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST


def close_quietly(conn: socket.socket, _req: bytes) -> None:
    pass


def garbage(conn: socket.socket, _req: bytes) -> None:
    conn.sendall(b"\x00\xffthis is not HTTP at all\r\n\r\n" * 10)


def storm_503(conn: socket.socket, _req: bytes) -> None:
    respond(conn, 503, b'{"errors":[{"title":"busy","code":"server_busy"}]}', {"Retry-After": "0"})


def html_500(conn: socket.socket, _req: bytes) -> None:
    respond(conn, 500, b"<html><body>Internal Server Error</body></html>", {"Content-Type": "text/html"})


def short_body(conn: socket.socket, _req: bytes) -> None:
    respond(conn, 200, b"\x89PNG\r\n", {"Content-Type": "image/png"}, content_length=5000)


def long_429(conn: socket.socket, _req: bytes) -> None:
    respond(conn, 429, b'{"errors":[{"title":"Rate limit exceeded","code":"rate_limit_exceeded"}]}',
            {"Retry-After": "3600"})


def account_garbage(conn: socket.socket, _req: bytes) -> None:
    respond(conn, 200, b"{not json", {"Content-Type": "application/json"})


def stall_forever(conn: socket.socket, _req: bytes) -> None:
    time.sleep(30)


def drip(conn: socket.socket, _req: bytes, seconds: float = 30.0) -> None:
    """Headers, then one byte every 0.3 s for ``seconds``: each read is quick, the whole never ends."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(int(seconds / 0.3)):
        conn.sendall(b"\x00")
        time.sleep(0.3)


CASES: list[tuple[str, Callable[[socket.socket, bytes], None], type[RemoveBgError], int]] = [
    # name, handler, expected error type, expected number of connections
    ("connection-reset", drop, RemoveBgConnectionError, RETRIES + 1),
    ("connection-closed-without-answer", close_quietly, RemoveBgConnectionError, RETRIES + 1),
    ("garbage-not-http", garbage, RemoveBgConnectionError, RETRIES + 1),
    ("503-storm", storm_503, ServerError, RETRIES + 1),
    ("500-html-body", html_500, ServerError, RETRIES + 1),
    ("body-shorter-than-content-length", short_body, RemoveBgConnectionError, RETRIES + 1),
    ("429-retry-after-beyond-cap", long_429, RateLimitError, 1),
    ("stall", stall_forever, RemoveBgTimeoutError, RETRIES + 1),
]


@pytest.mark.parametrize("handler,exc,attempts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sync_client_bounded_and_typed(raw_server: Any, handler: Any, exc: type[RemoveBgError],
                                       attempts: int) -> None:
    srv = raw_server(handler)
    t0 = time.monotonic()
    with client(srv) as c, pytest.raises(exc) as info:
        c.remove_background(IMG)
    elapsed = time.monotonic() - t0
    assert srv.connections == attempts
    # timeout 1 s per attempt, 3 attempts, small backoffs; never past the 8 s budget
    assert elapsed < FAST.total_timeout + 1.0, elapsed  # type: ignore[operator]
    assert isinstance(info.value.status, int)


@pytest.mark.parametrize("handler,exc,attempts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_async_client_bounded_and_typed(raw_server: Any, handler: Any, exc: type[RemoveBgError],
                                        attempts: int) -> None:
    srv = raw_server(handler)

    async def main() -> None:
        async with AsyncRemoveBg(api_key="obg_test", base_url=srv.url("/v1.0"), timeout=1.0,
                                 retry_policy=FAST) as c:
            with pytest.raises(exc):
                await c.remove_background(IMG)

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < FAST.total_timeout + 1.0  # type: ignore[operator]
    assert srv.connections == attempts


def test_unparsable_200_is_a_typed_error(raw_server: Any) -> None:
    srv = raw_server(account_garbage)
    with client(srv) as c, pytest.raises(RemoveBgError) as info:
        c.account()
    assert info.value.title == "Unable to parse response"
    assert srv.connections == 1


def test_async_hard_deadline_against_a_drip(raw_server: Any) -> None:
    """A server that sends a byte every 0.3 s never trips a per-read timeout; the async client's total budget
    still ends the call."""
    srv = raw_server(drip)
    policy = RetryPolicy(retries=RETRIES, backoff_base=0.05, jitter=0.0, total_timeout=3.0)

    async def main() -> None:
        async with AsyncRemoveBg(api_key="obg_test", base_url=srv.url("/v1.0"), timeout=1.0,
                                 retry_policy=policy) as c:
            with pytest.raises(RemoveBgTimeoutError):
                await c.remove_background(IMG)

    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < 3.0 + 1.0



def test_sync_deadline_against_a_drip(raw_server: Any) -> None:
    """The same drip against the sync client: its total budget must end the call too."""
    srv = raw_server(lambda conn, req: drip(conn, req, seconds=7.0))
    policy = RetryPolicy(retries=RETRIES, backoff_base=0.05, jitter=0.0, total_timeout=3.0)
    t0 = time.monotonic()
    with client(srv, policy=policy) as c, pytest.raises(RemoveBgConnectionError):
        c.remove_background(IMG)
    assert time.monotonic() - t0 < 3.0 + 1.5
