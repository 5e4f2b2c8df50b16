"""Organizations: admitting one directly (a recorded bypass of vetting), and suspending,
reinstating or revoking it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.events import OrganizationAdmitted, OrganizationStatusChanged
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from clearance.identity.models import ORGS_TOPIC, Organization, OrgStatus, organizations_table
from clearance.ids import new_id

_orgs = organizations_table.c


async def find_org(conn: AsyncConnection, name_or_id: str) -> Organization:
    query = sa.select(organizations_table).where(
        sa.or_(_orgs.id == name_or_id, _orgs.name == name_or_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"no organization named {name_or_id!r}")
    return Organization.from_row(row)


class Organizations:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def add_direct(
        self, actor: str, name: str, country: str, reason: str, tier: int = 1
    ) -> Organization:
        """Admit an organization without vetting: an operator's recorded bypass."""
        return await self._admit(actor, name, country, reason, tier, "direct")

    async def admit_vetted_in(
        self, conn: AsyncConnection, actor: str, name: str, country: str, application_id: str
    ) -> Organization:
        """Create the organization an approved application is provisioned as, in the
        caller's transaction."""
        org = self._new(actor, name, country, f"application {application_id}", 1, "vetted")
        await self._insert(conn, actor, org)
        return org

    async def _admit(
        self, actor: str, name: str, country: str, reason: str, tier: int, admission: str
    ) -> Organization:
        org = self._new(actor, name, country, reason, tier, admission)
        async with self._db.transaction() as conn:
            await self._insert(conn, actor, org)
        return org

    def _new(
        self, actor: str, name: str, country: str, reason: str, tier: int, admission: str
    ) -> Organization:
        if tier not in (1, 2, 3):
            raise InvalidInput("tier must be 1, 2 or 3", "tier")
        return Organization(
            id=new_id("org"),
            name=validation.display_name(name, "name"),
            country=validation.country_code(country),
            tier=tier,
            status=OrgStatus.ACTIVE,
            admission=admission,
            admission_reason=validation.free_text(reason, "reason"),
            created_at=self._clock.now(),
            created_by=actor,
        )

    async def _insert(self, conn: AsyncConnection, actor: str, org: Organization) -> None:
        if await conn.scalar(sa.select(_orgs.id).where(_orgs.name == org.name)) is not None:
            raise AlreadyExists(f"an organization named {org.name!r} already exists")
        await conn.execute(
            organizations_table.insert().values(
                id=org.id,
                name=org.name,
                country=org.country,
                tier=org.tier,
                status=org.status.value,
                admission=org.admission,
                admission_reason=org.admission_reason,
                created_at=org.created_at,
                created_by=actor,
            )
        )
        await self._audit.append(
            conn,
            OrganizationAdmitted(
                actor=actor,
                org_id=org.id,
                name=org.name,
                country=org.country,
                tier=org.tier,
                admission=org.admission,
                reason=org.admission_reason,
            ),
        )
        await changes.bump(conn, ORGS_TOPIC)

    async def set_status(
        self, actor: str, org: str, status: OrgStatus, reason: str
    ) -> Organization:
        """Suspend, reinstate or revoke; takes effect at the gateway within a second.
        Revocation is final."""
        async with self._db.transaction() as conn:
            org_id = await self.set_status_in(conn, actor, org, status, reason)
        return await self.get(org_id)

    async def set_status_in(
        self, conn: AsyncConnection, actor: str, org: str, status: OrgStatus, reason: str
    ) -> str:
        """:meth:`set_status` in the caller's transaction; returns the organization's id."""
        reason = validation.free_text(reason, "reason")
        current = await find_org(conn, org)
        if current.status is OrgStatus.REVOKED:
            raise InvalidState(f"{current.name} is revoked; that is final")
        if current.status is status:
            raise InvalidState(f"{current.name} is already {status.value}")
        await conn.execute(
            organizations_table.update().where(_orgs.id == current.id).values(status=status.value)
        )
        await self._audit.append(
            conn,
            OrganizationStatusChanged(
                actor=actor, org_id=current.id, status=status.value, reason=reason
            ),
        )
        await changes.bump(conn, ORGS_TOPIC)
        return current.id

    async def get(self, name_or_id: str) -> Organization:
        async with self._db.read() as conn:
            return await find_org(conn, name_or_id)

    async def list(self) -> list[Organization]:
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(organizations_table).order_by(_orgs.name))
            return [Organization.from_row(row) for row in rows]
