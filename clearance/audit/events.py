"""Typed audit events: one dataclass per kind, each with a stable ``kind`` name and a
schema ``version``.

An event is encoded as RFC 8785 canonical JSON (keys sorted, no insignificant white
space, one number format), so the same event always yields the same bytes and hence the
same Merkle leaf hash. The encoding is ``{"kind", "v", "time", "actor", ...fields}``;
field names never change meaning within a version.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

import rfc8785


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-27T15:56:16.123456Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    kind: ClassVar[str]
    version: ClassVar[int] = 1

    actor: str
    """Who did it: ``operator:<id>``, ``local:<os user>`` for the CLI, or ``system``."""

    def encode(self, at: datetime) -> bytes:
        body: dict[str, Any] = {"kind": self.kind, "v": self.version, "time": format_time(at)}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = format_time(value)
            elif isinstance(value, tuple):
                value = list(value)
            body[field.name] = value
        return rfc8785.dumps(body)


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorCreated(AuditEvent):
    """An operator account was created, with its first API token."""

    kind: ClassVar[str] = "operator.created"

    operator_id: str
    name: str
    role: str
    token_id: str
    token_lookup: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRegistered(AuditEvent):
    kind: ClassVar[str] = "model.registered"

    model_id: str
    name: str
    upstream_url: str
    upstream_model: str
    upstream_key_env: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrganizationAdmitted(AuditEvent):
    """An organization entered the program; ``admission`` says how."""

    kind: ClassVar[str] = "organization.admitted"

    org_id: str
    name: str
    country: str
    admission: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyIssued(AuditEvent):
    kind: ClassVar[str] = "api_key.issued"

    key_id: str
    org_id: str
    lookup: str
    models: tuple[str, ...] | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChanged(AuditEvent):
    """The authorization policy set changed; ``diff`` is a unified diff of the files."""

    kind: ClassVar[str] = "policy.changed"

    policy_hash: str
    """SHA-256 (hex) of the new policy set, as loaded."""
    diff: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageBatchRecorded(AuditEvent):
    """A batch of usage records was committed: their digest, so none can later be
    deleted or altered without the log showing it.

    ``digest`` is the RFC 9162 Merkle root (base64) over the batch's records, each leaf
    being the record's canonical encoding (see ``clearance.usage.digest``), in record-id
    order; the records carry this entry's number as ``audit_seq``.
    """

    kind: ClassVar[str] = "usage.batch"

    count: int
    digest: str
