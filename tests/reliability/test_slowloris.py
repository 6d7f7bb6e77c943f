"""Read deadlines and connection-level errors of the HTTP layer (``openbg_emulator/httpproto.py``).

Against a live ``openbg serve`` on 127.0.0.1 with ``OPENBG_HEADER_TIMEOUT=2`` and ``OPENBG_BODY_TIMEOUT=2``,
with raw sockets: a slowloris dripping its header block is cut at the deadline with ``408 request_timeout``
in the remove.bg error shape while the server keeps answering others; 50 idle or half-open connections do not
block a normal request; a body dripped too slowly gets 408, a slow but steady one does not; a head over the
16 KiB cap (however it arrives) and a malformed head get ``400 invalid_request`` as JSON; a keep-alive
connection still serves two requests and is then closed quietly. Every socket has a timeout; every loop is
bounded.
"""

from __future__ import annotations

import base64
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.reliability.rel_helpers import photo

DEADLINE = 2.0  # the deadline_server's header and body timeouts
SLACK = 4.0  # a loaded 2-core machine: the timer may fire late, the answer may take a while to arrive


def _connect(server: Any) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"no complete response head in {data[:200]!r}"
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def _error(data: bytes) -> tuple[int, str, dict[str, Any]]:
    """(status, code, error object) of a remove.bg-shaped error response; checks the shape."""
    status, headers, body = _parse(data)
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert int(headers["content-length"]) == len(body), (headers, body)
    assert headers.get("connection") == "close"
    assert headers.get("x-request-id")
    obj = json.loads(body)
    assert isinstance(obj["errors"], list) and len(obj["errors"]) == 1
    err = obj["errors"][0]
    assert err["title"] and err["detail"]
    return status, err["code"], err


def _read_until_eof(s: socket.socket, limit: float) -> tuple[bytes, bool]:
    """Read everything until the server closes (True) or ``limit`` seconds pass (False)."""
    return _drip(s, None, every=0.5, limit=limit)


def _drip(s: socket.socket, byte: bytes | None, *, every: float, limit: float,
          before_send: Callable[[], None] | None = None) -> tuple[bytes, bool]:
    """Send ``byte`` (None: nothing) every ``every`` seconds while reading what the server answers, until it
    closes the connection (True) or ``limit`` seconds pass (False); ``before_send`` runs before each byte."""
    data = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], max(0.0, min(every, end - time.monotonic())))
        if r:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
            continue
        if byte is None:
            continue
        if before_send is not None:
            before_send()
        try:
            s.send(byte)
        except OSError:
            break
    return data, False


