"""The state of one gateway request as it moves through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clearance.content.classifier import Verdict
from clearance.gateway.protocols.base import ApiProtocol, Usage
from clearance.identity.index import Principal
from clearance.limits.interfaces import Admission
from clearance.policy.engine import Decision
from clearance.registry.models import Model


@dataclass(slots=True)
class Call:
    request_id: str
    endpoint: str
    """Which operation: ``chat.completions``, ``completions``, ``embeddings``, ``messages``."""
    protocol: ApiProtocol
    started_at: datetime
    started: float
    """Monotonic start time, for latency."""
    credential: str | None
    client_ip: str | None = None
    purpose: str = ""
    """The dual-use purpose the request declares (``X-Clearance-Purpose``)."""
    anthropic_version: str | None = None
    raw_body: bytes = b""
    body: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    end_user: str | None = None
    """The organization's id for the person behind the request (``safety_identifier``,
    ``user``, or Anthropic ``metadata.user_id``)."""
    categories: frozenset[str] = frozenset()
    """Content categories screening found."""
    screening: Verdict | None = None
    """The inline classifier's scores, when the request had text to screen."""
    output_flags: tuple[str, ...] = ()
    """Signals output screening found in the answer (models with that safeguard)."""
    principal: Principal | None = None
    model: Model | None = None
    decision: Decision | None = None
    admission: Admission | None = None
    usage: Usage = field(default_factory=Usage)
    status: int = 200
    """The status the request ended with, for metrics and the access line: the HTTP
    status its client received — except a stream that failed after its 200 went out,
    which ended with the status of the error event that closed it (a 502 for an
    upstream that broke off, say), or 499 if its client left first."""
    error_code: str | None = None
    """The machine code it ended with, if not a success (``upstream_status``: the
    upstream's own error, passed through)."""
