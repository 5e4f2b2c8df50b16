"""Usage records: the table and the value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import UTCDateTime, metadata

usage_records_table = sa.Table(
    "usage_records",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("request_id", sa.String(40), nullable=False, unique=True),
    sa.Column("started_at", UTCDateTime, nullable=False, index=True),
    sa.Column("org_id", sa.String(40), nullable=False, index=True),
    sa.Column("key_id", sa.String(40), nullable=False),
    sa.Column("end_user", sa.String(256), nullable=True),
    sa.Column("source_ip", sa.String(64), nullable=True),
    sa.Column("model", sa.String(128), nullable=True),
    sa.Column("endpoint", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("policies", sa.String(512), nullable=True),
    sa.Column("prompt_tokens", sa.Integer, nullable=True),
    sa.Column("completion_tokens", sa.Integer, nullable=True),
    sa.Column("total_tokens", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("audit_seq", sa.BigInteger, nullable=True, index=True),
)


@dataclass(slots=True)
class UsageRecord:
    """What one gateway request did; written before its response is released."""

    request_id: str
    started_at: datetime
    org_id: str
    key_id: str
    endpoint: str
    end_user: str | None = None
    """The organization's own id for the person behind the request, if it sent one."""
    source_ip: str | None = None
    model: str | None = None
    status_code: int = 0
    error_code: str | None = None
    policies: str | None = None
    """The ids of the policies that decided, comma-separated."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    latency_ms: float | None = None

    def as_row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "started_at": self.started_at,
            "org_id": self.org_id,
            "key_id": self.key_id,
            "end_user": self.end_user,
            "source_ip": self.source_ip,
            "model": self.model,
            "endpoint": self.endpoint,
            "status_code": self.status_code,
            "error_code": self.error_code,
            "policies": self.policies,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "latency_ms": self.latency_ms,
        }

    @classmethod
    def from_row(cls, row: Any) -> UsageRecord:
        m = dict(row._mapping)
        m.pop("id", None)
        m.pop("audit_seq", None)
        return cls(**m)
