"""The review queue: alerts raised from detector findings, and their triage.

Repeated findings about the same subject (detector, organization, key, end user)
while its alert is still open fold into that alert — its count grows and the latest
request ids are kept — so a burst of attempts is one item to review, not hundreds.
An investigator dismisses an alert or moves it into a case; both are audited.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import InvalidState, NotFound
from clearance.ids import new_id
from clearance.monitoring.cases import Cases
from clearance.monitoring.detectors.base import Finding
from clearance.monitoring.events import MonitorAlertRaised, MonitorAlertReviewed
from clearance.monitoring.models import Alert, AlertStatus, alerts_table

_alerts = alerts_table.c
FOLD_WINDOW = timedelta(hours=1)
"""A finding folds into an open alert on the same subject raised this recently."""
KEEP_REQUESTS = 20


class Alerts:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, cases: Cases) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._cases = cases

    async def raise_all(self, findings: list[Finding]) -> list[str]:
        """Record findings as alerts, new or folded; returns each finding's alert id."""
        async with self._db.transaction() as conn:
            return [await self._raise(conn, finding) for finding in findings]

    async def _raise(self, conn: AsyncConnection, finding: Finding) -> str:
        now = self._clock.now()
        same = (
            (_alerts.detector == finding.detector)
            & (_alerts.org_id == finding.org_id)
            & (_alerts.status == AlertStatus.OPEN.value)
            & (_alerts.raised_at >= now - FOLD_WINDOW)
            & _same(_alerts.key_id, finding.key_id)
            & _same(_alerts.end_user, finding.end_user)
        )
        row = (
            await conn.execute(
                sa.select(_alerts.id, _alerts.evidence).where(same).order_by(_alerts.raised_at)
            )
        ).first()
        if row is not None:
            await conn.execute(
                alerts_table.update()
                .where(_alerts.id == row.id)
                .values(evidence=_folded(dict(row.evidence), finding))
            )
            return str(row.id)
        evidence = {**finding.evidence, "count": 1}
        alert = Alert(
            id=new_id("alert"),
            raised_at=now,
            detector=finding.detector,
            severity=finding.severity.value,
            org_id=finding.org_id,
            key_id=finding.key_id,
            end_user=finding.end_user,
            summary=finding.summary[:512],
            evidence=evidence,
            status=AlertStatus.OPEN.value,
            case_id=None,
            reviewed_by=None,
        )
        await conn.execute(alerts_table.insert().values(**asdict(alert)))
        await self._audit.append(
            conn,
            MonitorAlertRaised(
                actor="system",
                alert_id=alert.id,
                detector=alert.detector,
                severity=alert.severity,
                org_id=alert.org_id,
                summary=alert.summary,
            ),
        )
        return alert.id

    async def dismiss(self, actor: str, alert_id: str, reason: str) -> Alert:
        return await self._review(actor, alert_id, AlertStatus.DISMISSED, None, reason)

    async def to_case(self, actor: str, alert_id: str, case_id: str, reason: str = "") -> Alert:
        case = await self._cases.get(case_id)
        if case.status != "open":
            raise InvalidState("alerts can only be added to an open case")
        return await self._review(actor, alert_id, AlertStatus.IN_CASE, case.id, reason)

    async def _review(
        self, actor: str, alert_id: str, status: AlertStatus, case_id: str | None, reason: str
    ) -> Alert:
        reason = validation.free_text(reason, "reason") if reason.strip() else ""
        async with self._db.transaction() as conn:
            alert = await self._find(conn, alert_id)
            if alert.status != AlertStatus.OPEN.value:
                raise InvalidState(f"the alert is already {alert.status}")
            await conn.execute(
                alerts_table.update()
                .where(_alerts.id == alert.id)
                .values(status=status.value, case_id=case_id, reviewed_by=actor)
            )
            await self._audit.append(
                conn,
                MonitorAlertReviewed(
                    actor=actor,
                    alert_id=alert.id,
                    status=status.value,
                    case_id=case_id,
                    reason=reason,
                ),
            )
        return await self.get(alert_id)

    async def get(self, alert_id: str) -> Alert:
        async with self._db.read() as conn:
            return await self._find(conn, alert_id)

    async def list(
        self,
        status: str | None = None,
        org_id: str | None = None,
        case_id: str | None = None,
        limit: int = 200,
    ) -> list[Alert]:
        query = sa.select(alerts_table).order_by(_alerts.raised_at.desc()).limit(limit)
        if status is not None:
            query = query.where(_alerts.status == status)
        if org_id is not None:
            query = query.where(_alerts.org_id == org_id)
        if case_id is not None:
            query = query.where(_alerts.case_id == case_id)
        async with self._db.read() as conn:
            return [Alert.from_row(row) for row in await conn.execute(query)]

    @staticmethod
    async def _find(conn: AsyncConnection, alert_id: str) -> Alert:
        row = (await conn.execute(sa.select(alerts_table).where(_alerts.id == alert_id))).first()
        if row is None:
            raise NotFound(f"no alert {alert_id!r}")
        return Alert.from_row(row)


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _folded(evidence: dict[str, Any], finding: Finding) -> dict[str, Any]:
    evidence["count"] = int(evidence.get("count", 1)) + 1
    request = finding.evidence.get("request_id")
    if request is not None:
        kept = [*evidence.get("more_requests", []), request]
        evidence["more_requests"] = kept[-KEEP_REQUESTS:]
    if finding.at is not None:
        evidence["last_at"] = finding.at.isoformat()
    return evidence
