"""Imported list snapshots, their entries, the hits screening raised and how each was
adjudicated, and the alerts continuous screening raises. Tables and values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata

SCREENING_TOPIC = "screening_lists"

snapshots_table = sa.Table(
    "screening_snapshots",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # Import order: times can tie, the newest snapshot is the one with the highest seq.
    sa.Column("seq", sa.Integer, nullable=True, unique=True),
    sa.Column("format", sa.String(8), nullable=False, index=True),
    sa.Column("file_name", sa.String(512), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("counts", JSONValue, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Column("imported_by", sa.String(128), nullable=False),
)

entries_table = sa.Table(
    "screening_entries",
    metadata,
    sa.Column("snapshot_id", sa.ForeignKey("screening_snapshots.id"), primary_key=True),
    sa.Column("entry_id", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("aliases", JSONValue, nullable=False),
    sa.Column("countries", JSONValue, nullable=False),
    sa.Column("programs", JSONValue, nullable=False),
    sa.Column("list_name", sa.Text, nullable=False),
    sa.Column("remarks", sa.Text, nullable=False),
)

hits_table = sa.Table(
    "screening_hits",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("application_id", sa.String(40), nullable=False, index=True),
    sa.Column("subject", sa.String(16), nullable=False),
    sa.Column("subject_name", sa.Text, nullable=False),
    sa.Column("entry_key", sa.String(160), nullable=False),
    sa.Column("snapshot_id", sa.String(40), nullable=False),
    sa.Column("entry_name", sa.Text, nullable=False),
    sa.Column("list_name", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("why", JSONValue, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
    sa.Column("raised_by", sa.String(16), nullable=False),
    sa.Column("adjudicated_at", UTCDateTime, nullable=True),
    sa.Column("adjudicated_by", sa.String(128), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.UniqueConstraint(
        "application_id", "subject_name", "entry_key", name="uq_screening_hits_subject_entry"
    ),
)

alerts_table = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("org_id", sa.String(40), nullable=True, index=True),
    sa.Column("application_id", sa.String(40), nullable=True),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("evidence", JSONValue, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    application_id: str
    subject: str
    """``organization``, ``alias``, ``owner`` or ``officer``."""
    subject_name: str
    entry_key: str
    entry_name: str
    list_name: str
    score: float
    why: list[str]
    status: str
    """``open``, ``true_match`` or ``false_positive``."""
    raised_at: datetime
    raised_by: str
    adjudicated_by: str | None
    reason: str | None

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "application_id": self.application_id,
            "subject": self.subject,
            "subject_name": self.subject_name,
            "entry": self.entry_key,
            "entry_name": self.entry_name,
            "list": self.list_name,
            "score": self.score,
            "why": self.why,
            "status": self.status,
            "raised_by": self.raised_by,
            "adjudicated_by": self.adjudicated_by,
            "reason": self.reason,
        }

    @classmethod
    def from_row(cls, row: Any) -> Hit:
        m = row._mapping
        return cls(
            id=m["id"],
            application_id=m["application_id"],
            subject=m["subject"],
            subject_name=m["subject_name"],
            entry_key=m["entry_key"],
            entry_name=m["entry_name"],
            list_name=m["list_name"],
            score=float(m["score"]),
            why=list(m["why"]),
            status=m["status"],
            raised_at=m["raised_at"],
            raised_by=m["raised_by"],
            adjudicated_by=m["adjudicated_by"],
            reason=m["reason"],
        )


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    kind: str
    severity: str
    org_id: str | None
    application_id: str | None
    summary: str
    evidence: dict[str, Any]
    status: str
    created_at: datetime

    def document(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_row(cls, row: Any) -> Alert:
        m = row._mapping
        return cls(**{k: m[k] for k in cls.__dataclass_fields__})
