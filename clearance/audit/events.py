"""Typed audit events: one dataclass per kind, each with a stable ``kind`` name, a
schema ``version`` and the fields the public log only commits to (``private``; see
``clearance.audit.event_base`` for the encoding and the README for the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

# Re-exported: every domain names the base and the time spelling from here.
from clearance.audit.event_base import AuditEvent as AuditEvent  # noqa: PLC0414
from clearance.audit.event_base import format_time as format_time  # noqa: PLC0414


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorCreated(AuditEvent):
    """An operator account was created (with an initial password)."""

    kind: ClassVar[str] = "operator.created"
    private: ClassVar[tuple[str, ...]] = ("name",)

    operator_id: str
    name: str
    role: str
    token_id: str | None
    """The bootstrap API token made with the first admin, if any."""
    token_lookup: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRegistered(AuditEvent):
    """A model was registered. v2: ``spec`` holds its whole declaration (upstream,
    aliases, risk labels, release mode, export control, jurisdiction, retention,
    safeguards, minimum organization tier) — never an upstream secret."""

    kind: ClassVar[str] = "model.registered"
    version: ClassVar[int] = 2

    model_id: str
    name: str
    spec: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelUpdated(AuditEvent):
    """A model's declaration changed: ``changes`` maps each field to ``[old, new]``."""

    kind: ClassVar[str] = "model.updated"

    model_id: str
    name: str
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CountryTableChanged(AuditEvent):
    """A country table was created or replaced; ``tiers`` is the whole new table."""

    kind: ClassVar[str] = "country_table.changed"

    name: str
    source: str
    default_tier: int
    tiers: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramSettingChanged(AuditEvent):
    """A program-wide setting changed (``default_country_table``)."""

    kind: ClassVar[str] = "program.setting_changed"

    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationAdmitted(AuditEvent):
    """An organization entered the program; ``admission`` says how."""

    kind: ClassVar[str] = "organization.admitted"
    private: ClassVar[tuple[str, ...]] = ("name", "reason")
    version: ClassVar[int] = 2  # v2 adds ``tier``

    org_id: str
    name: str
    country: str
    tier: int
    admission: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyIssued(AuditEvent):
    kind: ClassVar[str] = "api_key.issued"
    private: ClassVar[tuple[str, ...]] = ("networks",)

    key_id: str
    org_id: str
    owner: str
    """``member:<id>`` or ``service_account:<id>``."""
    lookup: str
    models: tuple[str, ...] | None
    purposes: tuple[str, ...] | None
    networks: tuple[str, ...] | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRotated(AuditEvent):
    """A key was replaced: the new key has the old one's scopes; the old one keeps
    working until ``old_expires_at`` (the grace period)."""

    kind: ClassVar[str] = "api_key.rotated"

    old_key_id: str
    new_key_id: str
    new_lookup: str
    old_expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRevoked(AuditEvent):
    kind: ClassVar[str] = "api_key.revoked"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    key_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChanged(AuditEvent):
    """The authorization policy set changed; ``diff`` is a unified diff of the files
    (against the shipped defaults when ``policy_version`` is 1)."""

    kind: ClassVar[str] = "policy.changed"

    policy_version: int
    policy_hash: str
    """SHA-256 (hex) of the new policy set, as loaded."""
    diff: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageBatchRecorded(AuditEvent):
    """A batch of usage records was sealed: their digest, so none can be deleted or
    altered without the log showing it (see ``clearance.usage.sealing``).

    ``digest`` is the RFC 9162 Merkle root (base64) over the batch's records, each leaf
    being the record's canonical encoding (see ``clearance.usage.digest``), in record-id
    order; the records carry this entry's number as ``audit_seq``.
    """

    kind: ClassVar[str] = "usage.batch"
    version: ClassVar[int] = 2  # v2: records carry end user, source, policies, streamed

    count: int
    digest: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageOutcomesRecorded(AuditEvent):
    """A batch of streamed requests' outcomes (tokens, latency, final status) was
    sealed; ``digest`` as for ``usage.batch``, over the outcomes in request-id order."""

    kind: ClassVar[str] = "usage.outcome_batch"

    count: int
    digest: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorStatusChanged(AuditEvent):
    kind: ClassVar[str] = "operator.status_changed"

    operator_id: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorCredentialsReset(AuditEvent):
    """Password replaced by a new initial one, TOTP cleared, sessions and tokens revoked."""

    kind: ClassVar[str] = "operator.credentials_reset"

    operator_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorTokenIssued(AuditEvent):
    kind: ClassVar[str] = "operator.token_issued"

    operator_id: str
    token_id: str
    lookup: str
    role: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorTokenRevoked(AuditEvent):
    kind: ClassVar[str] = "operator.token_revoked"

    operator_id: str
    token_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountCredentialChanged(AuditEvent):
    """A sign-in credential changed: ``what`` is ``password``."""

    kind: ClassVar[str] = "account.credential_changed"

    account: str
    """``operator:<id>`` or ``member:<id>``."""
    what: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSignedIn(AuditEvent):
    """A session started; ``enrolled_totp``: this sign-in also enrolled the account's
    authenticator (its first code confirmed)."""

    kind: ClassVar[str] = "account.signed_in"
    private: ClassVar[tuple[str, ...]] = ("source_ip",)

    account: str
    session_id: str
    source_ip: str | None
    enrolled_totp: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSignedOut(AuditEvent):
    kind: ClassVar[str] = "account.signed_out"

    account: str
    session_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountLocked(AuditEvent):
    kind: ClassVar[str] = "account.locked"

    account: str
    until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationStatusChanged(AuditEvent):
    kind: ClassVar[str] = "organization.status_changed"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    org_id: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberAdded(AuditEvent):
    """A member joined an organization (no contact details: the log is permanent)."""

    kind: ClassVar[str] = "member.added"

    member_id: str
    org_id: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberChanged(AuditEvent):
    """A member's ``field`` (``verification`` or ``status``) became ``value``."""

    kind: ClassVar[str] = "member.changed"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    member_id: str
    field: str
    value: str
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceAccountAdded(AuditEvent):
    kind: ClassVar[str] = "service_account.added"
    private: ClassVar[tuple[str, ...]] = ("name",)

    service_account_id: str
    org_id: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndUserStatusChanged(AuditEvent):
    kind: ClassVar[str] = "end_user.status_changed"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    end_user_id: str
    org_id: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementGranted(AuditEvent):
    kind: ClassVar[str] = "entitlement.granted"

    entitlement_id: str
    org_id: str
    model: str
    purposes: tuple[str, ...]
    limits: dict[str, dict[str, int]]
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitlementRevoked(AuditEvent):
    kind: ClassVar[str] = "entitlement.revoked"

    entitlement_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseOpened(AuditEvent):
    kind: ClassVar[str] = "case.opened"
    private: ClassVar[tuple[str, ...]] = ("title",)

    case_id: str
    org_id: str | None
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseClosed(AuditEvent):
    kind: ClassVar[str] = "case.closed"
    private: ClassVar[tuple[str, ...]] = ("resolution",)

    case_id: str
    resolution: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContentViewed(AuditEvent):
    """Break-glass: an investigator read a request's raw content inside a case."""

    kind: ClassVar[str] = "content.viewed"
    private: ClassVar[tuple[str, ...]] = ("justification",)

    case_id: str
    request_id: str
    justification: str
    retained: bool
    """Whether any content was kept for that request (per the model's retention rule)."""
