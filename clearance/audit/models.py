"""The stored audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from clearance.db.schema import UTCDateTime, metadata

audit_entries_table = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    recorded_at: datetime
    kind: str
    actor: str
    body: bytes
    """The canonical encoding of the event (what gets hashed)."""

    def fields(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.body)
        return value

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        m = row._mapping
        return cls(
            seq=m["seq"],
            recorded_at=m["recorded_at"],
            kind=m["kind"],
            actor=m["actor"],
            body=bytes(m["body"]),
        )
