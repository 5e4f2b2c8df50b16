"""Stored policy sets: every version ever applied, the newest in force."""

from __future__ import annotations

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata

TOPIC = "policies"

policy_sets_table = sa.Table(
    "policy_sets",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("files", JSONValue, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
)
