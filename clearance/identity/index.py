"""The gateway's in-memory view of API keys and whom they act for, so authentication
never touches the database on the hot path. Rebuilt whenever keys, organizations or
members change (see ``db.changes``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clearance.db.database import Database
from clearance.identity import credentials
from clearance.identity.models import (
    ApiKey,
    Organization,
    OrgStatus,
    Status,
    api_keys_table,
    members_table,
    organizations_table,
    service_accounts_table,
)
from clearance.policy import entities as cedar

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a gateway request acts for, once its key checked out."""

    key_id: str
    org_id: str
    org_name: str
    org_country: str
    owner: str
    """``member:<id>`` or ``service_account:<id>``."""
    models: frozenset[str] | None
    """Model names the key is scoped to; ``None``: no per-key restriction."""
    purposes: frozenset[str] | None
    networks: tuple[Network, ...] | None

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models

    def allows_address(self, address: str | None) -> bool:
        if self.networks is None:
            return True
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class AuthFailure(Exception):
    """Authentication failed; ``code`` is the machine code the client sees."""

    def __init__(
        self, code: str, message: str, status: int = 401, principal: Principal | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.principal = principal
        """Set when the key itself was genuine (revoked, expired, owner suspended): the
        refusal is then attributed and recorded like any other use."""


@dataclass(frozen=True, slots=True)
class _Entry:
    key: ApiKey
    org: Organization
    owner_status: Status
    owner_verification: str
    principal: Principal


INVALID = "Incorrect API key provided."


class KeyIndex:
    def __init__(self, db: Database, server_secret: bytes) -> None:
        self._db = db
        self._secret = server_secret
        self._by_lookup: dict[str, _Entry] = {}
        self._by_id: dict[str, Principal] = {}
        self._orgs: dict[str, Organization] = {}

    async def reload(self) -> None:
        async with self._db.read() as conn:
            keys = [ApiKey.from_row(r) for r in await conn.execute(sa.select(api_keys_table))]
            orgs = {
                org.id: org
                for org in map(
                    Organization.from_row, await conn.execute(sa.select(organizations_table))
                )
            }
            members = sa.select(
                members_table.c.id, members_table.c.status, members_table.c.verification
            )
            owners = {
                f"member:{r.id}": (Status(r.status), str(r.verification))
                for r in await conn.execute(members)
            }
            owners |= {
                f"service_account:{r.id}": (Status(r.status), "service_account")
                for r in await conn.execute(
                    sa.select(service_accounts_table.c.id, service_accounts_table.c.status)
                )
            }
        entries: dict[str, _Entry] = {}
        for key in keys:
            org = orgs[key.org_id]
            owner = (
                f"member:{key.member_id}"
                if key.member_id
                else f"service_account:{key.service_account_id}"
            )
            principal = Principal(
                key_id=key.id,
                org_id=org.id,
                org_name=org.name,
                org_country=org.country,
                owner=owner,
                models=frozenset(key.models) if key.models is not None else None,
                purposes=frozenset(key.purposes) if key.purposes is not None else None,
                networks=tuple(ipaddress.ip_network(n) for n in key.networks)
                if key.networks is not None
                else None,
            )
            status, verification = owners.get(owner, (Status.REMOVED, "none"))
            entries[key.lookup] = _Entry(key, org, status, verification, principal)
        self._by_lookup = entries
        self._by_id = {entry.key.id: entry.principal for entry in entries.values()}
        self._orgs = orgs

    def entities(self) -> list[dict[str, Any]]:
        """Every organization and live key as Cedar entities (for the authorizer)."""
        result = [cedar.organization(org) for org in self._orgs.values()]
        for entry in self._by_lookup.values():
            p = entry.principal
            result.append(
                cedar.key(
                    p.key_id,
                    p.org_id,
                    p.owner,
                    entry.owner_status.value,
                    entry.owner_verification,
                    p.models,
                )
            )
        return result

    def principal(self, key_id: str) -> Principal | None:
        """The principal a key acts as, by key id (for explaining decisions)."""
        return self._by_id.get(key_id)

    def authenticate(self, presented: str, now: datetime) -> Principal:
        """The principal for a presented key, or :class:`AuthFailure`. Fails closed."""
        try:
            credential = credentials.parse(presented, credentials.API_KEY_PREFIX)
        except credentials.MalformedCredential:
            credential = None
        if credential is None:
            raise AuthFailure("invalid_api_key", INVALID)
        entry = self._by_lookup.get(credential.lookup)
        if entry is None or not credentials.matches(
            self._secret, credential.value, entry.key.secret_hash
        ):
            raise AuthFailure("invalid_api_key", INVALID)
        key, principal = entry.key, entry.principal
        if key.revoked_at is not None and key.revoked_at <= now:
            raise AuthFailure("key_revoked", "This API key has been revoked.", 401, principal)
        if key.expires_at is not None and key.expires_at <= now:
            raise AuthFailure("key_expired", "This API key has expired.", 401, principal)
        if entry.org.status is not OrgStatus.ACTIVE:
            raise AuthFailure(
                f"organization_{entry.org.status.value}",
                f"The organization's access is {entry.org.status.value}.",
                403,
                principal,
            )
        if entry.owner_status is not Status.ACTIVE:
            raise AuthFailure(
                "key_owner_inactive",
                f"The key's owner is {entry.owner_status.value}.",
                403,
                principal,
            )
        return principal
