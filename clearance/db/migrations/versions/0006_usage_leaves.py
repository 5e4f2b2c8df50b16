"""usage leaves: each usage row's leaf hash, taken when it is written

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("usage_records", "usage_outcomes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("leaf", sa.LargeBinary(length=32), nullable=True))


def downgrade() -> None:
    for table in ("usage_outcomes", "usage_records"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("leaf")
