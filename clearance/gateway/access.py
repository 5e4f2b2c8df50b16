"""The access log: one structured line for every gateway request, once it has ended.

    {"request_id": "req_…", "endpoint": "chat.completions", "org_id": "org_…",
     "key_id": "key_…", "model": "frontier-cyber", "stream": false, "status": 200,
     "code": null, "prompt_tokens": 12, "completion_tokens": 40, "latency_ms": 1.84,
     "client_ip": "203.0.113.7", "event": "request", "pid": 4242, "level": "info",
     "timestamp": "2025-06-01T12:00:00.000000Z"}

Only metadata: never a credential (the key's id, not the key), never content (no
prompt, no answer, not even the model name a client sent when it names no registered
model — that text is the client's). ``status`` and ``code`` are how the request ended
(see ``Call.status``): a stream that failed after its 200 went out carries the status
of the error that ended it.

With JSON logs the line is rendered here with orjson, in the shape structlog gives
every other line (its processor chain would cost ~30 µs a line), and lines are written
together: ``FLUSH_AFTER`` seconds after the first one waiting, or once ``MAX_PENDING``
wait, and when the server stops — a write a request would cost more than the rest of
the line (~10 µs). A process killed outright loses at most that long's lines; its
usage records are the record of what it served. Console logs go through structlog.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from clearance.gateway.call import Call

log = structlog.get_logger(__name__)

EVENT = "request"
FLUSH_AFTER = 0.05
MAX_PENDING = 256


ATOMIC_WRITE = 4096
"""Bytes a write to a pipe may hold and still never interleave with another
process's (PIPE_BUF on Linux); a longer line goes alone."""


class AccessLog:
    def __init__(self, write: Callable[[str], None] | None) -> None:
        """``write``: writes whole lines to the JSON log stream (see
        :func:`clearance.logs.line_writer`); ``None`` renders through structlog."""
        self._write = write
        self._pid = os.getpid()
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def finished(self, call: Call) -> None:
        principal, model = call.principal, call.model
        fields: dict[str, Any] = {
            "request_id": call.request_id,
            "endpoint": call.endpoint,
            "org_id": principal.org_id if principal is not None else None,
            "key_id": principal.key_id if principal is not None else None,
            "model": model.name if model is not None else None,
            "stream": call.stream,
            "status": call.status,
            "code": call.error_code,
            "prompt_tokens": call.usage.prompt,
            "completion_tokens": call.usage.completion,
            "latency_ms": round((time.monotonic() - call.started) * 1000, 3),
            "client_ip": call.client_ip,
        }
        if self._write is None:
            log.info(EVENT, **fields)
            return
        fields["event"] = EVENT
        fields["pid"] = self._pid
        fields["level"] = "info"
        fields["timestamp"] = datetime.now(UTC)
        self._pending.append(orjson.dumps(fields, option=orjson.OPT_UTC_Z).decode())
        if len(self._pending) >= MAX_PENDING:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        """Write the lines waiting, now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending and self._write is not None:
            lines, self._pending = self._pending, []
            chunk: list[str] = []
            size = 0
            for line in lines:  # writes of at most PIPE_BUF bytes, whole lines: atomic on
                if chunk and size + len(line) + 1 > ATOMIC_WRITE:  # a pipe that several
                    self._write("\n".join(chunk))  # processes share (serve --workers N)
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line) + 1
            self._write("\n".join(chunk))
