"""Cases: an investigation, the only place raw request content may be read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import UTCDateTime, metadata

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