def _read_response(s: socket.socket, limit: float = 30) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length body from a keep-alive connection."""
    data = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if b"\r\n\r\n" in data:
            status, headers, body = _parse(data)
            if len(body) >= int(headers.get("content-length", "0")):
                return status, headers, body
        s.settimeout(max(0.1, end - time.monotonic()))
        chunk = s.recv(65536)
        assert chunk, f"connection closed after {data[:300]!r}"
        data += chunk
    raise AssertionError(f"no complete response within {limit} s: {data[:300]!r}")


def _serves(server: Any) -> None:
    """The server answers /healthz and an authenticated /account promptly."""
    t0 = time.monotonic()
    assert httpx.get(f"{server.root_url}/healthz", timeout=10).status_code == 200
    r = httpx.get(f"{server.base_url}/account", headers={"X-Api-Key": server.api_key}, timeout=10)
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 < 10


def _credits(server: Any) -> float:
    r = httpx.get(f"{server.base_url}/account", headers={"X-Api-Key": server.api_key}, timeout=10)
    assert r.status_code == 200, r.text
    return float(r.json()["data"]["attributes"]["credits"]["total"])


def test_slowloris_header_drip_cut_at_deadline(deadline_server: Any) -> None:
    """One header byte a second: 408 request_timeout (JSON) at the deadline, then the connection is closed;
    the server answers /healthz and /account during the drip and after."""
    s = _connect(deadline_server)
    try:
        t0 = time.monotonic()
        s.sendall(b"GET /v1.0/account HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        served_during: list[bool] = []

        def serve_once() -> None:
            if not served_during:
                _serves(deadline_server)  # while this connection is held open
                served_during.append(True)

        data, closed = _drip(s, b"a", every=1.0, limit=DEADLINE + SLACK + 4, before_send=serve_once)
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    assert served_during
    assert data, f"no answer after {elapsed:.1f} s"
    status, code, err = _error(data)
    assert (status, code) == (408, "request_timeout"), err
    assert "header" in err["detail"]
    assert closed, "the connection was not closed after the 408"
    assert DEADLINE - 0.5 <= elapsed <= DEADLINE + SLACK, elapsed
    _serves(deadline_server)


def test_silent_connection_answered_408(deadline_server: Any) -> None:
    s = _connect(deadline_server)
    try:
        t0 = time.monotonic()
        data, closed = _read_until_eof(s, DEADLINE + SLACK)
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    assert closed and DEADLINE - 0.5 <= elapsed <= DEADLINE + SLACK, (closed, elapsed)
    status, code, _ = _error(data)
    assert (status, code) == (408, "request_timeout")


def test_fifty_idle_connections_do_not_block_a_request(deadline_server: Any) -> None:
    """25 silent connections and 25 with half a request line: a normal request is answered meanwhile, and
    each of the 50 gets its 408 and is closed by the deadline."""
    socks = [_connect(deadline_server) for _ in range(50)]
    try:
        t0 = time.monotonic()
        for s in socks[25:]:
            s.sendall(b"POST /v1.0/remov")
        _serves(deadline_server)
        answers: dict[int, bytes] = {i: b"" for i in range(len(socks))}
        open_ = set(answers)
        while open_ and time.monotonic() - t0 < DEADLINE + SLACK + 4:
            r, _, _ = select.select([socks[i] for i in open_], [], [], 0.5)
            for s in r:
                i = socks.index(s)
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    answers[i] += chunk
                else:
                    open_.discard(i)
        assert not open_, f"{len(open_)} connections still open after {time.monotonic() - t0:.1f} s"
        for i, data in answers.items():
            status, code, _ = _error(data)
            assert (status, code) == (408, "request_timeout"), i
    finally:
        for s in socks:
            s.close()
    _serves(deadline_server)


def test_body_drip_cut_at_deadline_nothing_charged(deadline_server: Any) -> None:
    """A complete head, then a body dripped a byte every 0.3 s: 408 request_timeout, nothing charged."""
    before = _credits(deadline_server)
    s = _connect(deadline_server)
    try:
        t0 = time.monotonic()
        s.sendall(b"POST /v1.0/removebg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: " + deadline_server.api_key.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"size\": ")
        data, closed = _drip(s, b" ", every=0.3, limit=DEADLINE + SLACK + 4)
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    status, code, err = _error(data)
    assert (status, code) == (408, "request_timeout"), err
    assert "body" in err["detail"]
    assert closed and DEADLINE - 0.5 <= elapsed <= DEADLINE + SLACK, (closed, elapsed)
    assert _credits(deadline_server) == before
    _serves(deadline_server)
    # the cut body is an expected event, not a server failure: no traceback in the log
    log = deadline_server.log_path.read_text(errors="replace")
    assert "ClientDisconnect" not in log and "Traceback" not in log, log[-2000:]


def test_slow_but_steady_body_is_not_cut(deadline_server: Any) -> None:
    """96 KB sent 8 KB every 0.25 s (3 s, longer than the 2 s base deadline, but 32 KB/s): answered by the API."""
    img = base64.b64encode(photo()).decode()
    body = json.dumps({"size": "bogus", "image_file_b64": img, "pad": "x" * 96_000}).encode()
    s = _connect(deadline_server)
    try:
        s.sendall(b"POST /v1.0/removebg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: " + deadline_server.api_key.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        t0 = time.monotonic()
        for i in range(0, len(body), 8192):
            s.sendall(body[i:i + 8192])
            time.sleep(0.25)
        assert time.monotonic() - t0 > DEADLINE
        status, _headers, resp = _read_response(s)
    finally:
        s.close()
    assert status == 400, resp
    assert json.loads(resp)["errors"][0]["code"] == "invalid_size"


def test_oversized_header_block_gets_json_error(deadline_server: Any) -> None:
    """A 64 KB head sent at once, and a 20 KB one (over the 16 KiB cap; h11 alone let a head that arrives in
    one read through): 400 invalid_request in the remove.bg shape. A 15 KB head is served."""
    key = deadline_server.api_key.encode()
    for size in (64 * 1024, 20 * 1024):
        s = _connect(deadline_server)
        try:
            s.sendall(b"GET /v1.0/account HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: " + key
                      + b"\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
            data, closed = _read_until_eof(s, 15)
        finally:
            s.close()
        status, code, err = _error(data)
        assert (status, code) == (400, "invalid_request"), (size, err)
        assert "16384" in err["detail"], err
        assert closed
    s = _connect(deadline_server)
    try:
        s.sendall(b"GET /v1.0/account HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: " + key
                  + b"\r\nX-Big: " + b"a" * (15 * 1024) + b"\r\n\r\n")
        status, _h, body = _read_response(s)
    finally:
        s.close()
    assert status == 200, body
    _serves(deadline_server)


def test_malformed_heads_get_json_error(deadline_server: Any) -> None:
    heads = [
        b"HELLO\r\n\r\n",  # no method, target or version
        b"GET /v1.0/account HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GET /v1.0/account HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n",  # a TLS ClientHello's first bytes on the plain-HTTP port
    ]
    for head in heads:
        s = _connect(deadline_server)
        try:
            s.sendall(head)
            data, closed = _read_until_eof(s, 15)
        finally:
            s.close()
        status, code, err = _error(data)
        assert (status, code) == (400, "invalid_request"), (head, err)
        assert err["detail"].startswith("Malformed HTTP request"), err
        assert closed
    _serves(deadline_server)


def test_keep_alive_two_requests_then_quiet_close(deadline_server: Any) -> None:
    """Two requests on one connection are both answered; then, idle, the connection is closed without a 408."""
    req = (b"GET /v1.0/account HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: " + deadline_server.api_key.encode()
           + b"\r\n\r\n")
    s = _connect(deadline_server)
    try:
        for _ in range(2):
            s.sendall(req)
            status, headers, body = _read_response(s)
            assert status == 200, body
            assert headers.get("connection") != "close"
            time.sleep(DEADLINE / 2)  # idle between requests, less than the deadline
        t0 = time.monotonic()
        data, closed = _read_until_eof(s, DEADLINE + SLACK + 5)
    finally:
        s.close()
    assert closed and data == b"", (closed, data[:200])
    assert time.monotonic() - t0 <= DEADLINE + SLACK + 5


class _StallFirstUpload:
    """A TCP proxy on 127.0.0.1 in front of ``upstream``: on its first connection it forwards the request
    head and 100 bytes of the body, then holds the rest back (a stalled upload); later connections pass
    through. Counts connections; answers flow back untouched."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client, self.connections == 1), daemon=True).start()

    def _serve(self, client: socket.socket, stall: bool) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        client.settimeout(30)

        def down() -> None:
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            finally:
                client.close()

        t = threading.Thread(target=down, daemon=True)
        t.start()
        sent, head_end = b"", -1
        try:
            while data := client.recv(65536):
                if stall:
                    sent += data
                    head_end = sent.find(b"\r\n\r\n")
                    if head_end < 0:
                        continue
                    upstream.sendall(sent[: head_end + 4 + 100])
                    break  # the rest is held back: the server's body deadline must fire
                upstream.sendall(data)
        except OSError:
            pass
        t.join(timeout=30)
        upstream.close()

    def close(self) -> None:
        self._sock.close()


