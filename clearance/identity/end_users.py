"""End users: the people behind an organization's application, named in requests
(OpenAI ``user`` / ``safety_identifier``, Anthropic ``metadata.user_id``).

Each has a status of its own, so enforcement can cut off one end user rather than the
whole organization. They are recorded as the gateway sees them (first and last seen,
written with the usage batch, never per request), and can be suspended before they
are ever seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.events import EndUserStatusChanged
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState
from clearance.identity.models import END_USERS_TOPIC, EndUser, Status, end_users_table
from clearance.identity.organizations import find_org
from clearance.ids import new_id

_users = end_users_table.c
MAX_EXTERNAL_ID = 256
_TOUCH = sa.text(
    "INSERT INTO end_users (id, org_id, external_id, status, first_seen, last_seen) "
    "VALUES (:id, :org_id, :external_id, 'active', :seen, :seen) "
    "ON CONFLICT (org_id, external_id) DO UPDATE SET last_seen = excluded.last_seen"
).bindparams(sa.bindparam("seen", type_=end_users_table.c.last_seen.type))


def touch(conn: sa.Connection, seen: Mapping[tuple[str, str], datetime]) -> None:
    """Record end users seen in a usage batch (inside the batch's transaction)."""
    if seen:
        conn.execute(
            _TOUCH,
            [
                {"id": new_id("eu"), "org_id": org, "external_id": external, "seen": at}
                for (org, external), at in seen.items()
            ],
        )


class EndUsers:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._suspended: frozenset[tuple[str, str]] = frozenset()

    async def set_status(
        self, actor: str, org: str, external_id: str, status: Status, reason: str
    ) -> EndUser:
        async with self._db.transaction() as conn:
            return await self.set_status_in(conn, actor, org, external_id, status, reason)

    async def set_status_in(
        self,
        conn: AsyncConnection,
        actor: str,
        org: str,
        external_id: str,
        status: Status,
        reason: str,
    ) -> EndUser:
        """:meth:`set_status` in the caller's transaction."""
        if status is Status.REMOVED:
            raise InvalidInput("end users are suspended or active, not removed", "status")
        external_id = external_id.strip()
        if not external_id or len(external_id) > MAX_EXTERNAL_ID:
            raise InvalidInput(f"the end user id must be 1-{MAX_EXTERNAL_ID} characters", "user")
        reason = validation.free_text(reason, "reason")
        now = self._clock.now()
        organization = await find_org(conn, org)
        key = (_users.org_id == organization.id) & (_users.external_id == external_id)
        row = (await conn.execute(sa.select(end_users_table).where(key))).first()
        if row is None:
            await conn.execute(
                end_users_table.insert().values(
                    id=new_id("eu"),
                    org_id=organization.id,
                    external_id=external_id,
                    status=status.value,
                    status_reason=reason,
                    first_seen=now,
                    last_seen=now,
                )
            )
        elif row.status == status.value:
            raise InvalidState(f"the end user is already {status.value}")
        else:
            await conn.execute(
                end_users_table.update()
                .where(key)
                .values(status=status.value, status_reason=reason)
            )
        user = EndUser.from_row((await conn.execute(sa.select(end_users_table).where(key))).one())
        await self._audit.append(
            conn,
            EndUserStatusChanged(
                actor=actor,
                end_user_id=user.id,
                org_id=organization.id,
                status=status.value,
                reason=reason,
            ),
        )
        await changes.bump(conn, END_USERS_TOPIC)
        return user

    async def list(self, org: str) -> list[EndUser]:
        async with self._db.read() as conn:
            organization = await find_org(conn, org)
            rows = await conn.execute(
                sa.select(end_users_table)
                .where(_users.org_id == organization.id)
                .order_by(_users.last_seen.desc())
            )
            return [EndUser.from_row(row) for row in rows]

    # -- the gateway's in-memory view -------------------------------------------------

    async def reload(self) -> None:
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(_users.org_id, _users.external_id).where(
                    _users.status == Status.SUSPENDED.value
                )
            )
            self._suspended = frozenset((row.org_id, row.external_id) for row in rows)

    def is_suspended(self, org_id: str, external_id: str) -> bool:
        return (org_id, external_id) in self._suspended
