"""uvicorn's h11 protocol with read deadlines and remove.bg-shaped connection-level errors.

uvicorn (h11) has a keep-alive idle timeout but no deadline for reading a request: a client that
opens a connection and drips its header block (slowloris) or its body holds a socket for ever.
:class:`OpenbgH11Protocol` adds:

* **a header deadline** (``OPENBG_HEADER_TIMEOUT``, 10 s): from the connection's start, and from the
  end of each response on a keep-alive connection, until the complete request head has arrived. When
  it passes, the server answers ``408 request_timeout`` and closes. (A keep-alive connection on which
  no byte of a next request has arrived is closed silently, as uvicorn's keep-alive timeout does.)
* **a body deadline** (``OPENBG_BODY_TIMEOUT``, 20 s, plus one second for every
  :data:`BODY_MIN_RATE` bytes received, as Apache's ``mod_reqtimeout`` does): from the end of the head
  until the whole body has arrived. Time during which the server itself is not reading (flow control,
  or a client waiting for ``100 Continue``) does not count. When it passes before the response has
  started: ``408 request_timeout``; otherwise the connection is closed.
* **an exact header-block cap**: h11 only bounds an *incomplete* head (``h11_max_incomplete_event_size``,
  16 KiB), so a larger head arriving in one read got through. Here a head longer than the cap is refused
  however it arrives.
* **remove.bg-shaped errors** for what uvicorn answered with a plain-text "Invalid HTTP request
  received." 400: a malformed request line or header, or a head over the cap, is
  ``400 invalid_request`` with a detail saying what was wrong.

Error answers are written directly (the ASGI app never saw the request), carry ``X-Request-Id``
(logged with the reason) and ``Connection: close``, and are followed by a lingering close: the write
side is shut, whatever the client still sends is read and discarded for up to :data:`LINGER_S`
seconds (at most :data:`LINGER_MAX_BYTES`), so that the client reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import re
import uuid
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from openbg_emulator.errors import ApiError

log = logging.getLogger("openbg_emulator.http")

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 20.0
BODY_MIN_RATE = 1024  # bytes/s: each BODY_MIN_RATE bytes received extends the body deadline by 1 s
LINGER_S = 2.0
LINGER_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_HEAD_BYTES = 16 * 1024  # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, also used by uvicorn

_HEAD_END = re.compile(rb"\n\r?\n")


class _Conn(h11.Connection):
    """h11.Connection that remembers the last protocol error and counts requests and body bytes."""

    def __init__(self, role: Any, max_incomplete_event_size: int) -> None:
        super().__init__(role, max_incomplete_event_size=max_incomplete_event_size)
        self.last_error: h11.RemoteProtocolError | None = None
        self.requests_seen = 0
        self.body_bytes = 0

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as e:
            self.last_error = e
            raise
        if isinstance(event, h11.Request):
            self.requests_seen += 1
        elif isinstance(event, h11.Data):
            self.body_bytes += len(event.data)
        return event


def error_bytes(err: ApiError, request_id: str, extra_headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """A complete HTTP/1.1 response in the remove.bg error shape, with ``Connection: close``."""
    status = int(err.status or 400)
    body = json.dumps(err.body(), separators=(",", ":")).encode()
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    head = [f"HTTP/1.1 {status} {reason}".encode()]
    for name, value in extra_headers or []:
        head.append(name + b": " + value)
    head += [
        b"content-type: application/json; charset=utf-8",
        b"content-length: " + str(len(body)).encode(),
        b"access-control-allow-origin: *",
        b"x-request-id: " + request_id.encode(),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class OpenbgH11Protocol(H11Protocol):
    """See the module docstring. Configure with :func:`protocol_class`."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout: float = DEFAULT_BODY_TIMEOUT_S
    conn: _Conn

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head = (config.h11_max_incomplete_event_size
                         if config.h11_max_incomplete_event_size is not None else DEFAULT_MAX_HEAD_BYTES)
        self.conn = _Conn(h11.SERVER, self.max_head)
        self._phase: tuple[str, int] | None = None  # ("head" | "body", requests seen when armed)
        self._read_timer: asyncio.TimerHandle | None = None
        self._body_start = 0.0
        self._body_bytes_at_start = 0
        self._lingering = False
        self._linger_timer: asyncio.TimerHandle | None = None
        self._discarded = 0

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._sync_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # an error was answered; read and discard until the client is done
            self._discarded += len(data)
            if self._discarded > LINGER_MAX_BYTES:
                self.transport.close()
            return
        super().data_received(data)
        self._sync_deadline()

    def handle_events(self) -> None:
        if self.conn.their_state is h11.IDLE and not self._lingering and self._head_too_large():
            self._answer_error(
                ApiError("invalid_request", detail=f"The request header block exceeds the limit of {self.max_head} bytes"),
                "header block over the limit")
            return
        super().handle_events()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._sync_deadline()

    def shutdown(self) -> None:
        if self._lingering:
            self.transport.close()
            return
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn when h11 rejects what the client sent (malformed or oversized head)."""
        err = self.conn.last_error
        if err is not None and err.error_status_hint == 431:
            detail = f"The request header block exceeds the limit of {self.max_head} bytes"
        else:
            reason = str(err) if err is not None and str(err) else "malformed request"
            detail = f"Malformed HTTP request: {reason}"
        self._answer_error(ApiError("invalid_request", detail=detail), detail)

    # ------------------------------------------------------------------ deadlines
    def _head_too_large(self) -> bool:
        buf = self.conn.trailing_data[0]
        if len(buf) <= self.max_head:
            return False
        m = _HEAD_END.search(buf, 0, self.max_head + 3)
        return m is None or m.end() > self.max_head

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _sync_deadline(self) -> None:
        """Arm the deadline that fits what we are waiting for from the client (head, body or nothing)."""
        if self._lingering or self.transport is None or self.transport.is_closing():
            self._cancel_read_timer()
            self._phase = None
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            phase: tuple[str, int] | None = ("head", self.conn.requests_seen)
        elif state is h11.SEND_BODY:
            phase = ("body", self.conn.requests_seen)
        else:
            phase = None
        if phase == self._phase:
            return
        self._cancel_read_timer()
        self._phase = phase
        if phase is None:
            return
        if phase[0] == "head":
            self._read_timer = self.loop.call_later(self.header_timeout, self._head_deadline)
        else:
            self._body_start = self.loop.time()
            self._body_bytes_at_start = self.conn.body_bytes
            self._read_timer = self.loop.call_later(self.body_timeout, self._body_deadline)

    def _head_deadline(self) -> None:
        self._read_timer = None
        if self._lingering or self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        pending = len(self.conn.trailing_data[0])
        if pending == 0 and self.conn.requests_seen > 0:
            # An idle keep-alive connection, not a request in progress: close it quietly.
            self.timeout_keep_alive_handler()
            return
        self._answer_error(
            ApiError("request_timeout", detail=f"The request header was not received within {self.header_timeout:g} s"),
            f"request head not complete after {self.header_timeout:g} s ({pending} bytes received)")

    def _body_deadline(self) -> None:
        self._read_timer = None
        if self._lingering or self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        now = self.loop.time()
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # We are not reading (the app has not consumed what came, or has not asked for the body
            # yet): not the client's delay. Start the client's clock again once we read.
            self._body_start = now
            self._body_bytes_at_start = self.conn.body_bytes
            self._read_timer = self.loop.call_later(self.body_timeout, self._body_deadline)
            return
        received = self.conn.body_bytes - self._body_bytes_at_start
        deadline = self._body_start + self.body_timeout + received / BODY_MIN_RATE
        if now < deadline:
            self._read_timer = self.loop.call_later(deadline - now, self._body_deadline)
            return
        if cycle is not None and cycle.response_started:
            # The app answered already (without needing the rest of the body): just stop waiting.
            log.info("closing a connection whose request body stalled after the response")
            self.transport.close()
            return
        self._answer_error(
            ApiError("request_timeout", detail="The request body was not received in time "
                                               f"({self.body_timeout:g} s plus 1 s per {BODY_MIN_RATE} bytes)"),
            f"request body stalled ({self.conn.body_bytes} bytes received)")

    # ------------------------------------------------------------------ answering
    def _answer_error(self, err: ApiError, log_reason: str) -> None:
        """Answer an error the app never saw, then close the connection lingering."""
        self._cancel_read_timer()
        self._unset_keepalive_if_required()
        if self._lingering or self.transport.is_closing():
            return
        request_id = uuid.uuid4().hex[:16]
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        log.warning("%s from %s: answered %d %s (request id %s)", log_reason, client, err.status, err.code,
                    request_id)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:  # cannot answer any more: just close
                self.transport.close()
                return
            cycle.disconnected = True  # the app's receive() gets http.disconnect; its send() is dropped
            cycle.message_event.set()
        self.transport.write(error_bytes(err, request_id, list(self.server_state.default_headers)))
        self._lingering = True
        self._phase = None
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger_timer = self.loop.call_later(LINGER_S, self.transport.close)


def protocol_class(header_timeout: float = DEFAULT_HEADER_TIMEOUT_S,
                   body_timeout: float = DEFAULT_BODY_TIMEOUT_S) -> type[OpenbgH11Protocol]:
    """The protocol class to pass as ``http=`` to ``uvicorn.run`` / ``uvicorn.Config``."""
    return type("OpenbgH11Protocol", (OpenbgH11Protocol,),
                {"header_timeout": float(header_timeout), "body_timeout": float(body_timeout)})
