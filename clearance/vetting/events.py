"""Audit events of vetting: every step an application takes, every list import, hit,
adjudication, terms version and alert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from clearance.audit.events import AuditEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationSubmitted(AuditEvent):
    kind: ClassVar[str] = "application.submitted"
    private: ClassVar[tuple[str, ...]] = ("form",)

    application_id: str
    form: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationStep(AuditEvent):
    """An application moved (``from_status`` → ``to_status``) or had a check recorded
    (the status unchanged): screening, a proof, terms accepted, an approval, an appeal."""

    kind: ClassVar[str] = "application.step"
    private: ClassVar[tuple[str, ...]] = ("reason", "detail")

    application_id: str
    action: str
    from_status: str
    to_status: str
    reason: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TermsPublished(AuditEvent):
    kind: ClassVar[str] = "terms.published"

    terms_version: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreeningListImported(AuditEvent):
    kind: ClassVar[str] = "screening.list_imported"

    snapshot_id: str
    format: str
    file_name: str
    sha256: str
    entries: int
    counts: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreeningHitRaised(AuditEvent):
    kind: ClassVar[str] = "screening.hit_raised"
    private: ClassVar[tuple[str, ...]] = ("subject_name", "entry_key", "entry_name")

    hit_id: str
    application_id: str
    subject: str
    subject_name: str
    entry_key: str
    entry_name: str
    score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreeningHitAdjudicated(AuditEvent):
    kind: ClassVar[str] = "screening.hit_adjudicated"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    hit_id: str
    application_id: str
    decision: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRaised(AuditEvent):
    kind: ClassVar[str] = "alert.raised"
    private: ClassVar[tuple[str, ...]] = ("summary",)

    alert_id: str
    alert_kind: str
    severity: str
    org_id: str | None
    summary: str
