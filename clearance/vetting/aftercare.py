"""After the decision: appeals of rejections and suspensions (an upheld one reverses
the decision), and re-vetting — a reminder to the officer before an approval runs out,
then expiry (the organization is suspended) once it has."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.db.schema import row_document
from clearance.errors import InvalidState, NotFound
from clearance.identity.models import OrgStatus
from clearance.identity.organizations import Organizations
from clearance.ids import new_id
from clearance.vetting.applications import load, step
from clearance.vetting.decisions import Decisions
from clearance.vetting.form import ApplicationForm
from clearance.vetting.models import appeals_table
from clearance.vetting.models import applications_table as apps
from clearance.vetting.proofs.email import MailDeliveryError, Mailer, clean_display_text
from clearance.vetting.states import APPEALABLE, Action, AppStatus

log = structlog.get_logger(__name__)
_appeals = appeals_table.c


class Aftercare:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        organizations: Organizations,
        decisions: Decisions,
        mailer: Mailer,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._orgs = organizations
        self._decisions = decisions
        self._mailer = mailer

    # Appeals

    async def appeal(self, actor: str, application_id: str, grounds: str) -> dict[str, Any]:
        grounds = validation.free_text(grounds, "grounds")
        now = self._clock.now()
        async with self._db.transaction() as conn:
            app = await load(conn, application_id, lock=True)
            if app.status not in APPEALABLE:
                raise InvalidState(
                    f"only a rejection or a suspension can be appealed; the application is {app.status.value}"
                )
            pending = await conn.scalar(
                sa.select(_appeals.id).where(
                    _appeals.application_id == app.id, _appeals.outcome.is_(None)
                )
            )
            if pending is not None:
                raise InvalidState(f"appeal {pending} is still pending")
            appeal_id = new_id("apl")
            await conn.execute(
                appeals_table.insert().values(
                    id=appeal_id,
                    application_id=app.id,
                    against=app.status.value,
                    grounds=grounds,
                    filed_at=now,
                    filed_by=actor,
                )
            )
            await step(
                conn,
                self._audit,
                app,
                "appeal_filed",
                actor,
                now,
                grounds,
                {"appeal_id": appeal_id},
            )
            return await _appeal(conn, appeal_id)

    async def decide_appeal(
        self, actor: str, appeal_id: str, upheld: bool, reason: str
    ) -> dict[str, Any]:
        reason = validation.free_text(reason, "reason")
        now = self._clock.now()
        async with self._db.transaction() as conn:
            appeal = await _appeal(conn, appeal_id, lock=True)
            if appeal["outcome"] is not None:
                raise InvalidState(f"appeal {appeal_id} was already decided ({appeal['outcome']})")
            app = await load(conn, appeal["application_id"], lock=True)
            if app.status.value != appeal["against"]:
                raise InvalidState(f"the application is no longer {appeal['against']}")
            outcome = "upheld" if upheld else "denied"
            await conn.execute(
                appeals_table.update()
                .where(_appeals.id == appeal_id)
                .values(outcome=outcome, decided_at=now, decided_by=actor, decision_reason=reason)
            )
            detail = {"appeal_id": appeal_id, "outcome": outcome}
            if upheld:
                await step(conn, self._audit, app, Action.APPEAL_UPHELD, actor, now, reason, detail)
            else:
                await step(conn, self._audit, app, "appeal_denied", actor, now, reason, detail)
            org_id = app.org_id
            result = await _appeal(conn, appeal_id)
        if upheld and org_id is not None and appeal["against"] == AppStatus.SUSPENDED.value:
            await self._orgs.set_status(
                actor, org_id, OrgStatus.ACTIVE, f"appeal {appeal_id} upheld"
            )
        return result

    async def appeals(self, application_id: str | None = None) -> list[dict[str, Any]]:
        async with self._db.read() as conn:
            query = sa.select(appeals_table).order_by(_appeals.filed_at)
            if application_id is not None:
                query = query.where(_appeals.application_id == application_id)
            return [row_document(row) for row in await conn.execute(query)]

    # Re-vetting

    async def revetting(self, actor: str, reminder: timedelta) -> dict[str, list[str]]:
        """Expire approvals past their re-vetting date (the organization is suspended)
        and note a reminder for those due within ``reminder``."""
        now = self._clock.now()
        live = [AppStatus.ACTIVE.value, AppStatus.SUSPENDED.value]
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(apps).where(apps.c.status.in_(live), apps.c.revet_due_at.is_not(None))
                )
            ).all()
        expired, reminded = [], []
        for row in rows:
            if row.revet_due_at <= now:
                try:
                    await self._decisions.with_org(
                        actor, row.id, Action.EXPIRE, "re-vetting overdue", OrgStatus.SUSPENDED
                    )
                except InvalidState:
                    continue  # another process got there first
                expired.append(row.id)
            elif row.revet_due_at - reminder <= now and row.reminded_at is None:
                form = ApplicationForm.from_stored(row.form)
                try:
                    await self._mailer.send(reminder_message(form, row.revet_due_at))
                except (MailDeliveryError, ValueError) as exc:
                    log.warning("revet_reminder_not_sent", application_id=row.id, error=str(exc))
                    continue  # tried again next time
                async with self._db.transaction() as conn:
                    app = await load(conn, row.id, lock=True)
                    await step(
                        conn,
                        self._audit,
                        app,
                        "revet_reminder",
                        actor,
                        now,
                        None,
                        {"due": row.revet_due_at.isoformat()},
                        {"reminded_at": now},
                    )
                reminded.append(row.id)
        return {"expired": expired, "reminded": reminded}


def reminder_message(form: ApplicationForm, due: datetime) -> EmailMessage:
    message = EmailMessage()
    name = clean_display_text(form.legal_name) or "(unnamed)"
    message["To"] = form.officer.email
    message["Subject"] = f"Re-vetting due for {clean_display_text(name, 60)}"
    message.set_content(
        f'Access for "{name}" to restricted AI models through Clearance was approved\n'
        f"until {due.strftime('%Y-%m-%d')}. To keep it, the organization must be vetted\n"
        "again before then; please contact the program's operators. Without re-vetting,\n"
        "access ends on that date.\n"
    )
    return message


async def _appeal(conn: AsyncConnection, appeal_id: str, lock: bool = False) -> dict[str, Any]:
    query = sa.select(appeals_table).where(_appeals.id == appeal_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound(f"no appeal {appeal_id!r}")
    return row_document(row)
