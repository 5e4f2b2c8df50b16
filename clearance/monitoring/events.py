"""Audit events of the monitoring plane: alerts, enforcement, appeals, notifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clearance.audit.events import AuditEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorAlertRaised(AuditEvent):
    kind: ClassVar[str] = "monitor.alert_raised"
    private: ClassVar[tuple[str, ...]] = ("summary",)

    alert_id: str
    detector: str
    severity: str
    org_id: str | None
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorAlertReviewed(AuditEvent):
    kind: ClassVar[str] = "monitor.alert_reviewed"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    alert_id: str
    status: str
    """``dismissed``, or ``in_case`` (with ``case_id``)."""
    case_id: str | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EnforcementTaken(AuditEvent):
    kind: ClassVar[str] = "enforcement.taken"
    private: ClassVar[tuple[str, ...]] = ("target", "reason")

    action_id: str
    action: str
    scope: str
    org_id: str
    target: str
    reason: str
    rpm: int | None
    alert_id: str | None
    case_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnforcementReversed(AuditEvent):
    kind: ClassVar[str] = "enforcement.reversed"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    action_id: str
    reason: str
    overturned: bool
    """Reversed because an appeal was upheld."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppealFiled(AuditEvent):
    kind: ClassVar[str] = "appeal.filed"

    appeal_id: str
    action_id: str
    org_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppealDecided(AuditEvent):
    kind: ClassVar[str] = "appeal.decided"
    private: ClassVar[tuple[str, ...]] = ("reason",)

    appeal_id: str
    action_id: str
    outcome: str
    """``upheld`` (the action is overturned) or ``denied``."""
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSet(AuditEvent):
    kind: ClassVar[str] = "org.webhook_set"
    private: ClassVar[tuple[str, ...]] = ("url",)

    org_id: str
    url: str | None
    """None when the webhook was removed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationSent(AuditEvent):
    kind: ClassVar[str] = "notification.sent"
    private: ClassVar[tuple[str, ...]] = ("recipient", "detail")

    org_id: str
    channel: str
    """``webhook`` or ``email``."""
    subject: str
    """What it was about, e.g. ``enforcement.taken act_…``."""
    recipient: str
    delivered: bool
    detail: str
