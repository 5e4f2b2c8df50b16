"""texts handed over to the monitor holding the lease

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearance.db.schema

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitor_handoff",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("handed_at", clearance.db.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_monitor_handoff")),
    )
    with op.batch_alter_table("monitor_handoff", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_handoff_handed_at"), ["handed_at"], unique=False
        )
    if op.get_context().dialect.name == "postgresql":  # transient: no WAL, no replicas
        op.execute("ALTER TABLE monitor_handoff SET UNLOGGED")


def downgrade() -> None:
    with op.batch_alter_table("monitor_handoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_handoff_handed_at"))
    op.drop_table("monitor_handoff")
