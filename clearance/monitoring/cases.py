"""Opening and closing cases."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.events import CaseClosed, CaseOpened
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import InvalidState, NotFound
from clearance.identity.organizations import find_org
from clearance.ids import new_id
from clearance.monitoring.models import Case, cases_table

_cases = cases_table.c


class Cases:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def open(self, actor: str, title: str, org: str | None = None) -> Case:
        title = validation.display_name(title, "title")
        async with self._db.transaction() as conn:
            org_id = (await find_org(conn, org)).id if org else None
            case_id = new_id("case")
            await conn.execute(
                cases_table.insert().values(
                    id=case_id,
                    title=title,
                    org_id=org_id,
                    status="open",
                    opened_by=actor,
                    opened_at=self._clock.now(),
                )
            )
            await self._audit.append(
                conn, CaseOpened(actor=actor, case_id=case_id, org_id=org_id, title=title)
            )
        return await self.get(case_id)

    async def close(self, actor: str, case_id: str, resolution: str) -> Case:
        resolution = validation.free_text(resolution, "resolution")
        async with self._db.transaction() as conn:
            case = await self._find(conn, case_id)
            if case.status != "open":
                raise InvalidState("the case is already closed")
            await conn.execute(
                cases_table.update()
                .where(_cases.id == case_id)
                .values(
                    status="closed",
                    closed_by=actor,
                    closed_at=self._clock.now(),
                    resolution=resolution,
                )
            )
            await self._audit.append(
                conn, CaseClosed(actor=actor, case_id=case_id, resolution=resolution)
            )
        return await self.get(case_id)

    async def get(self, case_id: str) -> Case:
        async with self._db.read() as conn:
            return await self._find(conn, case_id)

    async def list(self, status: str | None = None) -> list[Case]:
        query = sa.select(cases_table).order_by(_cases.opened_at.desc())
        if status is not None:
            query = query.where(_cases.status == status)
        async with self._db.read() as conn:
            return [Case.from_row(row) for row in await conn.execute(query)]

    @staticmethod
    async def _find(conn: AsyncConnection, case_id: str) -> Case:
        row = (await conn.execute(sa.select(cases_table).where(_cases.id == case_id))).first()
        if row is None:
            raise NotFound(f"no case {case_id!r}")
        return Case.from_row(row)
