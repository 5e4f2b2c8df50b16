"""Admitting organizations, issuing API keys and operator tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.events import (
    ApiKeyIssued,
    OperatorCreated,
    OrganizationAdmitted,
)
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import AlreadyExists, InvalidInput, NotFound
from clearance.identity import credentials
from clearance.identity.models import (
    KEYS_TOPIC,
    ORGS_TOPIC,
    ApiKey,
    IssuedSecret,
    Operator,
    OperatorRole,
    Organization,
    OrgStatus,
    api_keys_table,
    operator_tokens_table,
    operators_table,
    organizations_table,
)
from clearance.ids import new_id
from clearance.registry.models import models_table

_orgs = organizations_table.c
_keys = api_keys_table.c


class Organizations:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def add_direct(self, actor: str, name: str, country: str, reason: str) -> Organization:
        """Admit an organization without vetting: an operator's recorded bypass."""
        org = Organization(
            id=new_id("org"),
            name=validation.display_name(name, "name"),
            country=validation.country_code(country),
            status=OrgStatus.ACTIVE,
            admission="direct",
            admission_reason=validation.free_text(reason, "reason"),
            created_at=self._clock.now(),
            created_by=actor,
        )
        async with self._db.transaction() as conn:
            if await conn.scalar(sa.select(_orgs.id).where(_orgs.name == org.name)) is not None:
                raise AlreadyExists(f"an organization named {org.name!r} already exists")
            await conn.execute(
                organizations_table.insert().values(
                    id=org.id,
                    name=org.name,
                    country=org.country,
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
                    admission=org.admission,
                    reason=org.admission_reason,
                ),
            )
            await changes.bump(conn, ORGS_TOPIC)
        return org

    async def get(self, name_or_id: str) -> Organization:
        async with self._db.read() as conn:
            return await find_org(conn, name_or_id)

    async def list(self) -> list[Organization]:
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(organizations_table).order_by(_orgs.name))
            return [Organization.from_row(row) for row in rows]


async def find_org(conn: AsyncConnection, name_or_id: str) -> Organization:
    query = sa.select(organizations_table).where(
        sa.or_(_orgs.id == name_or_id, _orgs.name == name_or_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"no organization named {name_or_id!r}")
    return Organization.from_row(row)


class ApiKeys:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, server_secret: bytes) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._secret = server_secret

    async def create(
        self,
        actor: str,
        org: str,
        models: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> IssuedSecret:
        """Issue a key for ``org`` (name or id). Its secret is returned this once."""
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("expires_at must be in the future", "expires_at")
        scope = tuple(dict.fromkeys(models)) if models else None
        credential = credentials.generate(credentials.API_KEY_PREFIX)
        key_id = new_id("key")
        async with self._db.transaction() as conn:
            organization = await find_org(conn, org)
            if scope is not None:
                known = set(
                    await conn.scalars(
                        sa.select(models_table.c.name).where(models_table.c.name.in_(scope))
                    )
                )
                missing = [name for name in scope if name not in known]
                if missing:
                    raise InvalidInput(f"unknown models: {', '.join(missing)}", "models")
            await conn.execute(
                api_keys_table.insert().values(
                    id=key_id,
                    org_id=organization.id,
                    lookup=credential.lookup,
                    secret_hash=credentials.keyed_hash(self._secret, credential.value),
                    models=list(scope) if scope is not None else None,
                    created_at=now,
                    created_by=actor,
                    expires_at=expires_at,
                )
            )
            await self._audit.append(
                conn,
                ApiKeyIssued(
                    actor=actor,
                    key_id=key_id,
                    org_id=organization.id,
                    lookup=credential.lookup,
                    models=scope,
                    expires_at=expires_at,
                ),
            )
            await changes.bump(conn, KEYS_TOPIC)
        return IssuedSecret(id=key_id, secret=credential.value, lookup=credential.lookup)

    async def list(self, org: str | None = None) -> list[ApiKey]:
        async with self._db.read() as conn:
            query = sa.select(api_keys_table).order_by(_keys.created_at)
            if org is not None:
                query = query.where(_keys.org_id == (await find_org(conn, org)).id)
            return [ApiKey.from_row(row) for row in await conn.execute(query)]


class Operators:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, server_secret: bytes) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._secret = server_secret

    async def create(
        self, actor: str, name: str, role: OperatorRole
    ) -> tuple[Operator, IssuedSecret]:
        """Create an operator with a first API token (returned this once)."""
        operator = Operator(
            id=new_id("op"),
            name=validation.slug(name, "name"),
            role=role,
            status="active",
            created_at=self._clock.now(),
            created_by=actor,
        )
        async with self._db.transaction() as conn:
            taken = await conn.scalar(
                sa.select(operators_table.c.id).where(operators_table.c.name == operator.name)
            )
            if taken is not None:
                raise AlreadyExists(f"an operator named {operator.name!r} already exists")
            await conn.execute(
                operators_table.insert().values(
                    id=operator.id,
                    name=operator.name,
                    role=role.value,
                    status=operator.status,
                    created_at=operator.created_at,
                    created_by=actor,
                )
            )
            token = await self._issue_token(conn, operator.id)
            await self._audit.append(
                conn,
                OperatorCreated(
                    actor=actor,
                    operator_id=operator.id,
                    name=operator.name,
                    role=role.value,
                    token_id=token.id,
                    token_lookup=token.lookup,
                ),
            )
        return operator, token

    async def _issue_token(self, conn: AsyncConnection, operator_id: str) -> IssuedSecret:
        credential = credentials.generate(credentials.OPERATOR_TOKEN_PREFIX)
        token_id = new_id("tok")
        await conn.execute(
            operator_tokens_table.insert().values(
                id=token_id,
                operator_id=operator_id,
                lookup=credential.lookup,
                secret_hash=credentials.keyed_hash(self._secret, credential.value),
                created_at=self._clock.now(),
                expires_at=None,
            )
        )
        return IssuedSecret(id=token_id, secret=credential.value, lookup=credential.lookup)

    async def count(self) -> int:
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(sa.func.count()).select_from(operators_table))
        return int(value or 0)

    async def authenticate(self, token: str) -> Operator | None:
        """The active operator ``token`` belongs to, or ``None``. Never raises for bad input."""
        try:
            credential = credentials.parse(token, credentials.OPERATOR_TOKEN_PREFIX)
        except credentials.MalformedCredential:
            return None
        if credential is None:
            return None
        tokens = operator_tokens_table.c
        query = (
            sa.select(operators_table, tokens.secret_hash, tokens.expires_at, tokens.revoked_at)
            .join(operator_tokens_table, tokens.operator_id == operators_table.c.id)
            .where(tokens.lookup == credential.lookup)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        if not credentials.matches(self._secret, credential.value, bytes(row.secret_hash)):
            return None
        if row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= self._clock.now():
            return None
        operator = Operator.from_row(row)
        return operator if operator.status == "active" else None