def test_wrapper_retries_a_408_after_a_stalled_upload(deadline_server: Any) -> None:
    """The first upload stalls mid-body: the server answers 408 request_timeout at its body deadline and
    charges nothing; the client retries on a new connection and gets the cut-out."""
    from openbg import RemoveBg, RequestTimeoutError, RetryPolicy

    proxy = _StallFirstUpload(deadline_server.port)
    def free_calls() -> int:
        r = httpx.get(f"{deadline_server.base_url}/account", headers={"X-Api-Key": deadline_server.api_key}, timeout=10)
        return int(r.json()["data"]["attributes"]["api"]["free_calls"])

    before, free_before = _credits(deadline_server), free_calls()
    try:
        base = f"http://127.0.0.1:{proxy.port}/v1.0"
        with RemoveBg(deadline_server.api_key, base, retry_policy=RetryPolicy(retries=2, backoff_base=0.05)) as c:
            result = c.remove_background(photo(), size="preview")
        assert result.to_pil().size == (96, 72)
        assert proxy.connections == 2
        # one preview paid (a free call), the stalled upload nothing
        assert (_credits(deadline_server), free_calls()) == (before, free_before - 1)
        # without retries the 408 reaches the caller as a typed error
        proxy2 = _StallFirstUpload(deadline_server.port)
        try:
            with RemoveBg(deadline_server.api_key, f"http://127.0.0.1:{proxy2.port}/v1.0",
                          retry_policy=RetryPolicy(retries=0)) as c, pytest.raises(RequestTimeoutError) as err:
                c.remove_background(photo(), size="preview")
            assert (err.value.status, err.value.code) == (408, "request_timeout")
        finally:
            proxy2.close()
    finally:
        proxy.close()
