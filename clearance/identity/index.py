"""The gateway's in-memory view of API keys, so authentication never touches the
database on the hot path. Rebuilt whenever keys or organizations change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clearance.db.database import Database
from clearance.identity import credentials
from clearance.identity.models import (
    ApiKey,
    Organization,
    OrgStatus,
    api_keys_table,
    organizations_table,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a gateway request acts for, once its key checked out."""

    key_id: str
    org_id: str
    org_name: str
    models: frozenset[str] | None
    """Model names the key is scoped to; ``None``: no per-key restriction."""

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


class AuthFailure(Exception):
    """Authentication failed; ``code`` is the machine code the client sees."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class _Entry:
    key: ApiKey
    org: Organization
    principal: Principal


class KeyIndex:
    def __init__(self, db: Database, server_secret: bytes) -> None:
        self._db = db
        self._secret = server_secret
        self._by_lookup: dict[str, _Entry] = {}

    async def reload(self) -> None:
        async with self._db.read() as conn:
            keys = [ApiKey.from_row(row) for row in await conn.execute(sa.select(api_keys_table))]
            orgs = {
                org.id: org
                for org in map(
                    Organization.from_row, await conn.execute(sa.select(organizations_table))
                )
            }
        entries: dict[str, _Entry] = {}
        for key in keys:
            org = orgs[key.org_id]
            models = frozenset(key.models) if key.models is not None else None
            principal = Principal(key_id=key.id, org_id=org.id, org_name=org.name, models=models)
            entries[key.lookup] = _Entry(key=key, org=org, principal=principal)
        self._by_lookup = entries

    def authenticate(self, presented: str, now: datetime) -> Principal:
        """The principal for a presented key, or :class:`AuthFailure`. Fails closed."""
        try:
            credential = credentials.parse(presented, credentials.API_KEY_PREFIX)
        except credentials.MalformedCredential:
            credential = None
        if credential is None:
            raise AuthFailure("invalid_api_key", "Incorrect API key provided.")
        entry = self._by_lookup.get(credential.lookup)
        if entry is None or not credentials.matches(
            self._secret, credential.value, entry.key.secret_hash
        ):
            raise AuthFailure("invalid_api_key", "Incorrect API key provided.")
        if entry.key.revoked_at is not None and entry.key.revoked_at <= now:
            raise AuthFailure("key_revoked", "This API key has been revoked.")
        if entry.key.expires_at is not None and entry.key.expires_at <= now:
            raise AuthFailure("key_expired", "This API key has expired.")
        if entry.org.status is not OrgStatus.ACTIVE:
            raise AuthFailure(
                "organization_inactive", f"The organization is {entry.org.status.value}."
            )
        return entry.principal
