"""Appeals against enforcement actions, and their recorded outcomes.

An organization appeals an action (through its program contact: an operator files
it with the organization's statement). An investigator decides it: *upheld* reverses
the action and counts it as overturned; *denied* leaves it in force. One pending
appeal per action at a time; every step is an audit entry.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState, NotFound
from clearance.ids import new_id
from clearance.monitoring.enforcement import Enforcement, find_action
from clearance.monitoring.enforcement_models import Appeal, actions_table, appeals_table
from clearance.monitoring.events import AppealDecided, AppealFiled

_appeals = appeals_table.c
_actions = actions_table.c
OUTCOMES = ("upheld", "denied")


class Appeals:
    def __init__(
        self, db: Database, audit: AuditLog, clock: Clock, enforcement: Enforcement
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._enforcement = enforcement

    async def file(self, actor: str, action_id: str, statement: str) -> Appeal:
        statement = validation.free_text(statement, "statement", max_length=8000)
        appeal_id = new_id("appeal")
        async with self._db.transaction() as conn:
            action = await find_action(conn, action_id)
            if action.status != "active":
                raise InvalidState("only an action in force can be appealed")
            pending = await conn.scalar(
                sa.select(_appeals.id).where(
                    (_appeals.action_id == action.id) & (_appeals.status == "pending")
                )
            )
            if pending is not None:
                raise InvalidState(f"the action already has a pending appeal ({pending})")
            await conn.execute(
                appeals_table.insert().values(
                    id=appeal_id,
                    action_id=action.id,
                    filed_at=self._clock.now(),
                    filed_by=actor,
                    statement=statement,
                    status="pending",
                )
            )
            await self._audit.append(
                conn,
                AppealFiled(
                    actor=actor, appeal_id=appeal_id, action_id=action.id, org_id=action.org_id
                ),
            )
        return await self.get(appeal_id)

    async def decide(self, actor: str, appeal_id: str, outcome: str, reason: str) -> Appeal:
        if outcome not in OUTCOMES:
            raise InvalidInput("the outcome is upheld or denied", "outcome")
        reason = validation.free_text(reason, "reason")
        appeal = await self.get(appeal_id)
        if appeal.status != "pending":
            raise InvalidState(f"the appeal was already {appeal.status}")
        async with self._db.transaction() as conn:  # claimed first: decided once
            done = await conn.execute(
                appeals_table.update()
                .where((_appeals.id == appeal.id) & (_appeals.status == "pending"))
                .values(
                    status=outcome,
                    decided_at=self._clock.now(),
                    decided_by=actor,
                    decision_reason=reason,
                )
            )
            if done.rowcount != 1:
                raise InvalidState("the appeal was decided meanwhile")
            await self._audit.append(
                conn,
                AppealDecided(
                    actor=actor,
                    appeal_id=appeal.id,
                    action_id=appeal.action_id,
                    outcome=outcome,
                    reason=reason,
                ),
            )
        if outcome == "upheld":
            await self._enforcement.reverse(
                actor, appeal.action_id, f"appeal {appeal.id} upheld: {reason}", overturned=True
            )
        return await self.get(appeal.id)

    async def get(self, appeal_id: str) -> Appeal:
        async with self._db.read() as conn:
            return await _find(conn, appeal_id)

    async def list(self, status: str | None = None) -> list[Appeal]:
        query = sa.select(appeals_table).order_by(_appeals.filed_at.desc())
        if status is not None:
            query = query.where(_appeals.status == status)
        async with self._db.read() as conn:
            return [Appeal.from_row(row) for row in await conn.execute(query)]

    async def overturned(self) -> dict[str, int]:
        """Actions taken, overturned on appeal, and appeals by outcome."""
        async with self._db.read() as conn:
            taken = await conn.scalar(sa.select(sa.func.count()).select_from(actions_table))
            overturned = await conn.scalar(
                sa.select(sa.func.count()).where(_actions.overturned.is_(True))
            )
            outcomes: dict[str, int] = dict(
                (
                    await conn.execute(
                        sa.select(_appeals.status, sa.func.count()).group_by(_appeals.status)
                    )
                ).all()
            )
        return {
            "actions": int(taken or 0),
            "overturned": int(overturned or 0),
            **{f"appeals_{k}": int(v) for k, v in outcomes.items()},
        }


async def _find(conn: AsyncConnection, appeal_id: str) -> Appeal:
    row = (await conn.execute(sa.select(appeals_table).where(_appeals.id == appeal_id))).first()
    if row is None:
        raise NotFound(f"no appeal {appeal_id!r}")
    return Appeal.from_row(row)
