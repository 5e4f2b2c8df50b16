"""Organizations, API keys and operators: tables and values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata

ORGS_TOPIC = "organizations"
KEYS_TOPIC = "api_keys"


class OrgStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class OperatorRole(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    INVESTIGATOR = "investigator"
    AUDITOR = "auditor"


organizations_table = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("admission", sa.String(16), nullable=False),
    sa.Column("admission_reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
)

api_keys_table = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("lookup", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("models", JSONValue, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

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
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)


def _m(row: Any) -> Any:
    return row._mapping


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    country: str
    """ISO 3166-1 alpha-2 code of the country the organization is based in."""
    status: OrgStatus
    admission: str
    """How it got in: ``direct`` (an operator bypassed vetting) or ``vetted``."""
    admission_reason: str
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: Any) -> Organization:
        m = _m(row)
        return cls(
            id=m["id"],
            name=m["name"],
            country=m["country"],
            status=OrgStatus(m["status"]),
            admission=m["admission"],
            admission_reason=m["admission_reason"],
            created_at=m["created_at"],
            created_by=m["created_by"],
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record; the secret itself is never kept."""

    id: str
    org_id: str
    lookup: str
    """The public part of the key (``clr_`` and its first characters), for display."""
    secret_hash: bytes
    models: tuple[str, ...] | None
    """Model names the key may call; ``None`` means every model the org may use."""
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        m = _m(row)
        models = m["models"]
        return cls(
            id=m["id"],
            org_id=m["org_id"],
            lookup=m["lookup"],
            secret_hash=bytes(m["secret_hash"]),
            models=tuple(models) if models is not None else None,
            created_at=m["created_at"],
            created_by=m["created_by"],
            expires_at=m["expires_at"],
            revoked_at=m["revoked_at"],
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
        m = _m(row)
        return cls(
            id=m["id"],
            name=m["name"],
            role=OperatorRole(m["role"]),
            status=m["status"],
            created_at=m["created_at"],
            created_by=m["created_by"],
        )


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A newly issued key or token: the only moment its secret exists in clear."""

    id: str
    secret: str
    lookup: str
