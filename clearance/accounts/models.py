"""Operator accounts, their API tokens, sign-in credentials and sessions.

``login_accounts`` holds what a person signs in with — an argon2id password hash, a
sealed TOTP seed, throttling state — for an operator or for an organization member
(officers and org admins use the portal). ``sessions`` are console/portal sessions,
and the short-lived tickets that finish TOTP enrolment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import UTCDateTime, metadata


class OperatorRole(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    INVESTIGATOR = "investigator"
    AUDITOR = "auditor"


operators_table = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
)

operator_tokens_table = sa.Table(
    "operator_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("operator_id", sa.ForeignKey("operators.id"), nullable=False, index=True),
    sa.Column("lookup", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="admin"),
    sa.Column("label", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

login_accounts_table = sa.Table(
    "login_accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(40), nullable=False, unique=True),
    sa.Column("login_name", sa.String(320), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("totp_seed", sa.LargeBinary, nullable=True),
    sa.Column("totp_enrolled_at", UTCDateTime, nullable=True),
    sa.Column("last_totp_step", sa.BigInteger, nullable=True),
    sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("kind", "login_name", name="uq_login_accounts_kind_login_name"),
)

sessions_table = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("account_id", sa.ForeignKey("login_accounts.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("csrf_hash", sa.LargeBinary(32), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    role: OperatorRole
    status: str
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: Any) -> Operator:
        m = row._mapping
        return cls(
            id=m["id"],
            name=m["name"],
            role=OperatorRole(m["role"]),
            status=m["status"],
            created_at=m["created_at"],
            created_by=m["created_by"],
        )


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated operator, and the role this request acts with (a token may be
    scoped down to a narrower role than the operator's own).

    Every check goes through ``accounts.permissions.may``, which takes the narrower
    of the two roles: what an auditor-scoped token may do does not depend on whose
    token it is."""

    operator: Operator
    role: OperatorRole
    via: str
    """``token:<id>``, ``session:<id>``."""

    @property
    def actor(self) -> str:
        return f"operator:{self.operator.id}"

    @property
    def full_scope(self) -> bool:
        """Whether this request acts with its operator's whole role (a session, or a
        token of the operator's own role) rather than a narrowed token. Only such a
        request may manage the operator's credentials: issue tokens, change the
        password, revoke tokens other than narrowed ones."""
        return self.role is self.operator.role


@dataclass(frozen=True, slots=True)
class OperatorToken:
    id: str
    operator_id: str
    lookup: str
    role: OperatorRole
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> OperatorToken:
        m = row._mapping
        return cls(
            id=m["id"],
            operator_id=m["operator_id"],
            lookup=m["lookup"],
            role=OperatorRole(m["role"]),
            label=m["label"],
            created_at=m["created_at"],
            expires_at=m["expires_at"],
            revoked_at=m["revoked_at"],
        )
