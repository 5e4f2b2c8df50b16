"""the guard-model judge's verdict beside the deep stage's on monitor results

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("judge_verdict", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("judge_flagged", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitor_results", schema=None) as batch_op:
        batch_op.drop_column("judge_flagged")
        batch_op.drop_column("judge_verdict")
