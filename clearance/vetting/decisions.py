"""Deciding on applications and keeping approved ones honest: approval with separation
of duties, rejection, provisioning, activation, suspension, reinstatement, revocation,
appeals, and re-vetting (reminders, then expiry).

Separation of duties: whoever submitted an application, or reviewed it (screened it,
adjudicated one of its hits, recorded one of its checks), cannot approve it; nor can an
operator whose sign-in address is the applicant officer's. A model whose risk is high or
above in any domain needs two distinct approvers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import domains, validation
from clearance.accounts.models import Caller, login_accounts_table
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState, NotAllowed
from clearance.identity.entitlements import Entitlements
from clearance.identity.members import Members
from clearance.identity.models import (
    MemberRole,
    OrgStatus,
    Verification,
)
from clearance.identity.organizations import Organizations
from clearance.limits.models import scoped_from_document
from clearance.registry.levels import HIGH
from clearance.screening.service import hits_of
from clearance.vetting import states
from clearance.vetting.applications import load, requested_models, step
from clearance.vetting.models import (
    Application,
    appeals_table,
    application_approvals_table,
    application_history_table,
    applications_table,
)
from clearance.vetting.states import Action, AppStatus

log = structlog.get_logger(__name__)

REVIEW_ACTIONS = frozenset(
    {
        "reject",
        "screen",
        "screened",
        "domain_challenge",
        "domain_verified",
        "domain_failed",
        "email_link_sent",
    }
)
_approvals = application_approvals_table.c
_appeals = appeals_table.c


class Decisions:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        organizations: Organizations,
        members: Members,
        entitlements: Entitlements,
        revet_days: int,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._orgs = organizations
        self._members = members
        self._entitlements = entitlements
        self._revet = timedelta(days=revet_days)

    async def approve(
        self,
        caller: Caller,
        application_id: str,
        purposes: list[str] | None = None,
        limits: dict[str, dict[str, int]] | None = None,
    ) -> Application:
        """Record ``caller``'s approval; the application is approved once enough
        distinct approvers have. The first approval fixes what is granted: the declared
        purposes (or fewer) on each requested model, within ``limits``."""
        actor = caller.actor
        now = self._clock.now()
        async with self._db.transaction() as conn:
            app = await load(conn, application_id, lock=True)
            if app.status is not AppStatus.IN_REVIEW:
                raise InvalidState(
                    f"only an application in review can be approved; this one is {app.status.value}"
                )
            await self._separation_of_duties(conn, caller, app)
            missing = await _missing(conn, app)
            if missing:
                raise InvalidState("not ready for approval: " + "; ".join(missing))
            models = await requested_models(conn, app.form)
            needed = 2 if any(m.level(d) >= HIGH for m in models for d in m.risk) else 1
            grant = app.grant or _grant(app, purposes, limits)
            changed = purposes is not None or limits is not None
            if app.grant is not None and changed and _grant(app, purposes, limits) != app.grant:
                raise InvalidInput(
                    "the first approval fixed what is granted; approve that, or reject "
                    "and have the application reviewed again",
                    "purposes" if purposes is not None else "limits",
                )
            await conn.execute(
                application_approvals_table.insert().values(
                    application_id=app.id, operator_id=caller.operator.id, at=now
                )
            )
            given = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(application_approvals_table)
                .where(_approvals.application_id == app.id)
            )
            detail = {"approvals": int(given or 0), "needed": needed, "grant": grant}
            if (given or 0) < needed:
                return await step(
                    conn, self._audit, app, "approval", actor, now, None, detail, {"grant": grant}
                )
            return await step(
                conn,
                self._audit,
                app,
                Action.APPROVE,
                actor,
                now,
                None,
                detail,
                {"grant": grant, "revet_due_at": now + self._revet},
            )

    async def _separation_of_duties(
        self, conn: AsyncConnection, caller: Caller, app: Application
    ) -> None:
        actor = caller.actor
        if app.submitted_by == actor:
            raise NotAllowed("you submitted this application; someone else must approve it")
        reviewed = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(application_history_table)
            .where(
                application_history_table.c.application_id == app.id,
                application_history_table.c.actor == actor,
                application_history_table.c.action.in_(REVIEW_ACTIONS),
            )
        )
        adjudicated = [h for h in await hits_of(conn, app.id) if h.adjudicated_by == actor]
        if reviewed or adjudicated:
            raise NotAllowed("you reviewed this application; a different operator must approve it")
        login = await conn.scalar(
            sa.select(login_accounts_table.c.login_name).where(
                login_accounts_table.c.subject_id == caller.operator.id
            )
        )
        if login is not None and login.lower() == app.form.officer.email.lower():
            raise NotAllowed("you are the applicant organization's officer; you cannot approve it")
        already = await conn.scalar(
            sa.select(_approvals.operator_id).where(
                _approvals.application_id == app.id, _approvals.operator_id == caller.operator.id
            )
        )
        if already is not None:
            raise NotAllowed(
                "you already approved this application; a second approver must be someone else"
            )

    async def revet(self, actor: str, application_id: str, reason: str) -> Application:
        """Start an expired approval over: submitted again, to be screened, proven,
        accepted and approved afresh (the organization stays suspended meanwhile)."""
        app = await self._move(actor, application_id, Action.REVET, reason, clear_approvals=True)
        async with self._db.transaction() as conn:
            await conn.execute(
                applications_table.update()
                .where(applications_table.c.id == app.id)
                .values(
                    domain_verified_at=None,
                    domain_method=None,
                    email_verified_at=None,
                    terms_version=None,
                    terms_sha256=None,
                    terms_accepted_at=None,
                    terms_accepted_by=None,
                    revet_due_at=None,
                    reminded_at=None,
                )
            )
            return await load(conn, app.id)

    async def reject(self, actor: str, application_id: str, reason: str) -> Application:
        return await self._move(actor, application_id, Action.REJECT, reason, clear_approvals=True)

    async def provision(self, actor: str, application_id: str) -> tuple[Application, str | None]:
        """Create the organization and its officer's account — nothing more: its
        entitlements come with activation, keys are the officer's to make — in one
        transaction. Returns the officer's initial portal password, shown once (none
        for a re-vetted application, whose organization and officer exist)."""
        async with self._db.transaction() as conn:
            app = await load(conn, application_id, lock=True)
            states.target(Action.PROVISION, app.status)
            unsettled = [h for h in await hits_of(conn, app.id) if h.status != "false_positive"]
            if unsettled:
                raise InvalidState(
                    f"{len(unsettled)} screening hit(s) raised since approval are open or true "
                    "matches: settle them (or revoke) before provisioning"
                )
            now = self._clock.now()
            if app.org_id is not None:  # re-vetted: the organization and officer exist
                detail: dict[str, Any] = {"org_id": app.org_id, "revetted": True}
                return await step(
                    conn, self._audit, app, Action.PROVISION, actor, now, None, detail
                ), None
            form = app.form
            org = await self._orgs.admit_vetted_in(
                conn, actor, form.legal_name, form.headquarters_country, app.id
            )
            officer, password = await self._members.add_in(
                conn,
                actor,
                org.id,
                form.officer.name,
                form.officer.email,
                MemberRole.OFFICER,
                Verification.EMAIL,  # vetting proved the address
            )
            detail = {"org_id": org.id, "officer_member_id": officer.id}
            moved = await step(
                conn,
                self._audit,
                app,
                Action.PROVISION,
                actor,
                now,
                None,
                detail,
                {"org_id": org.id},
            )
            return moved, password

    async def activate(self, actor: str, application_id: str) -> Application:
        """Grant the approved entitlements (expiring when re-vetting is due), all in
        one transaction with the step."""
        async with self._db.transaction() as conn:
            app = await load(conn, application_id, lock=True)
            states.target(Action.ACTIVATE, app.status)
            if app.org_id is None or app.grant is None:
                raise InvalidState("the application was never provisioned")
            if any(h.status != "false_positive" for h in await hits_of(conn, app.id)):
                raise InvalidState("screening hits are open or true matches: settle them first")
            now = self._clock.now()
            if app.revet_due_at is not None and app.revet_due_at <= now:
                raise InvalidState("the approval has run out (re-vetting is due); re-vet first")
            granted = []
            for model, plan in app.grant["models"].items():
                entitlement = await self._entitlements.grant_in(
                    conn,
                    actor,
                    app.org_id,
                    model,
                    plan["purposes"],
                    app.revet_due_at,
                    plan.get("limits") or None,
                )
                granted.append(entitlement.id)
            detail = {"entitlements": granted}
            moved = await step(conn, self._audit, app, Action.ACTIVATE, actor, now, None, detail)
        current = await self._orgs.get(moved.org_id or "")
        if current.status is OrgStatus.SUSPENDED:  # re-vetted after expiry
            await self._orgs.set_status(actor, current.id, OrgStatus.ACTIVE, "re-vetted")
        return moved

    async def suspend(self, actor: str, application_id: str, reason: str) -> Application:
        return await self.with_org(
            actor, application_id, Action.SUSPEND, reason, OrgStatus.SUSPENDED
        )

    async def reinstate(self, actor: str, application_id: str, reason: str) -> Application:
        return await self.with_org(
            actor, application_id, Action.REINSTATE, reason, OrgStatus.ACTIVE
        )

    async def revoke(self, actor: str, application_id: str, reason: str) -> Application:
        return await self.with_org(actor, application_id, Action.REVOKE, reason, OrgStatus.REVOKED)

    async def with_org(
        self, actor: str, application_id: str, action: Action, reason: str, status: OrgStatus
    ) -> Application:
        """The organization, then the application: its keys stop or start within a
        second (the gateway's state refresh). The move is checked first, so a refused
        one changes neither; should the second step fail, the organization — what the
        gateway obeys — has already taken the safer side for a suspension or a
        revocation."""
        app = await self.get(application_id)
        states.target(action, app.status)  # refuse an illegal move before anything
        if app.org_id is not None:
            current = await self._orgs.get(app.org_id)
            if current.status is not status and current.status is not OrgStatus.REVOKED:
                await self._orgs.set_status(actor, app.org_id, status, reason)
        return await self._move(actor, application_id, action, reason)

    async def _move(
        self,
        actor: str,
        application_id: str,
        action: Action,
        reason: str | None,
        detail: dict[str, Any] | None = None,
        clear_approvals: bool = False,
    ) -> Application:
        if reason is not None:
            reason = validation.free_text(reason, "reason")
        async with self._db.transaction() as conn:
            app = await load(conn, application_id, lock=True)
            moved = await step(
                conn, self._audit, app, action, actor, self._clock.now(), reason, detail
            )
            if clear_approvals:
                await conn.execute(
                    applications_table.update()
                    .where(applications_table.c.id == app.id)
                    .values(grant=None)
                )
                await conn.execute(
                    application_approvals_table.delete().where(_approvals.application_id == app.id)
                )
            return moved

    async def get(self, application_id: str) -> Application:
        async with self._db.read() as conn:
            return await load(conn, application_id)


async def _missing(conn: AsyncConnection, app: Application) -> list[str]:
    missing = []
    hits = await hits_of(conn, app.id)
    if any(h.status == "open" for h in hits):
        missing.append(f"{sum(h.status == 'open' for h in hits)} screening hit(s) not adjudicated")
    if any(h.status == "true_match" for h in hits):
        missing.append("a screening hit was adjudicated a true match: reject the application")
    if app.domain_verified_at is None:
        missing.append("domain control not proven")
    if app.email_verified_at is None:
        missing.append("officer e-mail not verified")
    if app.terms_accepted_at is None:
        missing.append("terms of access not accepted")
    return missing


def _grant(
    app: Application, purposes: list[str] | None, limits: dict[str, dict[str, int]] | None
) -> dict[str, Any]:
    chosen = domains.purposes(purposes) if purposes is not None else app.form.purposes
    beyond = sorted(set(chosen) - set(app.form.purposes))
    if beyond:
        raise NotAllowed(f"purposes {', '.join(beyond)} were not applied for")
    scoped = scoped_from_document(limits or {})
    document = {scope: value.document() for scope, value in scoped.items()}
    return {
        "models": {
            m: {"purposes": list(chosen), "limits": document} for m in app.form.requested_models
        }
    }
