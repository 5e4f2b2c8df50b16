"""API keys: issuing (shown once), scoping, rotating with a grace period, revoking.

A key belongs to a member or a service account of one organization. Its scopes narrow
what the organization may do: models, dual-use purposes, source networks. Keys made in
the portal must also stay within the organization's entitlements.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import domains
from clearance.audit.events import ApiKeyIssued, ApiKeyRevoked, ApiKeyRotated
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from clearance.identity import credentials
from clearance.identity.entitlements import active_entitlements
from clearance.identity.members import DEFAULT_SERVICE_ACCOUNT, ServiceAccounts, find_member
from clearance.identity.models import KEYS_TOPIC, ApiKey, IssuedSecret, Status, api_keys_table
from clearance.identity.organizations import find_org
from clearance.ids import new_id
from clearance.registry.models import models_table

_keys = api_keys_table.c
MAX_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class KeyScope:
    models: list[str] | None = None
    purposes: list[str] | None = None
    networks: list[str] | None = None
    expires_at: datetime | None = None


def _networks(values: list[str]) -> tuple[str, ...]:
    parsed = []
    for value in values:
        try:
            parsed.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidInput(f"{value!r} is not a CIDR network", "networks") from None
    if not parsed:
        raise InvalidInput("networks must name at least one CIDR block", "networks")
    return tuple(dict.fromkeys(parsed))


class ApiKeys:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        server_secret: bytes,
        service_accounts: ServiceAccounts,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._secret = server_secret
        self._service_accounts = service_accounts

    async def create(
        self,
        actor: str,
        org: str,
        scope: KeyScope,
        member: str | None = None,
        service_account: str | None = None,
        within_entitlements: bool = False,
    ) -> IssuedSecret:
        """Issue a key for ``org``, owned by ``member`` or ``service_account`` (by
        default the organization's ``default`` service account). Its secret is
        returned this once."""
        if member and service_account:
            raise InvalidInput("a key belongs to a member or a service account, not both", "owner")
        now = self._clock.now()
        if scope.expires_at is not None and scope.expires_at <= now:
            raise InvalidInput("expires_at must be in the future", "expires_at")
        models = tuple(dict.fromkeys(scope.models)) if scope.models else None
        purposes = domains.purposes(scope.purposes) if scope.purposes is not None else None
        networks = _networks(scope.networks) if scope.networks is not None else None
        async with self._db.transaction() as conn:
            organization = await find_org(conn, org)
            await self._check_models(conn, models)
            if within_entitlements:
                await self._check_entitled(conn, organization.id, models, purposes)
            member_id, service_id = await self._owner(
                conn, actor, organization.id, member, service_account
            )
            issued = await self._insert(
                conn,
                actor,
                organization.id,
                member_id,
                service_id,
                models,
                purposes,
                networks,
                scope.expires_at,
                None,
            )
            await self._audit.append(
                conn,
                ApiKeyIssued(
                    actor=actor,
                    key_id=issued.id,
                    org_id=organization.id,
                    owner=f"member:{member_id}" if member_id else f"service_account:{service_id}",
                    lookup=issued.lookup,
                    models=models,
                    purposes=purposes,
                    networks=networks,
                    expires_at=scope.expires_at,
                ),
            )
            await changes.bump(conn, KEYS_TOPIC)
        return issued

    async def rotate(
        self, actor: str, key_id: str, grace: timedelta, org_id: str | None = None
    ) -> IssuedSecret:
        """A new key with the old one's owner and scopes; the old key keeps working for
        ``grace`` (or until its own expiry, if sooner), then stops."""
        if not timedelta(0) <= grace <= MAX_GRACE:
            raise InvalidInput("the grace period must be between 0 and 30 days", "grace")
        now = self._clock.now()
        async with self._db.transaction() as conn:
            old = await self._usable(conn, key_id, org_id)
            old_expiry = now + grace
            if old.expires_at is not None and old.expires_at < old_expiry:
                old_expiry = old.expires_at
            issued = await self._insert(
                conn,
                actor,
                old.org_id,
                old.member_id,
                old.service_account_id,
                old.models,
                old.purposes,
                old.networks,
                old.expires_at,
                old.id,
            )
            await conn.execute(
                api_keys_table.update().where(_keys.id == old.id).values(expires_at=old_expiry)
            )
            await self._audit.append(
                conn,
                ApiKeyRotated(
                    actor=actor,
                    old_key_id=old.id,
                    new_key_id=issued.id,
                    new_lookup=issued.lookup,
                    old_expires_at=old_expiry,
                ),
            )
            await changes.bump(conn, KEYS_TOPIC)
        return issued

    async def revoke(self, actor: str, key_id: str, reason: str, org_id: str | None = None) -> None:
        """Stop a key everywhere (every worker and replica within a second)."""
        async with self._db.transaction() as conn:
            await self.revoke_in(conn, actor, key_id, reason, org_id)

    async def revoke_in(
        self, conn: AsyncConnection, actor: str, key_id: str, reason: str, org_id: str | None
    ) -> None:
        """:meth:`revoke` in the caller's transaction."""
        reason = reason.strip() or "revoked"
        key = await self._find(conn, key_id, org_id)
        if key.revoked_at is not None:
            raise InvalidState("the key is already revoked")
        await conn.execute(
            api_keys_table.update()
            .where(_keys.id == key.id)
            .values(revoked_at=self._clock.now(), revoked_reason=reason[:500])
        )
        await self._audit.append(
            conn, ApiKeyRevoked(actor=actor, key_id=key.id, reason=reason[:500])
        )
        await changes.bump(conn, KEYS_TOPIC)

    async def get(self, key_id: str) -> ApiKey:
        async with self._db.read() as conn:
            return await self._find(conn, key_id, None)

    async def list(self, org: str | None = None) -> list[ApiKey]:
        async with self._db.read() as conn:
            query = sa.select(api_keys_table).order_by(_keys.created_at)
            if org is not None:
                query = query.where(_keys.org_id == (await find_org(conn, org)).id)
            return [ApiKey.from_row(row) for row in await conn.execute(query)]

    # -- internals --------------------------------------------------------------------

    async def _find(self, conn: AsyncConnection, key_id: str, org_id: str | None) -> ApiKey:
        query = sa.select(api_keys_table).where(sa.or_(_keys.id == key_id, _keys.lookup == key_id))
        row = (await conn.execute(query)).first()
        if row is None or (org_id is not None and row.org_id != org_id):
            raise NotFound(f"no API key {key_id!r}")
        return ApiKey.from_row(row)

    async def _usable(self, conn: AsyncConnection, key_id: str, org_id: str | None) -> ApiKey:
        key = await self._find(conn, key_id, org_id)
        now = self._clock.now()
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
            raise InvalidState("only a live key can be rotated")
        return key

    async def _check_models(self, conn: AsyncConnection, models: tuple[str, ...] | None) -> None:
        if models is None:
            return
        known = set(
            await conn.scalars(
                sa.select(models_table.c.name).where(models_table.c.name.in_(models))
            )
        )
        missing = [name for name in models if name not in known]
        if missing:
            raise InvalidInput(f"unknown models: {', '.join(missing)}", "models")

    async def _check_entitled(
        self,
        conn: AsyncConnection,
        org_id: str,
        models: tuple[str, ...] | None,
        purposes: tuple[str, ...] | None,
    ) -> None:
        entitled = await active_entitlements(conn, org_id, self._clock.now())
        if models is None:
            raise InvalidInput("name the models the key may use", "models")
        allowed = {e.model for e in entitled}
        outside = [m for m in models if m not in allowed]
        if outside:
            raise NotAllowed(f"the organization is not entitled to {', '.join(outside)}")
        unlocked = {p for e in entitled if e.model in models for p in e.purposes}
        extra = sorted(set(purposes or ()) - unlocked)
        if extra:
            raise NotAllowed(f"the organization is not entitled to the purposes {', '.join(extra)}")

    async def _owner(
        self,
        conn: AsyncConnection,
        actor: str,
        org_id: str,
        member: str | None,
        service_account: str | None,
    ) -> tuple[str | None, str | None]:
        if member:
            found = await find_member(conn, member)
            if found.org_id != org_id:
                raise NotFound(f"no member {member!r} in this organization")
            if found.status is not Status.ACTIVE:
                raise InvalidState(f"the member is {found.status.value}")
            return found.id, None
        name = service_account or DEFAULT_SERVICE_ACCOUNT
        account = await self._service_accounts.find_in(conn, org_id, name)
        if account is None:
            if service_account:
                raise NotFound(f"no service account {service_account!r} in this organization")
            account = await self._service_accounts.add_in(conn, actor, org_id, name, audited=False)
        if account.status is not Status.ACTIVE:
            raise InvalidState(f"the service account is {account.status.value}")
        return None, account.id

    async def _insert(
        self,
        conn: AsyncConnection,
        actor: str,
        org_id: str,
        member_id: str | None,
        service_id: str | None,
        models: tuple[str, ...] | None,
        purposes: tuple[str, ...] | None,
        networks: tuple[str, ...] | None,
        expires_at: datetime | None,
        rotated_from: str | None,
    ) -> IssuedSecret:
        credential = credentials.generate(credentials.API_KEY_PREFIX)
        key_id = new_id("key")
        await conn.execute(
            api_keys_table.insert().values(
                id=key_id,
                org_id=org_id,
                member_id=member_id,
                service_account_id=service_id,
                lookup=credential.lookup,
                secret_hash=credentials.keyed_hash(self._secret, credential.value),
                models=list(models) if models is not None else None,
                purposes=list(purposes) if purposes is not None else None,
                networks=list(networks) if networks is not None else None,
                rotated_from=rotated_from,
                created_at=self._clock.now(),
                created_by=actor,
                expires_at=expires_at,
            )
        )
        return IssuedSecret(id=key_id, secret=credential.value, lookup=credential.lookup)
