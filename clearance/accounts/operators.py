"""Operator accounts: creating them, their role-scoped expiring API tokens, disabling and
resetting them, and authenticating a presented token."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.accounts import passwords
from clearance.accounts.logins import Logins
from clearance.accounts.models import (
    Caller,
    Operator,
    OperatorRole,
    OperatorToken,
    operator_tokens_table,
    operators_table,
)
from clearance.accounts.permissions import MATRIX, granted, may_scope_token
from clearance.audit.events import (
    OperatorCreated,
    OperatorCredentialsReset,
    OperatorStatusChanged,
    OperatorTokenIssued,
    OperatorTokenRevoked,
)
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound
from clearance.identity import credentials
from clearance.identity.models import IssuedSecret
from clearance.ids import new_id

_ops = operators_table.c
_tokens = operator_tokens_table.c
ACCOUNT_KIND = "operator"


class Operators:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        logins: Logins,
        server_secret: bytes,
        token_days: int,
        max_token_days: int,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._logins = logins
        self._secret = server_secret
        self._token_days = token_days
        self._max_token_days = max_token_days

    async def create(
        self, actor: str, name: str, role: OperatorRole, with_token: bool = False
    ) -> tuple[Operator, str, IssuedSecret | None]:
        """Create an operator with an initial password (and, for bootstrap, a token);
        both are returned this once."""
        operator = Operator(
            id=new_id("op"),
            name=validation.slug(name, "name"),
            role=role,
            status="active",
            created_at=self._clock.now(),
            created_by=actor,
        )
        initial = passwords.generate()
        async with self._db.transaction() as conn:
            if await conn.scalar(sa.select(_ops.id).where(_ops.name == operator.name)):
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
            await self._logins.create(conn, ACCOUNT_KIND, operator.id, operator.name, initial)
            expires = self._clock.now() + timedelta(days=self._token_days)
            token = (
                await self._insert_token(conn, operator.id, role, expires) if with_token else None
            )
            await self._audit.append(
                conn,
                OperatorCreated(
                    actor=actor,
                    operator_id=operator.id,
                    name=operator.name,
                    role=role.value,
                    token_id=token.id if token else None,
                    token_lookup=token.lookup if token else None,
                ),
            )
        return operator, initial, token

    async def get(self, name_or_id: str) -> Operator:
        query = sa.select(operators_table).where(
            sa.or_(_ops.id == name_or_id, _ops.name == name_or_id)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no operator named {name_or_id!r}")
        return Operator.from_row(row)

    async def all(self) -> list[Operator]:
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(operators_table).order_by(_ops.name))
            return [Operator.from_row(row) for row in rows]

    async def count(self) -> int:
        async with self._db.read() as conn:
            value = await conn.scalar(sa.select(sa.func.count()).select_from(operators_table))
        return int(value or 0)

    async def set_status(self, actor: str, name_or_id: str, status: str) -> Operator:
        """``disabled`` ends the operator's sessions and tokens; ``active`` restores."""
        if status not in {"active", "disabled"}:
            raise InvalidInput("status must be active or disabled", "status")
        operator = await self.get(name_or_id)
        if f"operator:{operator.id}" == actor and status == "disabled":
            raise NotAllowed("operators cannot disable themselves")
        async with self._db.transaction() as conn:
            await conn.execute(
                operators_table.update().where(_ops.id == operator.id).values(status=status)
            )
            if status == "disabled":
                await self._logins.end_sessions(conn, operator.id)
                await self._revoke_all_tokens(conn, operator.id)
            await self._audit.append(
                conn, OperatorStatusChanged(actor=actor, operator_id=operator.id, status=status)
            )
        return await self.get(operator.id)

    async def reset(self, actor: str, name_or_id: str) -> str:
        """New initial password; TOTP must be enrolled again; sessions and tokens end."""
        operator = await self.get(name_or_id)
        initial = passwords.generate()
        async with self._db.transaction() as conn:
            await self._logins.reset(conn, ACCOUNT_KIND, operator.id, operator.name, initial)
            await self._revoke_all_tokens(conn, operator.id)
            await self._audit.append(
                conn, OperatorCredentialsReset(actor=actor, operator_id=operator.id)
            )
        return initial

    # -- tokens -----------------------------------------------------------------------

    async def issue_token(
        self,
        caller: Caller,
        role: OperatorRole | None = None,
        days: int | None = None,
        label: str | None = None,
    ) -> tuple[OperatorToken, IssuedSecret]:
        """A new API token for the calling operator, acting as ``role`` (theirs, or the
        read-only auditor role) and expiring after ``days``. Only a request acting with
        the operator's whole role may: a narrowed token cannot mint another, which
        would outlive its own revocation."""
        if not caller.full_scope:
            raise NotAllowed(
                f"a token scoped to the {caller.role} role cannot issue tokens: sign in, "
                f"or use a token of your {caller.operator.role} role"
            )
        role = role or caller.operator.role
        if not may_scope_token(caller.operator.role, role):
            raise NotAllowed(
                f"a {caller.operator.role} may only make {caller.operator.role} or auditor tokens"
            )
        days = days or self._token_days
        if not 1 <= days <= self._max_token_days:
            raise InvalidInput(f"days must be between 1 and {self._max_token_days}", "days")
        if label is not None:
            label = validation.display_name(label, "label", 128)
        expires = self._clock.now() + timedelta(days=days)
        async with self._db.transaction() as conn:
            issued = await self._insert_token(conn, caller.operator.id, role, expires, label)
            await self._audit.append(
                conn,
                OperatorTokenIssued(
                    actor=caller.actor,
                    operator_id=caller.operator.id,
                    token_id=issued.id,
                    lookup=issued.lookup,
                    role=role.value,
                    expires_at=expires,
                ),
            )
        (token,) = [t for t in await self.tokens(caller.operator.id) if t.id == issued.id]
        return token, issued

    async def tokens(self, operator_id: str) -> list[OperatorToken]:
        query = (
            sa.select(operator_tokens_table)
            .where(_tokens.operator_id == operator_id)
            .order_by(_tokens.created_at)
        )
        async with self._db.read() as conn:
            return [OperatorToken.from_row(row) for row in await conn.execute(query)]

    async def revoke_token(self, caller: Caller, token_id: str) -> None:
        """Revoke one of the caller's own tokens. A narrowed token may revoke itself and
        other tokens no wider than itself, never its operator's wider ones."""
        async with self._db.transaction() as conn:
            role = await conn.scalar(
                sa.select(_tokens.role).where(
                    _tokens.id == token_id, _tokens.operator_id == caller.operator.id
                )
            )
            if role is not None and not MATRIX[OperatorRole(role)] <= granted(
                caller.operator.role, caller.role
            ):
                raise NotAllowed(
                    f"a token scoped to the {caller.role} role cannot revoke a {role} token"
                )
            result = await conn.execute(
                operator_tokens_table.update()
                .where(_tokens.id == token_id, _tokens.operator_id == caller.operator.id)
                .where(_tokens.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )
            if result.rowcount == 0:
                raise NotFound(f"you have no active token {token_id!r}")
            await self._audit.append(
                conn,
                OperatorTokenRevoked(
                    actor=caller.actor, operator_id=caller.operator.id, token_id=token_id
                ),
            )

    async def authenticate(self, token: str) -> Caller | None:
        """The caller a presented token acts as, or None. Never raises for bad input."""
        try:
            credential = credentials.parse(token, credentials.OPERATOR_TOKEN_PREFIX)
        except credentials.MalformedCredential:
            return None
        if credential is None:
            return None
        query = (
            sa.select(
                operators_table,
                _tokens.id.label("token_id"),
                _tokens.role.label("token_role"),
                _tokens.secret_hash,
                _tokens.expires_at,
                _tokens.revoked_at,
            )
            .join(operator_tokens_table, _tokens.operator_id == _ops.id)
            .where(_tokens.lookup == credential.lookup)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or not credentials.matches(
            self._secret, credential.value, bytes(row.secret_hash)
        ):
            return None
        if row.revoked_at is not None or (
            row.expires_at is not None and row.expires_at <= self._clock.now()
        ):
            return None
        operator = Operator.from_row(row)
        if operator.status != "active":
            return None
        return Caller(
            operator=operator, role=OperatorRole(row.token_role), via=f"token:{row.token_id}"
        )

    async def caller_for_session(self, operator_id: str, session_id: str) -> Caller | None:
        operator = await self.get(operator_id)
        if operator.status != "active":
            return None
        return Caller(operator=operator, role=operator.role, via=f"session:{session_id}")

    async def _insert_token(
        self,
        conn: AsyncConnection,
        operator_id: str,
        role: OperatorRole,
        expires_at: datetime | None,
        label: str | None = None,
    ) -> IssuedSecret:
        credential = credentials.generate(credentials.OPERATOR_TOKEN_PREFIX)
        token_id = new_id("tok")
        await conn.execute(
            operator_tokens_table.insert().values(
                id=token_id,
                operator_id=operator_id,
                lookup=credential.lookup,
                secret_hash=credentials.keyed_hash(self._secret, credential.value),
                role=role.value,
                label=label,
                created_at=self._clock.now(),
                expires_at=expires_at,
            )
        )
        return IssuedSecret(id=token_id, secret=credential.value, lookup=credential.lookup)

    async def _revoke_all_tokens(self, conn: AsyncConnection, operator_id: str) -> None:
        await conn.execute(
            operator_tokens_table.update()
            .where(_tokens.operator_id == operator_id, _tokens.revoked_at.is_(None))
            .values(revoked_at=self._clock.now())
        )
