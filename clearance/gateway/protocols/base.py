"""What every API protocol provides to the gateway."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from clearance.gateway.errors import GatewayError, invalid_request


@dataclass(slots=True)
class Usage:
    """Token counts as the upstream reported them (never estimated)."""

    prompt: int | None = None
    completion: int | None = None

    @property
    def total(self) -> int | None:
        if self.prompt is None and self.completion is None:
            return None
        return (self.prompt or 0) + (self.completion or 0)


class StreamMeter(Protocol):
    usage: Usage

    def observe(self, event: bytes) -> bool:
        """Read one server-sent event of the upstream's stream; True to forward it to
        the client (False drops it: a usage chunk the client did not ask for)."""
        ...


class ApiProtocol(Protocol):
    name: str

    def validate(self, endpoint: str, body: dict[str, Any]) -> None:
        """Raise a 400 GatewayError naming the offending field."""
        ...

    def check_parts(self, endpoint: str, body: dict[str, Any], extra: frozenset[str]) -> None:
        """Raise a 400 GatewayError for a content part of a type the API does not
        define and the model does not pass through (``extra``). Runs once the model is
        known, after :meth:`validate`."""
        ...

    def error_body(self, error: GatewayError, request_id: str) -> bytes: ...

    def usage(self, document: dict[str, Any]) -> Usage: ...

    def prepare_stream(self, body: dict[str, Any]) -> tuple[dict[str, Any], StreamMeter]:
        """The body to send upstream for a streamed request (asking for usage if the
        client did not), and a meter for the events that come back."""
        ...

    def stream_error(self, error: GatewayError) -> bytes:
        """A well-formed event ending a stream that failed midway."""
        ...


def check_part_types(parts: list[Any], known: frozenset[str], field: str) -> None:
    """Every part an object whose ``type`` is one of ``known``."""
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(kind, str) or kind not in known:
            raise invalid_request(
                f"{field}[{index}].type must be one of {', '.join(sorted(known))}.",
                f"{field}[{index}].type",
            )


def number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
"""Whether an event may carry token usage (``"usage": null`` does not)."""


def sse_data(event: bytes) -> bytes | None:
    """The data of a server-sent event (joined if on several lines), or None."""
    data = [line[5:].lstrip(b" ") for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(data) if data else None
