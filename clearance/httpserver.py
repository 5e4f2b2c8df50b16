"""uvicorn's httptools protocol, with limits on what a client may send before the
application sees its request.

As shipped, uvicorn with httptools accepts a request head of any size with any number
of header fields, and waits forever for a head or a body to arrive: any client, signed
in or not, can make the server hold memory and connections at no cost to itself. An
ASGI middleware is too late for this — the application sees a request only once its
head is whole. So this protocol counts, as bytes arrive and in the parser's callbacks:

- the head's bytes and header fields: past ``max_header_bytes`` or ``max_headers`` the
  client gets 431 and the connection is closed. A head is refused as soon as the bytes
  received for it pass the limit, so the server never holds more of one than the limit
  and one read;
- time: a head must arrive whole within ``header_timeout`` seconds of the connection
  (or of its first byte, for a later request on the connection), and a body that the
  application is waiting for may not go ``body_read_timeout`` seconds without a byte
  arriving; either gets 408 (when nothing has been answered yet) and the connection
  closed. A connection that never sends anything is closed after ``header_timeout``.

The hot path pays a few integer additions and comparisons a read and a request (the
header callbacks are uvicorn's own, untouched); timers are armed once a connection,
and again only when a head or body does not arrive in one read.
"""

from __future__ import annotations

import asyncio
import http
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from clearance.settings import Settings

# The body timeout is checked this many times within ``body_read_timeout``: a stalled
# body is noticed between 1 and 1 + 1/BODY_TICKS timeouts after its last byte.
BODY_TICKS = 4


@dataclass(frozen=True)
class HttpLimits:
    """What a client may send before its request reaches the application."""

    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_read_timeout: float = 30.0

    @classmethod
    def of(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout=settings.header_timeout,
            body_read_timeout=settings.body_read_timeout,
        )


class LimitedConfig(uvicorn.Config):
    """uvicorn's configuration, serving with :class:`LimitedHttpToolsProtocol`.

    The limits travel with the configuration, which uvicorn pickles to each worker
    process under ``--workers``."""

    def __init__(self, app: Any, *, http_limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.http_limits = http_limits

    def load(self) -> None:
        super().load()
        self.http_protocol_class = LimitedHttpToolsProtocol


def error_response(status: int, code: str, message: str, extra: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 response that closes the connection, with a body in the error
    shape the gateway and the admin API share."""
    body = orjson.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    )
    lines = [
        b"HTTP/1.1 %d %s" % (status, http.HTTPStatus(status).phrase.encode()),
        *(name + b": " + value for name, value in extra),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """One client connection, with :class:`HttpLimits` enforced."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = config.http_limits if isinstance(config, LimitedConfig) else HttpLimits()
        self._max_head = limits.max_header_bytes
        self._max_headers = limits.max_headers
        self._header_timeout = limits.header_timeout
        self._body_tick = limits.body_read_timeout / BODY_TICKS
        self._in_head = True  # the current request's head is not whole yet
        self._begun = False  # …and some of it has arrived
        self._head_raw = 0  # bytes received while the head was not whole
        self._read = 0  # bytes in the read being parsed
        self._over = False  # the head passed a limit: it got 431
        self._reads = 0  # reads so far: the body timer's sign of progress
        self._reads_seen = 0
        self._idle_ticks = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._read = len(data)
        if self._in_head:
            self._head_raw += self._read
        self._reads += 1
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._in_head:
            # A head still arriving: what it holds is bounded by what has come so far.
            if self._head_raw > self._max_head or (
                self._begun and len(self.headers) > self._max_headers
            ):
                self._refuse_head()
            elif self._head_timer is None and (self._begun or self._head_raw):
                self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)
        elif self._body_timer is None and self.cycle is not None and self.cycle.more_body:
            self._reads_seen, self._idle_ticks = self._reads, 0
            self._body_timer = self.loop.call_later(self._body_tick, self._body_tick_due)

    # Parser callbacks (``on_url`` and ``on_header`` are uvicorn's own: a head that
    # arrives in one read is only as large as that read, and is measured once whole)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if len(self.headers) > self._max_headers or (
            # The bytes received bound the head's size; only when they, or this read,
            # are larger than the limit need the head itself be measured.
            (self._head_raw > self._max_head or self._read > self._max_head)
            and self._head_size() > self._max_head
        ):
            self._refuse_head()
        else:
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._over:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._over:
            return
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._in_head, self._begun, self._head_raw = True, False, 0
        super().on_message_complete()

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    # Refusals

    def _refuse_head(self) -> None:
        self._over = True
        self._in_head = False  # nothing more of this connection is parsed or counted
        self._close_with(431, "headers_too_large", self._head_message())

    def _head_message(self) -> str:
        return (
            f"Request heads are limited to {self._max_head} bytes "
            f"and {self._max_headers} header fields."
        )

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # Pipelined: this head waits behind a response still being sent.
            self._head_timer = self.loop.call_later(self._header_timeout, self._head_timed_out)
            return
        if self._begun or self._head_raw:
            message = f"The request head did not arrive within {self._header_timeout:g} s."
            self._close_with(408, "request_timeout", message)
        else:
            self.transport.close()  # an idle connection: nothing to answer

    def _body_tick_due(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None or not cycle.more_body:
            return
        if self._reads != self._reads_seen or self.flow.read_paused:
            # Bytes came, or the application is not reading yet: not the client's delay.
            self._reads_seen, self._idle_ticks = self._reads, 0
        elif not cycle.waiting_for_100_continue:
            self._idle_ticks += 1
            if self._idle_ticks >= BODY_TICKS:
                self._body_timed_out()
                return
        self._body_timer = self.loop.call_later(self._body_tick, self._body_tick_due)

    def _body_timed_out(self) -> None:
        cycle = self.cycle
        message = f"No request body arrived for {self._body_tick * BODY_TICKS:g} s."
        answer = not cycle.response_started
        self._abandon()
        if answer:
            self._close_with(408, "request_timeout", message)
        else:
            self._cancel_timers()
            self.transport.close()

    def _close_with(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` and close. A response still being produced on this
        connection (a pipelined request's) is abandoned: its bytes would follow ours."""
        self._cancel_timers()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.disconnected and not cycle.response_complete:
            self._abandon()
            self.transport.close()
            return
        extra = self.server_state.default_headers
        self.transport.write(error_response(status, code, message, extra))
        self.transport.close()

    def _abandon(self) -> None:
        """The application sees the client as gone, and whatever it sends is dropped."""
        self.cycle.disconnected = True
        self.cycle.message_event.set()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
