"""Registered models: the table and the value the rest of the system sees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clearance.db.schema import UTCDateTime, metadata

TOPIC = "models"

models_table = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("upstream_url", sa.String(2048), nullable=False),
    sa.Column("upstream_model", sa.String(256), nullable=False),
    sa.Column("upstream_key_env", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Model:
    """A model clients name in requests, and where its calls are forwarded."""

    id: str
    name: str
    upstream_url: str
    """The upstream's OpenAI base URL, as the ``openai`` SDK's ``base_url``."""
    upstream_model: str
    """The model name the upstream knows it by."""
    upstream_key_env: str | None
    """Environment variable holding the upstream API key (the key is never stored)."""
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: sa.Row[tuple[object, ...]]) -> Model:
        m = row._mapping
        return cls(
            id=m["id"],
            name=m["name"],
            upstream_url=m["upstream_url"],
            upstream_model=m["upstream_model"],
            upstream_key_env=m["upstream_key_env"],
            created_at=m["created_at"],
            created_by=m["created_by"],
        )
