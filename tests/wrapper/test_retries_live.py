"""Retries, proven against the emulator's emulation controls and local fault injection.

Requests are counted where they are really sent: httpx logs one INFO record per HTTP
response received, and the fault proxy / raw server count what reaches them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from openbg import (
    AsyncRemoveBg,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    RateLimitError,
    RemoveBg,
    RemoveBgConnectionError,
    RemoveBgTimeoutError,
    RetryPolicy,
    ServerError,
)

from tests.wrapper.wrapper_support import RawServer, http_requests, retries_logged


def controls(status: int, *, times: int | None = None, retry_after: int | None = None) -> dict[str, str]:
    h = {"X-Openbg-Force-Status": str(status), "X-Openbg-Client-Token": uuid.uuid4().hex}
    if times is not None:
        h["X-Openbg-Fail-Times"] = str(times)
    if retry_after is not None:
        h["X-Openbg-Retry-After"] = str(retry_after)
    return h


def test_429_waits_retry_after_then_succeeds(live_server: Any, warm_photo: bytes,
                                             quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=3, backoff_base=0.01, max_retry_after=5)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers=controls(429, times=1, retry_after=1)) as c:
        t0 = time.monotonic()
        c.account()
        elapsed = time.monotonic() - t0
        assert 1.0 <= elapsed < 2.0, elapsed  # waited Retry-After: 1 s, not the 0.01 s backoff
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers=controls(429, times=1, retry_after=1)) as c:
        t0 = time.monotonic()
        result = c.remove_background(warm_photo)
        assert time.monotonic() - t0 >= 1.0
    assert result.to_pil().size == (160, 120)
    assert http_requests(quiet_openbg_log, "/account") == 2
    assert http_requests(quiet_openbg_log, "/removebg") == 2
    assert retries_logged(quiet_openbg_log) == 2


def test_503_backs_off_exponentially(live_server: Any, quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=4, backoff_base=0.3, jitter=0.0)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers=controls(503, times=2)) as c:
        t0 = time.monotonic()
        c.account()
        elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 3.0, elapsed  # 0.3 s + 0.6 s
    assert http_requests(quiet_openbg_log, "/account") == 3
    delays = [r.getMessage() for r in quiet_openbg_log.records if r.name == "openbg"]
    assert "in 0.30 s" in delays[0] and "in 0.60 s" in delays[1]


@pytest.mark.parametrize("status", [500])
def test_other_5xx_are_retried(live_server: Any, status: int, quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=2, backoff_base=0.01)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers=controls(status, times=1)) as c:
        c.account()
    assert http_requests(quiet_openbg_log, "/account") == 2


def test_retry_cap_holds(live_server: Any, quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=2, backoff_base=0.01)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy, headers=controls(503)) as c, \
            pytest.raises(ServerError) as err:
        c.account()
    assert err.value.status == 503
    assert http_requests(quiet_openbg_log, "/account") == 3  # 1 + 2 retries, then the error
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers=controls(429, retry_after=1)) as c, pytest.raises(RateLimitError):
        c.account()
    assert http_requests(quiet_openbg_log, "/account") == 6


def test_retry_after_beyond_the_cap_is_raised_at_once(live_server: Any,
                                                      quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=3, max_retry_after=2)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers=controls(429, retry_after=30)) as c, pytest.raises(RateLimitError) as err:
        t0 = time.monotonic()
        c.account()
    assert time.monotonic() - t0 < 1.0 and err.value.retry_after == 30
    assert http_requests(quiet_openbg_log, "/account") == 1


def test_client_errors_are_never_retried(live_server: Any, photo: bytes,
                                         quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=4, backoff_base=0.01)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy) as c:
        with pytest.raises(BadRequestError):
            c.remove_background(photo, roi="nonsense")
        assert http_requests(quiet_openbg_log, "/removebg") == 1
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                  headers={"X-Openbg-Force-Empty-Balance": "true"}) as c, pytest.raises(InsufficientCreditsError):
        c.remove_background(photo)
    assert http_requests(quiet_openbg_log, "/removebg") == 2
    with RemoveBg("invalid", live_server.base_url, retry_policy=policy) as c, pytest.raises(AuthenticationError):
        c.account()
    assert http_requests(quiet_openbg_log, "/account") == 1
    assert retries_logged(quiet_openbg_log) == 0


def test_total_time_budget(live_server: Any, quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(retries=10, backoff_base=0.4, jitter=0.0, total_timeout=1.0)
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy, headers=controls(503)) as c, \
            pytest.raises(ServerError):
        t0 = time.monotonic()
        c.account()
    assert time.monotonic() - t0 < 1.0  # 0.4 s, then 0.8 s more would pass the budget: raised
    assert http_requests(quiet_openbg_log, "/account") == 2


def test_async_retries_and_hard_deadline(live_server: Any, warm_photo: bytes,
                                         quiet_openbg_log: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        policy = RetryPolicy(retries=3, backoff_base=0.2, jitter=0.0, max_retry_after=5)
        async with AsyncRemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                                 headers=controls(429, times=1, retry_after=1)) as c:
            t0 = time.monotonic()
            r = await c.remove_background(warm_photo)
            assert time.monotonic() - t0 >= 1.0 and r.width == 160
        async with AsyncRemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                                 headers=controls(503, times=2)) as c:
            t0 = time.monotonic()
            await c.account()
            assert 0.6 <= time.monotonic() - t0 < 3.0
        async with AsyncRemoveBg(live_server.api_key, live_server.base_url, retry_policy=policy,
                                 headers=controls(503)) as c:
            with pytest.raises(ServerError):
                await c.account()
        slow = RetryPolicy(retries=3, total_timeout=1.0)
        async with AsyncRemoveBg(live_server.api_key, live_server.base_url, retry_policy=slow,
                                 headers={"X-Openbg-Latency-Ms": "5000"}) as c:
            t0 = time.monotonic()
            with pytest.raises(RemoveBgTimeoutError):
                await c.account()
            assert time.monotonic() - t0 < 2.0  # the budget is a hard deadline in async

    asyncio.run(main())
    assert http_requests(quiet_openbg_log, "/account") == 3 + 4  # 503 twice then 200; 503 x (1 + 3)


def test_refused_and_dropped_connections_are_retried(live_server: Any, fault_proxy: Any) -> None:
    policy = RetryPolicy(retries=3, backoff_base=0.01)
    refusing = fault_proxy(refuse_first=2)
    with RemoveBg(live_server.api_key, refusing.base_url(), retry_policy=policy) as c:
        assert c.account().credits.total >= 0
    assert refusing.refused == 2 and refusing.connections == 3
    dropping = fault_proxy(kill=lambda n: n == 1)
    with RemoveBg(live_server.api_key, dropping.base_url(), retry_policy=policy) as c:
        assert c.account().free_calls >= 0
    assert dropping.killed == 1 and dropping.requests == 2
    with RemoveBg(live_server.api_key, fault_proxy(refuse_first=100).base_url(), retries=1,
                  retry_policy=RetryPolicy(retries=1, backoff_base=0.01)) as c, \
            pytest.raises(RemoveBgConnectionError) as err:
        c.account()
    assert err.value.status == 0 and err.value.code == "connection_error"


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 17\r\n\r\n<html>oops</html>",
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n{",
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
])
def test_unparsable_error_bodies(raw: bytes) -> None:
    server = RawServer(raw)
    try:
        with RemoveBg("k", f"http://127.0.0.1:{server.port}/v1.0",
                      retry_policy=RetryPolicy(retries=1, backoff_base=0.01)) as c, pytest.raises(ServerError) as err:
            c.account()
        assert err.value.title == "Unable to parse response" and err.value.code is None
        assert server.hits == 2
    finally:
        server.close()


def test_garbage_is_not_a_hang() -> None:
    server = RawServer(b"this is not HTTP at all\r\n\r\n")
    try:
        with RemoveBg("k", f"http://127.0.0.1:{server.port}/v1.0",
                      retry_policy=RetryPolicy(retries=1, backoff_base=0.01)) as c, \
                pytest.raises(RemoveBgConnectionError):
            c.account()
    finally:
        server.close()


def test_a_retry_after_a_lost_answer_is_charged_once(live_server: Any, fault_proxy: Any, warm_photo: bytes) -> None:
    """The server charged, then the connection dropped mid-answer: the client's retry carries the same
    Idempotency-Key, so it is answered as a replay and not charged again. A second call is a new call."""
    key = live_server.create_key("lost-answer", credits=2, free_calls=0)
    policy = RetryPolicy(retries=3, backoff_base=0.01)
    dropping = fault_proxy(kill=lambda n: n == 1)
    with RemoveBg(key, dropping.base_url(), retry_policy=policy) as c:
        result = c.remove_background(warm_photo)
        assert dropping.killed == 1 and dropping.requests == 2
        assert result.credits_charged == 0.25
        assert c.account().credits.total == 1.75  # charged once, not twice
        c.remove_background(warm_photo)  # the same image again: a new call with a fresh key
        assert c.account().credits.total == 1.5
    if live_server.accounts is None:  # a client-only virtualenv (3.12/3.13): the ledger is checked on 3.11
        return
    rows = live_server.accounts.idempotency_rows(live_server.key_info(key).id)
    assert len(rows) == 2 and len({r["idem_key"] for r in rows}) == 2
    assert all(len(str(r["idem_key"])) == 36 for r in rows)  # UUIDs
