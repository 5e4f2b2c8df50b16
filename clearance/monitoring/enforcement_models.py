"""Enforcement actions taken on what monitoring found, and appeals against them.

An action is graduated: ``warn`` (the organization is told), ``throttle`` (a lower
request rate for a while), ``suspend`` (an end user, a member or the organization,
until reinstated) and ``revoke`` (an API key, for good). Each is taken by an
investigator or by an automatic rule, and stays ``active`` until it is reversed —
by an investigator, or by an appeal that is upheld (the action is then *overturned*).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import UTCDateTime, metadata

ENFORCEMENT_TOPIC = "enforcement"
"""Bumped when throttles change, so every gateway reloads them."""


class ActionKind(StrEnum):
    WARN = "warn"
    THROTTLE = "throttle"
    SUSPEND = "suspend"
    REVOKE = "revoke"


class Scope(StrEnum):
    END_USER = "end_user"
    KEY = "key"
    MEMBER = "member"
    ORGANIZATION = "organization"


ALLOWED: dict[ActionKind, frozenset[Scope]] = {
    ActionKind.WARN: frozenset(Scope),
    ActionKind.THROTTLE: frozenset({Scope.END_USER, Scope.KEY, Scope.ORGANIZATION}),
    ActionKind.SUSPEND: frozenset({Scope.END_USER, Scope.MEMBER, Scope.ORGANIZATION}),
    ActionKind.REVOKE: frozenset({Scope.KEY}),
}
"""Which scopes each kind applies to (keys are revoked, not suspended)."""

actions_table = sa.Table(
    "enforcement_actions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("taken_at", UTCDateTime, nullable=False, index=True),
    sa.Column("taken_by", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("target", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("rpm", sa.Integer, nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("alert_id", sa.String(40), nullable=True),
    sa.Column("case_id", sa.String(40), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reversed_at", UTCDateTime, nullable=True),
    sa.Column("reversed_by", sa.String(128), nullable=True),
    sa.Column("reversal_reason", sa.Text, nullable=True),
    sa.Column("overturned", sa.Boolean, nullable=False, server_default=sa.false()),
)

appeals_table = sa.Table(
    "enforcement_appeals",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("action_id", sa.ForeignKey("enforcement_actions.id"), nullable=False, index=True),
    sa.Column("filed_at", UTCDateTime, nullable=False),
    sa.Column("filed_by", sa.String(128), nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("decided_by", sa.String(128), nullable=True),
    sa.Column("decision_reason", sa.Text, nullable=True),
)


def _fields(cls: type, row: Any) -> dict[str, Any]:
    m = row._mapping
    return {name: m[name] for name in cls.__dataclass_fields__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    taken_at: datetime
    taken_by: str
    kind: str
    scope: str
    org_id: str
    target: str
    """The end user's external id, the key, member or organization id."""
    reason: str
    rpm: int | None
    expires_at: datetime | None
    alert_id: str | None
    case_id: str | None
    status: str
    """``active`` or ``reversed``."""
    reversed_at: datetime | None
    reversed_by: str | None
    reversal_reason: str | None
    overturned: bool

    @classmethod
    def from_row(cls, row: Any) -> Action:
        return cls(**_fields(cls, row))


@dataclass(frozen=True, slots=True)
class Appeal:
    id: str
    action_id: str
    filed_at: datetime
    filed_by: str
    statement: str
    status: str
    """``pending``, ``upheld`` (the action is overturned) or ``denied``."""
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> Appeal:
        return cls(**_fields(cls, row))
