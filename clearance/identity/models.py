"""Organizations and everyone acting for them: members, service accounts, the end users
seen through the API, their API keys and entitlements. Tables and values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from clearance.db.schema import JSONValue, UTCDateTime, metadata
from clearance.limits.models import Limits, scoped_from_document

ORGS_TOPIC = "organizations"
KEYS_TOPIC = "api_keys"
MEMBERS_TOPIC = "members"
END_USERS_TOPIC = "end_users"
ENTITLEMENTS_TOPIC = "entitlements"


class OrgStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class MemberRole(StrEnum):
    OFFICER = "officer"
    ADMIN = "admin"
    MEMBER = "member"


class Verification(StrEnum):
    NONE = "none"
    EMAIL = "email_verified"
    IDENTITY = "identity_verified"


class Status(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


organizations_table = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("tier", sa.Integer, nullable=False, server_default="1"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("admission", sa.String(16), nullable=False),
    sa.Column("admission_reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
)

members_table = sa.Table(
    "members",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("verification", sa.String(24), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
)

service_accounts_table = sa.Table(
    "service_accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.UniqueConstraint("org_id", "name", name="uq_service_accounts_org_id_name"),
)

end_users_table = sa.Table(
    "end_users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("external_id", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.UniqueConstraint("org_id", "external_id", name="uq_end_users_org_id_external_id"),
)

api_keys_table = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("member_id", sa.ForeignKey("members.id"), nullable=True),
    sa.Column("service_account_id", sa.ForeignKey("service_accounts.id"), nullable=True),
    sa.Column("lookup", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("models", JSONValue, nullable=True),
    sa.Column("purposes", JSONValue, nullable=True),
    sa.Column("networks", JSONValue, nullable=True),
    sa.Column("rotated_from", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoked_reason", sa.Text, nullable=True),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("last_used_ip", sa.String(64), nullable=True),
)

entitlements_table = sa.Table(
    "entitlements",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("org_id", sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("purposes", JSONValue, nullable=False),
    sa.Column("limits", JSONValue, nullable=False, server_default="{}"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)


def _m(row: Any) -> Any:
    return row._mapping


def _tuple(value: Any) -> tuple[str, ...] | None:
    return tuple(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    country: str
    """ISO 3166-1 alpha-2 code of the country the organization is based in."""
    tier: int
    """Trust tier granted by vetting: 1 (basic) to 3 (highest); models set a minimum."""
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
            tier=int(m["tier"]),
            status=OrgStatus(m["status"]),
            admission=m["admission"],
            admission_reason=m["admission_reason"],
            created_at=m["created_at"],
            created_by=m["created_by"],
        )


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    org_id: str
    name: str
    email: str
    role: MemberRole
    verification: Verification
    status: Status
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: Any) -> Member:
        m = _m(row)
        return cls(
            id=m["id"],
            org_id=m["org_id"],
            name=m["name"],
            email=m["email"],
            role=MemberRole(m["role"]),
            verification=Verification(m["verification"]),
            status=Status(m["status"]),
            created_at=m["created_at"],
            created_by=m["created_by"],
        )


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    id: str
    org_id: str
    name: str
    status: Status
    created_at: datetime
    created_by: str

    @classmethod
    def from_row(cls, row: Any) -> ServiceAccount:
        m = _m(row)
        return cls(
            id=m["id"],
            org_id=m["org_id"],
            name=m["name"],
            status=Status(m["status"]),
            created_at=m["created_at"],
            created_by=m["created_by"],
        )


@dataclass(frozen=True, slots=True)
class EndUser:
    """A person behind an organization's application, as named in API requests
    (``user`` / ``safety_identifier`` / Anthropic ``metadata.user_id``)."""

    id: str
    org_id: str
    external_id: str
    status: Status
    status_reason: str | None
    first_seen: datetime
    last_seen: datetime

    @classmethod
    def from_row(cls, row: Any) -> EndUser:
        m = _m(row)
        return cls(
            id=m["id"],
            org_id=m["org_id"],
            external_id=m["external_id"],
            status=Status(m["status"]),
            status_reason=m["status_reason"],
            first_seen=m["first_seen"],
            last_seen=m["last_seen"],
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record; the secret itself is never kept."""

    id: str
    org_id: str
    member_id: str | None
    service_account_id: str | None
    lookup: str
    """The public part of the key (``clr_`` and its first characters), for display."""
    secret_hash: bytes
    models: tuple[str, ...] | None
    """Model names the key may call; ``None``: every model the organization may use."""
    purposes: tuple[str, ...] | None
    """Dual-use purposes the key may declare; ``None``: all the organization is entitled to."""
    networks: tuple[str, ...] | None
    """CIDR blocks the key may be used from; ``None``: anywhere."""
    rotated_from: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    last_used_at: datetime | None
    last_used_ip: str | None

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        m = _m(row)
        return cls(
            id=m["id"],
            org_id=m["org_id"],
            member_id=m["member_id"],
            service_account_id=m["service_account_id"],
            lookup=m["lookup"],
            secret_hash=bytes(m["secret_hash"]),
            models=_tuple(m["models"]),
            purposes=_tuple(m["purposes"]),
            networks=_tuple(m["networks"]),
            rotated_from=m["rotated_from"],
            created_at=m["created_at"],
            created_by=m["created_by"],
            expires_at=m["expires_at"],
            revoked_at=m["revoked_at"],
            revoked_reason=m["revoked_reason"],
            last_used_at=m["last_used_at"],
            last_used_ip=m["last_used_ip"],
        )


@dataclass(frozen=True, slots=True)
class Entitlement:
    """What an organization may use: one model, and the dual-use purposes unlocked on it."""

    id: str
    org_id: str
    model: str
    purposes: tuple[str, ...]
    limits: dict[str, Limits]
    """Limits by scope: organization, key, owner, end_user."""
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Entitlement:
        m = _m(row)
        return cls(
            id=m["id"],
            org_id=m["org_id"],
            model=m["model"],
            purposes=tuple(m["purposes"]),
            limits=scoped_from_document(m["limits"] or {}),
            created_at=m["created_at"],
            created_by=m["created_by"],
            expires_at=m["expires_at"],
            revoked_at=m["revoked_at"],
        )

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class IssuedSecret:
    """A newly issued key or token: the only moment its secret exists in clear."""

    id: str
    secret: str
    lookup: str
