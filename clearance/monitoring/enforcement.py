"""Graduated enforcement: taking an action, reversing it, and telling the organization.

An action's effect uses the same operation an operator would (suspending an end user,
a member or the organization, revoking a key), so it reaches every gateway within a
second exactly as theirs do; a throttle is a lower request rate the gateway reads
from its own topic. The action is recorded in the same transaction as its effect —
with who took it (an investigator, or ``rule:<name>``), why, and from which alert or
case — so there is never one without the other; both are audit entries.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState, NotFound
from clearance.identity.end_users import EndUsers
from clearance.identity.keys import ApiKeys
from clearance.identity.members import Members
from clearance.identity.models import OrgStatus, Status
from clearance.identity.organizations import Organizations, find_org
from clearance.ids import new_id
from clearance.monitoring.enforcement_models import (
    ALLOWED,
    ENFORCEMENT_TOPIC,
    Action,
    ActionKind,
    Scope,
    actions_table,
)
from clearance.monitoring.events import EnforcementReversed, EnforcementTaken
from clearance.monitoring.models import alerts_table, cases_table
from clearance.monitoring.notify import Notifier

_actions = actions_table.c
_alerts = alerts_table.c
_cases = cases_table.c
MAX_THROTTLE_MINUTES = 60 * 24 * 90


class Enforcement:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        end_users: EndUsers,
        members: Members,
        organizations: Organizations,
        keys: ApiKeys,
        notifier: Notifier,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._end_users = end_users
        self._members = members
        self._organizations = organizations
        self._keys = keys
        self._notifier = notifier

    async def take(
        self,
        actor: str,
        kind: str,
        scope: str,
        org: str,
        target: str,
        reason: str,
        *,
        rpm: int | None = None,
        minutes: float | None = None,
        alert_id: str | None = None,
        case_id: str | None = None,
    ) -> Action:
        action_kind, action_scope = _parse(kind, scope)
        reason = validation.free_text(reason, "reason")
        organization = await self._organizations.get(org)
        target = organization.id if action_scope is Scope.ORGANIZATION else target.strip()
        if not target:
            raise InvalidInput("name the end user, key or member to act on", "target")
        expires = None
        if action_kind is ActionKind.THROTTLE:
            if rpm is None or not 1 <= rpm <= 1_000_000:
                raise InvalidInput("a throttle needs rpm between 1 and 1000000", "rpm")
            minutes = 60.0 if minutes is None else minutes
            if not 1 <= minutes <= MAX_THROTTLE_MINUTES:
                raise InvalidInput("a throttle lasts 1 minute to 90 days", "minutes")
            expires = self._clock.now() + timedelta(minutes=minutes)
        elif rpm is not None or minutes is not None:
            raise InvalidInput("rpm and minutes apply to throttles only", "rpm")
        await self._check_references(alert_id, case_id)
        if action_scope is Scope.KEY:
            await self._check_key(organization.id, target)
        if action_kind is ActionKind.SUSPEND and action_scope is Scope.MEMBER:
            await self._check_member(organization.id, target)
        action_id = new_id("act")
        async with self._db.transaction() as conn:  # the effect and its record, or neither
            await self._apply(
                conn, actor, action_kind, action_scope, organization.id, target, reason
            )
            await conn.execute(
                actions_table.insert().values(
                    id=action_id,
                    taken_at=self._clock.now(),
                    taken_by=actor,
                    kind=action_kind.value,
                    scope=action_scope.value,
                    org_id=organization.id,
                    target=target,
                    reason=reason,
                    rpm=rpm,
                    expires_at=expires,
                    alert_id=alert_id,
                    case_id=case_id,
                    status="active",
                    overturned=False,
                )
            )
            await self._audit.append(
                conn,
                EnforcementTaken(
                    actor=actor,
                    action_id=action_id,
                    action=action_kind.value,
                    scope=action_scope.value,
                    org_id=organization.id,
                    target=target,
                    reason=reason,
                    rpm=rpm,
                    alert_id=alert_id,
                    case_id=case_id,
                ),
            )
            await changes.bump(conn, ENFORCEMENT_TOPIC)
        action = await self.get(action_id)
        self._tell(action, "enforcement.taken")
        return action

    async def _apply(
        self,
        conn: AsyncConnection,
        actor: str,
        kind: ActionKind,
        scope: Scope,
        org_id: str,
        target: str,
        reason: str,
    ) -> None:
        if kind is ActionKind.SUSPEND and scope is Scope.END_USER:
            await self._end_users.set_status_in(
                conn, actor, org_id, target, Status.SUSPENDED, reason
            )
        elif kind is ActionKind.SUSPEND and scope is Scope.MEMBER:
            await self._members.set_status_in(conn, actor, target, Status.SUSPENDED, reason)
        elif kind is ActionKind.SUSPEND:
            await self._organizations.set_status_in(
                conn, actor, org_id, OrgStatus.SUSPENDED, reason
            )
        elif kind is ActionKind.REVOKE:
            await self._keys.revoke_in(conn, actor, target, reason, org_id)

    async def _reinstate(
        self, conn: AsyncConnection, actor: str, action: Action, reason: str
    ) -> None:
        """Undo a suspension; one already lifted (by an operator, say) is fine too."""
        try:
            if action.kind == ActionKind.SUSPEND and action.scope == Scope.END_USER:
                await self._end_users.set_status_in(
                    conn, actor, action.org_id, action.target, Status.ACTIVE, reason
                )
            elif action.kind == ActionKind.SUSPEND and action.scope == Scope.MEMBER:
                await self._members.set_status_in(conn, actor, action.target, Status.ACTIVE, reason)
            elif action.kind == ActionKind.SUSPEND:
                await self._organizations.set_status_in(
                    conn, actor, action.org_id, OrgStatus.ACTIVE, reason
                )
        except InvalidState as exc:  # raised before anything was written
            if "already active" not in exc.message:
                raise

    async def _check_key(self, org_id: str, key_id: str) -> None:
        try:
            key = await self._keys.get(key_id)
        except NotFound:
            key = None
        if key is None or key.org_id != org_id:
            raise NotFound(f"no key {key_id!r} in that organization")

    async def _check_references(self, alert_id: str | None, case_id: str | None) -> None:
        async with self._db.read() as conn:
            if alert_id is not None:
                found = await conn.scalar(sa.select(_alerts.id).where(_alerts.id == alert_id))
                if found is None:
                    raise NotFound(f"no alert {alert_id!r}")
            if case_id is not None:
                found = await conn.scalar(sa.select(_cases.id).where(_cases.id == case_id))
                if found is None:
                    raise NotFound(f"no case {case_id!r}")

    async def _check_member(self, org_id: str, member_id: str) -> None:
        member = await self._members.get(member_id)
        if member.org_id != org_id:
            raise NotFound(f"no member {member_id!r} in that organization")

    async def reverse(
        self, actor: str, action_id: str, reason: str, *, overturned: bool = False
    ) -> Action:
        """Undo an action's effect (a revoked key stays revoked: issue a new one)."""
        reason = validation.free_text(reason, "reason")
        action = await self.get(action_id)
        if action.status != "active":
            raise InvalidState("the action was already reversed")
        async with self._db.transaction() as conn:  # the undoing and its record, or neither
            await self._reinstate(conn, actor, action, reason)
            done = await conn.execute(
                actions_table.update()
                .where((_actions.id == action.id) & (_actions.status == "active"))
                .values(
                    status="reversed",
                    reversed_at=self._clock.now(),
                    reversed_by=actor,
                    reversal_reason=reason,
                    overturned=overturned,
                )
            )
            if done.rowcount != 1:
                raise InvalidState("the action was already reversed")
            await self._audit.append(
                conn,
                EnforcementReversed(
                    actor=actor, action_id=action.id, reason=reason, overturned=overturned
                ),
            )
            await changes.bump(conn, ENFORCEMENT_TOPIC)
        reversed_action = await self.get(action.id)
        self._tell(reversed_action, "enforcement.reversed")
        return reversed_action

    def _tell(self, action: Action, event: str) -> None:
        document: dict[str, Any] = {
            "action_id": action.id,
            "action": action.kind,
            "scope": action.scope,
            "target": action.target,
            "reason": action.reason if event == "enforcement.taken" else action.reversal_reason,
            "rpm": action.rpm,
            "expires_at": action.expires_at,
            "status": action.status,
            "overturned": action.overturned,
        }
        self._notifier.send(action.org_id, event, f"{event} {action.id}", document)

    async def active(self, kind: str, scope: str, org_id: str, target: str) -> Action | None:
        """The action of this kind on this target in force (a lapsed throttle is not),
        if any."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(actions_table).where(
                        (_actions.kind == kind)
                        & (_actions.scope == scope)
                        & (_actions.org_id == org_id)
                        & (_actions.target == target)
                        & (_actions.status == "active")
                        & (
                            _actions.expires_at.is_(None)
                            | (_actions.expires_at > self._clock.now())
                        )
                    )
                )
            ).first()
        return Action.from_row(row) if row is not None else None

    async def get(self, action_id: str) -> Action:
        async with self._db.read() as conn:
            return await find_action(conn, action_id)

    async def list(
        self, org: str | None = None, status: str | None = None, limit: int = 200
    ) -> list[Action]:
        query = sa.select(actions_table).order_by(_actions.taken_at.desc()).limit(limit)
        if status is not None:
            query = query.where(_actions.status == status)
        async with self._db.read() as conn:
            if org is not None:
                query = query.where(_actions.org_id == (await find_org(conn, org)).id)
            return [Action.from_row(row) for row in await conn.execute(query)]


async def find_action(conn: AsyncConnection, action_id: str) -> Action:
    row = (await conn.execute(sa.select(actions_table).where(_actions.id == action_id))).first()
    if row is None:
        raise NotFound(f"no enforcement action {action_id!r}")
    return Action.from_row(row)


def _parse(kind: str, scope: str) -> tuple[ActionKind, Scope]:
    try:
        action_kind = ActionKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in ActionKind)
        raise InvalidInput(f"unknown action {kind!r}; choose from {choices}", "action") from None
    try:
        action_scope = Scope(scope)
    except ValueError:
        choices = ", ".join(s.value for s in Scope)
        raise InvalidInput(f"unknown scope {scope!r}; choose from {choices}", "scope") from None
    if action_scope not in ALLOWED[action_kind]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[action_kind]))
        raise InvalidInput(f"{kind} applies to {allowed}, not {scope}", "scope")
    return action_kind, action_scope
