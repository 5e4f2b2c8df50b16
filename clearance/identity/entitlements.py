"""Entitlements: which models an organization may use, and which dual-use purposes are
unlocked on each. Keys created from the portal stay within them; policy enforces them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import domains
from clearance.audit.events import EntitlementGranted, EntitlementRevoked
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState, NotFound
from clearance.identity.models import ENTITLEMENTS_TOPIC, Entitlement, entitlements_table
from clearance.identity.organizations import find_org
from clearance.ids import new_id
from clearance.limits.models import Limits, scoped_from_document
from clearance.registry.models import models_table

_ents = entitlements_table.c


class Entitlements:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def grant(
        self,
        actor: str,
        org: str,
        model: str,
        purposes: list[str],
        expires_at: datetime | None = None,
        limits: dict[str, dict[str, int]] | None = None,
    ) -> Entitlement:
        """Entitle ``org`` to ``model``, unlocking ``purposes``, within ``limits``
        (``{scope: {limit: n}}``, see ``clearance.limits.models``)."""
        async with self._db.transaction() as conn:
            return await self.grant_in(conn, actor, org, model, purposes, expires_at, limits)

    async def grant_in(
        self,
        conn: AsyncConnection,
        actor: str,
        org: str,
        model: str,
        purposes: list[str],
        expires_at: datetime | None = None,
        limits: dict[str, dict[str, int]] | None = None,
    ) -> Entitlement:
        """:meth:`grant` in the caller's transaction."""
        chosen = domains.purposes(purposes)
        scoped = scoped_from_document(limits or {})
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expires_at must be in the future", "expires_at")
        organization = await find_org(conn, org)
        known = await conn.scalar(sa.select(models_table.c.id).where(models_table.c.name == model))
        if known is None:
            raise InvalidInput(f"unknown model {model!r}", "model")
        entitlement = Entitlement(
            id=new_id("ent"),
            org_id=organization.id,
            model=model,
            purposes=chosen,
            limits=scoped,
            created_at=now,
            created_by=actor,
            expires_at=expires_at,
            revoked_at=None,
        )
        await conn.execute(
            entitlements_table.insert().values(
                id=entitlement.id,
                org_id=entitlement.org_id,
                model=model,
                purposes=list(chosen),
                limits={scope: value.document() for scope, value in scoped.items()},
                created_at=now,
                created_by=actor,
                expires_at=expires_at,
            )
        )
        await self._audit.append(
            conn,
            EntitlementGranted(
                actor=actor,
                entitlement_id=entitlement.id,
                org_id=entitlement.org_id,
                model=model,
                purposes=chosen,
                limits={scope: value.document() for scope, value in scoped.items()},
                expires_at=expires_at,
            ),
        )
        await changes.bump(conn, ENTITLEMENTS_TOPIC)
        return entitlement

    async def revoke(self, actor: str, entitlement_id: str) -> None:
        async with self._db.transaction() as conn:
            row = (
                await conn.execute(sa.select(entitlements_table).where(_ents.id == entitlement_id))
            ).first()
            if row is None:
                raise NotFound(f"no entitlement {entitlement_id!r}")
            if row.revoked_at is not None:
                raise InvalidState("the entitlement is already revoked")
            await conn.execute(
                entitlements_table.update()
                .where(_ents.id == entitlement_id)
                .values(revoked_at=self._clock.now())
            )
            await self._audit.append(
                conn, EntitlementRevoked(actor=actor, entitlement_id=entitlement_id)
            )
            await changes.bump(conn, ENTITLEMENTS_TOPIC)

    async def list(self, org: str | None = None) -> list[Entitlement]:
        async with self._db.read() as conn:
            query = sa.select(entitlements_table).order_by(_ents.created_at)
            if org is not None:
                query = query.where(_ents.org_id == (await find_org(conn, org)).id)
            return [Entitlement.from_row(row) for row in await conn.execute(query)]


async def active_entitlements(
    conn: AsyncConnection, org_id: str, now: datetime
) -> list[Entitlement]:
    rows = await conn.execute(sa.select(entitlements_table).where(_ents.org_id == org_id))
    return [e for e in map(Entitlement.from_row, rows) if e.active(now)]


class EntitlementIndex:
    """Live entitlements by (organization, model), in memory for the hot path."""

    def __init__(self, entitlements: Entitlements) -> None:
        self._entitlements = entitlements
        self._by_org_model: dict[tuple[str, str], list[Entitlement]] = {}

    async def reload(self) -> None:
        index: dict[tuple[str, str], list[Entitlement]] = {}
        for entitlement in await self._entitlements.list():
            if entitlement.revoked_at is None:
                index.setdefault((entitlement.org_id, entitlement.model), []).append(entitlement)
        self._by_org_model = index

    def limits(self, org_id: str, model: str, now: datetime) -> dict[str, Limits]:
        """Limits by scope from the newest live entitlement (empty if none)."""
        live = [e for e in self._by_org_model.get((org_id, model), ()) if e.active(now)]
        return max(live, key=lambda e: e.created_at).limits if live else {}

    def purposes(self, org_id: str, model: str, now: datetime) -> frozenset[str] | None:
        """The purposes unlocked on ``model`` for ``org_id``; None if not entitled."""
        live = [e for e in self._by_org_model.get((org_id, model), ()) if e.active(now)]
        if not live:
            return None
        return frozenset(p for e in live for p in e.purposes)
