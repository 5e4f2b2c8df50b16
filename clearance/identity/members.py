"""Members of organizations and their service accounts.

Officers and org admins get a portal sign-in account (password + TOTP) when added; the
initial password is returned once. Suspending or removing a member stops their keys at
the gateway within a second and ends their portal sessions.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.accounts import passwords
from clearance.accounts.logins import Logins
from clearance.audit.events import MemberAdded, MemberChanged, ServiceAccountAdded
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import AlreadyExists, InvalidState, NotFound
from clearance.identity.models import (
    MEMBERS_TOPIC,
    Member,
    MemberRole,
    ServiceAccount,
    Status,
    Verification,
    members_table,
    service_accounts_table,
)
from clearance.identity.organizations import find_org
from clearance.ids import new_id

_members = members_table.c
_services = service_accounts_table.c
PORTAL_ROLES = frozenset({MemberRole.OFFICER, MemberRole.ADMIN})
DEFAULT_SERVICE_ACCOUNT = "default"


class Members:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, logins: Logins) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._logins = logins

    async def add(
        self, actor: str, org: str, name: str, email: str, role: MemberRole
    ) -> tuple[Member, str | None]:
        """Add a member; officers and admins also get a portal account whose initial
        password is returned (once)."""
        async with self._db.transaction() as conn:
            return await self.add_in(conn, actor, org, name, email, role)

    async def add_in(
        self,
        conn: AsyncConnection,
        actor: str,
        org: str,
        name: str,
        email: str,
        role: MemberRole,
        verification: Verification = Verification.NONE,
    ) -> tuple[Member, str | None]:
        """:meth:`add` in the caller's transaction (``verification`` already done, for
        an officer whose address vetting proved)."""
        email = validation.email(email)
        organization = await find_org(conn, org)
        if await conn.scalar(sa.select(_members.id).where(_members.email == email)):
            raise AlreadyExists(f"{email} is already a member of an organization")
        member = Member(
            id=new_id("mem"),
            org_id=organization.id,
            name=validation.display_name(name, "name"),
            email=email,
            role=role,
            verification=verification,
            status=Status.ACTIVE,
            created_at=self._clock.now(),
            created_by=actor,
        )
        await conn.execute(
            members_table.insert().values(
                id=member.id,
                org_id=member.org_id,
                name=member.name,
                email=member.email,
                role=role.value,
                verification=member.verification.value,
                status=member.status.value,
                created_at=member.created_at,
                created_by=actor,
            )
        )
        initial = None
        if role in PORTAL_ROLES:
            initial = passwords.generate()
            await self._logins.create(conn, "member", member.id, email, initial)
        await self._audit.append(
            conn,
            MemberAdded(actor=actor, member_id=member.id, org_id=member.org_id, role=role.value),
        )
        await changes.bump(conn, MEMBERS_TOPIC)
        return member, initial

    async def get(self, member_id: str) -> Member:
        async with self._db.read() as conn:
            return await find_member(conn, member_id)

    async def list(self, org: str) -> list[Member]:
        async with self._db.read() as conn:
            organization = await find_org(conn, org)
            rows = await conn.execute(
                sa.select(members_table)
                .where(_members.org_id == organization.id)
                .order_by(_members.created_at)
            )
            return [Member.from_row(row) for row in rows]

    async def verify(self, actor: str, member_id: str, level: Verification) -> Member:
        return await self._change(actor, member_id, "verification", level.value, None)

    async def set_status(self, actor: str, member_id: str, status: Status, reason: str) -> Member:
        reason = validation.free_text(reason, "reason")
        return await self._change(actor, member_id, "status", status.value, reason)

    async def set_status_in(
        self, conn: AsyncConnection, actor: str, member_id: str, status: Status, reason: str
    ) -> None:
        """:meth:`set_status` in the caller's transaction."""
        reason = validation.free_text(reason, "reason")
        await self._change_in(conn, actor, member_id, "status", status.value, reason)

    async def _change(
        self, actor: str, member_id: str, field: str, value: str, reason: str | None
    ) -> Member:
        async with self._db.transaction() as conn:
            await self._change_in(conn, actor, member_id, field, value, reason)
        return await self.get(member_id)

    async def _change_in(
        self,
        conn: AsyncConnection,
        actor: str,
        member_id: str,
        field: str,
        value: str,
        reason: str | None,
    ) -> None:
        member = await find_member(conn, member_id)
        if member.status is Status.REMOVED:
            raise InvalidState("the member was removed; add them again instead")
        if getattr(member, field).value == value:
            raise InvalidState(f"the member's {field} is already {value}")
        await conn.execute(
            members_table.update().where(_members.id == member.id).values({field: value})
        )
        if field == "status" and value != Status.ACTIVE.value:
            await self._logins.end_sessions(conn, member.id)
        await self._audit.append(
            conn,
            MemberChanged(
                actor=actor, member_id=member.id, field=field, value=value, reason=reason
            ),
        )
        await changes.bump(conn, MEMBERS_TOPIC)


async def find_member(conn: AsyncConnection, member_id: str) -> Member:
    row = (await conn.execute(sa.select(members_table).where(_members.id == member_id))).first()
    if row is None:
        raise NotFound(f"no member {member_id!r}")
    return Member.from_row(row)


class ServiceAccounts:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def add(self, actor: str, org: str, name: str) -> ServiceAccount:
        async with self._db.transaction() as conn:
            organization = await find_org(conn, org)
            return await self.add_in(conn, actor, organization.id, name)

    async def add_in(
        self, conn: AsyncConnection, actor: str, org_id: str, name: str, audited: bool = True
    ) -> ServiceAccount:
        """Add a service account inside the caller's transaction. ``audited=False`` is for
        the implicit ``default`` account a key is issued to, which that key's own audit
        entry already names as its owner."""
        name = validation.slug(name, "name")
        taken = await conn.scalar(
            sa.select(_services.id).where(_services.org_id == org_id, _services.name == name)
        )
        if taken:
            raise AlreadyExists(f"the organization already has a service account {name!r}")
        account = ServiceAccount(
            id=new_id("svc"),
            org_id=org_id,
            name=name,
            status=Status.ACTIVE,
            created_at=self._clock.now(),
            created_by=actor,
        )
        await conn.execute(
            service_accounts_table.insert().values(
                id=account.id,
                org_id=org_id,
                name=name,
                status=account.status.value,
                created_at=account.created_at,
                created_by=actor,
            )
        )
        if audited:
            await self._audit.append(
                conn,
                ServiceAccountAdded(
                    actor=actor, service_account_id=account.id, org_id=org_id, name=name
                ),
            )
        await changes.bump(conn, MEMBERS_TOPIC)
        return account

    async def find_in(
        self, conn: AsyncConnection, org_id: str, name_or_id: str
    ) -> ServiceAccount | None:
        row = (
            await conn.execute(
                sa.select(service_accounts_table).where(
                    _services.org_id == org_id,
                    sa.or_(_services.id == name_or_id, _services.name == name_or_id),
                )
            )
        ).first()
        return ServiceAccount.from_row(row) if row is not None else None

    async def list(self, org: str) -> list[ServiceAccount]:
        async with self._db.read() as conn:
            organization = await find_org(conn, org)
            rows = await conn.execute(
                sa.select(service_accounts_table)
                .where(_services.org_id == organization.id)
                .order_by(_services.name)
            )
            return [ServiceAccount.from_row(row) for row in rows]
