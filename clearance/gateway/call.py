"""The state of one gateway request as it moves through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clearance.identity.index import Principal
from clearance.policy.engine import Decision
from clearance.registry.models import Model


@dataclass(slots=True)
class UpstreamReply:
    status: int
    body: bytes
    content_type: str
    document: dict[str, Any] | None = None
    """The body parsed, when it is a JSON object."""


@dataclass(slots=True)
class Call:
    request_id: str
    endpoint: str
    """Which API operation: ``chat.completions``."""
    started_at: datetime
    started: float
    """Monotonic start time, for latency."""
    credential: str | None
    client_ip: str | None = None
    raw_body: bytes = b""
    end_user: str | None = None
    """The organization's id for the person behind the request (``safety_identifier``,
    ``user``, or Anthropic ``metadata.user_id``)."""
    purpose: str = ""
    """The dual-use purpose the request declares (``X-Clearance-Purpose``)."""
    categories: frozenset[str] = frozenset()
    """Content categories screening found."""
    decision: Decision | None = None
    body: dict[str, Any] = field(default_factory=dict)
    principal: Principal | None = None
    model: Model | None = None
    reply: UpstreamReply | None = None
    usage: dict[str, int] = field(default_factory=dict)
