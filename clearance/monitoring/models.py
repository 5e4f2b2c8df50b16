"""Cases (an investigation, the only place raw request content may be read), the
alerts detectors raise for review, and the monitor's own progress and results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata

if TYPE_CHECKING:
    from clearance.content.classifier import Verdict

cases_table = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("title", sa.String(256), nullable=False),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("opened_by", sa.String(128), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("closed_by", sa.String(128), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("resolution", sa.Text, nullable=True),
)


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    title: str
    org_id: str | None
    status: str
    """``open`` or ``closed``."""
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    resolution: str | None

    @classmethod
    def from_row(cls, row: Any) -> Case:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__dataclass_fields__})


alerts_table = sa.Table(
    "monitor_alerts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("raised_at", UTCDateTime, nullable=False, index=True),
    sa.Column("detector", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("org_id", sa.String(40), nullable=True, index=True),
    sa.Column("key_id", sa.String(40), nullable=True),
    sa.Column("end_user", sa.String(256), nullable=True),
    sa.Column("summary", sa.String(512), nullable=False),
    sa.Column("evidence", JSONValue, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("case_id", sa.ForeignKey("cases.id"), nullable=True),
    sa.Column("reviewed_by", sa.String(128), nullable=True),
)

monitor_progress_table = sa.Table(
    "monitor_progress",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_usage_id", sa.BigInteger, nullable=False),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("stats", JSONValue, nullable=True),
)
"""How far the monitor has read the usage records (their ``id``), which process
holds the lease to read on (one at a time, so each detector sees every event), and
the monitor's counters (kept across restarts and holders)."""

monitor_results_table = sa.Table(
    "monitor_results",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("org_id", sa.String(40), nullable=False, index=True),
    sa.Column("model", sa.String(128), nullable=True),
    sa.Column("stage", sa.String(8), nullable=False),
    sa.Column("flagged", sa.String(128), nullable=True),
    sa.Column("embedding", sa.LargeBinary, nullable=True),
    sa.Column("terms", sa.String(512), nullable=True),
    sa.Column("judge_verdict", sa.String(200), nullable=True),
    sa.Column("judge_flagged", sa.String(128), nullable=True),
)
"""The deep stage's verdict on each usage event: the signals it flagged, and for topic
summaries the text's embedding (float16) and its most telling vocabulary terms —
never the text. With a guard-model judge (``judge.py``), what it answered and the
signals that maps to ("" for safe); both None for an event it did not judge."""


class AlertStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    IN_CASE = "in_case"


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    raised_at: datetime
    detector: str
    severity: str
    org_id: str | None
    key_id: str | None
    end_user: str | None
    summary: str
    evidence: dict[str, Any]
    status: str
    case_id: str | None
    reviewed_by: str | None

    @classmethod
    def from_row(cls, row: Any) -> Alert:
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Deep:
    """The deep stage's reading of one text: verdict, float16 embedding, terms."""

    verdict: Verdict
    embedding: bytes
    terms: str


Verdicts = dict[str, Deep]  # by request id


def result_row(row: Any, deep: Deep | None) -> dict[str, Any]:
    """A ``monitor_results`` row for usage record ``row``: the deep stage's reading, or
    (with none) the inline stage's categories."""
    flagged = deep.verdict.flagged if deep is not None else (row.categories or "").split(",")
    return {
        "request_id": row.request_id,
        "at": row.started_at,
        "org_id": row.org_id,
        "model": row.model,
        "stage": "deep" if deep is not None else "inline",
        "flagged": ",".join(f for f in flagged if f) or None,
        "embedding": deep.embedding if deep is not None else None,
        "terms": (deep.terms or None) if deep is not None else None,
        "judge_verdict": None,
        "judge_flagged": None,
    }
