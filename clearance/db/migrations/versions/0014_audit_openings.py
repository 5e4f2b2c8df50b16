"""audit openings: the private values behind new entries' commitments

New entries of kinds with private fields publish commitments in place of those values;
their openings (nonce and values) live here, beside the log and never published.
Entries already in the log stay as they are: the tree is append-only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_openings",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("nonce", sa.LargeBinary(length=32), nullable=False),
        sa.Column("cleartext", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_openings")),
    )


def downgrade() -> None:
    # Entries written since keep their commitments but can no longer be opened.
    op.drop_table("audit_openings")
