"""Usage records: one per gateway request, written before its response is released.

Both tables are append-only. A request answered whole has one ``usage_records`` row
with its outcome. A streamed request's row is written before the first byte goes out
(its outcome still empty); when the stream ends, its outcome is appended to
``usage_outcomes``. A record with neither outcome was cut off (the server died
mid-stream): the use is never unrecorded, only its token count may be unknown.

Each row carries ``leaf``, the RFC 9162 leaf hash of its canonical encoding taken as
it was written (see ``usage.digest``): sealing commits to these, so a row edited
before its seal still shows as edited.
"""

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
    sa.Column("streamed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("leaf", sa.LargeBinary(32), nullable=True),
    sa.Column("categories", sa.String(128), nullable=True),
)

usage_outcomes_table = sa.Table(
    "usage_outcomes",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("finished_at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("prompt_tokens", sa.Integer, nullable=True),
    sa.Column("completion_tokens", sa.Integer, nullable=True),
    sa.Column("total_tokens", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("audit_seq", sa.BigInteger, nullable=True, index=True),
    sa.Column("leaf", sa.LargeBinary(32), nullable=True),
)


@dataclass(slots=True)
class UsageRecord:
    """What one gateway request did."""

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
    streamed: bool = False
    """A stream: the outcome (tokens, latency, final status) follows in usage_outcomes."""
    categories: str | None = None
    """The content signals the gateway's screening flagged, comma-separated in signal
    order (``cyber,jailbreak``); None when it flagged nothing."""

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_row(cls, row: Any) -> UsageRecord:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__slots__})


@dataclass(slots=True)
class UsageOutcome:
    """How a streamed request ended."""

    request_id: str
    finished_at: datetime
    status_code: int
    error_code: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    latency_ms: float | None = None

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_row(cls, row: Any) -> UsageOutcome:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__slots__})
