"""Signing in with a password and TOTP, enrolling TOTP, sessions and CSRF tokens.

Every account must enrol TOTP: the first sign-in with a correct password returns an
enrolment ticket and a TOTP secret instead of a session, and the session starts only
once a code from the new authenticator is confirmed. Failed attempts are counted per
account; ``max_failed`` in a row lock it for ``lockout``. Session and CSRF tokens are
random and stored only as keyed hashes; cookie sessions must echo the CSRF token on
every state-changing request.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.accounts import totp
from clearance.accounts.models import login_accounts_table, sessions_table
from clearance.accounts.passwords import Passwords, check_strength
from clearance.accounts.sealing import Sealer
from clearance.audit.events import (
    AccountCredentialChanged,
    AccountLocked,
    AccountSignedIn,
    AccountSignedOut,
)
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.errors import AuthFailed
from clearance.identity import credentials
from clearance.ids import new_id

_accounts = login_accounts_table.c
_sessions = sessions_table.c
ENROLMENT_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class LoginPolicy:
    session_ttl: timedelta
    max_failed: int
    lockout: timedelta


@dataclass(frozen=True)
class SignIn:
    """The outcome of a password check: a session, or TOTP enrolment to finish."""

    session_token: str | None = None
    csrf_token: str | None = None
    expires_at: datetime | None = None
    enrolment_ticket: str | None = None
    totp_secret: str | None = None
    totp_uri: str | None = None


@dataclass(frozen=True)
class Session:
    id: str
    account_id: str
    kind: str
    """``operator`` or ``member``."""
    subject_id: str
    csrf_hash: bytes | None
    expires_at: datetime


class Logins:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        passwords: Passwords,
        server_secret: bytes,
        policy: LoginPolicy,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._passwords = passwords
        self._secret = server_secret
        self._sealer = Sealer(server_secret, b"totp")
        self._policy = policy

    # -- accounts ---------------------------------------------------------------------

    async def create(
        self, conn: AsyncConnection, kind: str, subject_id: str, login_name: str, password: str
    ) -> None:
        """Give ``subject_id`` a sign-in account, inside the caller's transaction."""
        password_hash = await asyncio.to_thread(self._passwords.hash, password)
        await conn.execute(
            login_accounts_table.insert().values(
                id=new_id("acct"),
                kind=kind,
                subject_id=subject_id,
                login_name=login_name.lower(),
                password_hash=password_hash,
                updated_at=self._clock.now(),
            )
        )

    async def reset(
        self, conn: AsyncConnection, kind: str, subject_id: str, login_name: str, password: str
    ) -> None:
        """New initial password, TOTP cleared, sessions ended (caller's transaction).
        An identity without a sign-in account (made before accounts existed) gets one."""
        account_id = await conn.scalar(
            sa.select(_accounts.id).where(_accounts.subject_id == subject_id)
        )
        if account_id is None:
            await self.create(conn, kind, subject_id, login_name, password)
            return
        password_hash = await asyncio.to_thread(self._passwords.hash, password)
        await conn.execute(
            login_accounts_table.update()
            .where(_accounts.id == account_id)
            .values(
                password_hash=password_hash,
                totp_seed=None,
                totp_enrolled_at=None,
                last_totp_step=None,
                failed_attempts=0,
                locked_until=None,
                updated_at=self._clock.now(),
            )
        )
        await self.end_sessions(conn, subject_id)

    async def end_sessions(self, conn: AsyncConnection, subject_id: str) -> None:
        accounts = sa.select(_accounts.id).where(_accounts.subject_id == subject_id)
        await conn.execute(
            sessions_table.update()
            .where(_sessions.account_id.in_(accounts.scalar_subquery()))
            .where(_sessions.revoked_at.is_(None))
            .values(revoked_at=self._clock.now())
        )

    # -- signing in -------------------------------------------------------------------

    async def sign_in(
        self, kind: str, login_name: str, password: str, code: str | None, source_ip: str | None
    ) -> SignIn:
        now = self._clock.now()
        account = await self._account(kind, login_name)
        if account is not None and account.locked_until and account.locked_until > now:
            retry = int((account.locked_until - now).total_seconds()) + 1
            raise AuthFailed(
                "account_locked",
                "Too many failed sign-ins; the account is locked. Try again later.",
                423,
                retry,
            )
        stored = account.password_hash if account is not None else None
        if not await asyncio.to_thread(self._passwords.verify, stored, password):
            if account is not None:
                await self._failed(account)
            what = "e-mail address" if kind == "member" else "name"  # what each signs in with
            raise AuthFailed("invalid_credentials", f"Wrong {what} or password.")
        assert account is not None
        if account.totp_enrolled_at is None:
            return await self._start_enrolment(account)
        if not code:
            raise AuthFailed("totp_required", "Enter the 6-digit code from your authenticator.")
        seed = self._sealer.open(bytes(account.totp_seed), account.id)
        step = totp.matching_step(seed, code, now)
        if step is None:
            await self._failed(account)
            raise AuthFailed("invalid_totp", "The authenticator code is wrong or expired.")
        if account.last_totp_step is not None and step <= account.last_totp_step:
            await self._failed(account)
            raise AuthFailed("totp_replayed", "That code was already used; wait for the next one.")
        return await self._start_session(account, step, source_ip)

    async def confirm_enrolment(self, ticket: str, code: str, source_ip: str | None) -> SignIn:
        """Finish TOTP enrolment with a first code; starts a session."""
        session = await self._session(ticket, "enrolment")
        account = await self._account_by_id(session.account_id)
        seed = self._sealer.open(bytes(account.totp_seed), account.id)
        step = totp.matching_step(seed, code, self._clock.now())
        if step is None:
            raise AuthFailed("invalid_totp", "The authenticator code is wrong or expired.")
        return await self._start_session(account, step, source_ip, enrolment=session.id)

    async def change_password(self, subject_id: str, current: str, new: str) -> None:
        account = await self._account_by_subject(subject_id)
        if not await asyncio.to_thread(self._passwords.verify, account.password_hash, current):
            raise AuthFailed("invalid_credentials", "The current password is wrong.")
        check_strength(new, account.login_name)
        password_hash = await asyncio.to_thread(self._passwords.hash, new)
        async with self._db.transaction() as conn:
            await conn.execute(
                login_accounts_table.update()
                .where(_accounts.id == account.id)
                .values(password_hash=password_hash, updated_at=self._clock.now())
            )
            who = f"{account.kind}:{account.subject_id}"
            await self._audit.append(
                conn, AccountCredentialChanged(actor=who, account=who, what="password")
            )

    # -- sessions ---------------------------------------------------------------------

    async def session(self, token: str) -> Session:
        return await self._session(token, "session")

    def check_csrf(self, session: Session, presented: str | None) -> None:
        if not presented:
            raise AuthFailed(
                "csrf_missing", "This request needs the session's CSRF token (X-CSRF-Token).", 403
            )
        if session.csrf_hash is None or not credentials.matches(
            self._secret, presented, session.csrf_hash
        ):
            raise AuthFailed("csrf_invalid", "The CSRF token does not match this session.", 403)

    async def sign_out(self, token: str) -> None:
        """End the session ``token`` names, if it is live (unknown tokens: nothing)."""
        try:
            session = await self.session(token)
        except AuthFailed:
            return
        who = f"{session.kind}:{session.subject_id}"
        async with self._db.transaction() as conn:
            await conn.execute(
                sessions_table.update()
                .where(_sessions.id == session.id)
                .values(revoked_at=self._clock.now())
            )
            await self._audit.append(
                conn, AccountSignedOut(actor=who, account=who, session_id=session.id)
            )

    # -- internals --------------------------------------------------------------------

    async def _account(self, kind: str, login_name: str) -> Any:
        query = sa.select(login_accounts_table).where(
            _accounts.kind == kind, _accounts.login_name == login_name.lower()
        )
        async with self._db.read() as conn:
            return (await conn.execute(query)).first()

    async def _account_by_id(self, account_id: str) -> Any:
        query = sa.select(login_accounts_table).where(_accounts.id == account_id)
        async with self._db.read() as conn:
            return (await conn.execute(query)).one()

    async def _account_by_subject(self, subject_id: str) -> Any:
        query = sa.select(login_accounts_table).where(_accounts.subject_id == subject_id)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise AuthFailed("no_account", "This identity has no sign-in account.")
        return row

    async def _failed(self, account: Any) -> None:
        failures = account.failed_attempts + 1
        who = f"{account.kind}:{account.subject_id}"
        async with self._db.transaction() as conn:
            if failures >= self._policy.max_failed:
                until = self._clock.now() + self._policy.lockout
                values: dict[str, Any] = {"failed_attempts": 0, "locked_until": until}
                await self._audit.append(
                    conn, AccountLocked(actor="system", account=who, until=until)
                )
            else:
                values = {"failed_attempts": failures}
            await conn.execute(
                login_accounts_table.update().where(_accounts.id == account.id).values(**values)
            )

    async def _start_enrolment(self, account: Any) -> SignIn:
        seed = totp.new_secret()
        ticket = secrets.token_urlsafe(32)
        async with self._db.transaction() as conn:
            await conn.execute(
                login_accounts_table.update()
                .where(_accounts.id == account.id)
                .values(totp_seed=self._sealer.seal(seed, account.id), failed_attempts=0)
            )
            await self._insert_session(conn, account.id, "enrolment", ticket, None, ENROLMENT_TTL)
        return SignIn(
            enrolment_ticket=ticket,
            totp_secret=seed,
            totp_uri=totp.provisioning_uri(seed, account.login_name),
        )

    async def _start_session(
        self, account: Any, step: int, source_ip: str | None, enrolment: str | None = None
    ) -> SignIn:
        """Start a session; ``enrolment`` (the ticket's session id) also finishes TOTP
        enrolment, in the same transaction and audit entry."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        ttl = self._policy.session_ttl
        who = f"{account.kind}:{account.subject_id}"
        now = self._clock.now()
        values: dict[str, Any] = {
            "last_totp_step": step,
            "failed_attempts": 0,
            "locked_until": None,
        }
        async with self._db.transaction() as conn:
            if enrolment is not None:
                await conn.execute(
                    sessions_table.update().where(_sessions.id == enrolment).values(revoked_at=now)
                )
                values["totp_enrolled_at"] = now
            session_id = await self._insert_session(conn, account.id, "session", token, csrf, ttl)
            await conn.execute(
                login_accounts_table.update().where(_accounts.id == account.id).values(**values)
            )
            await self._audit.append(
                conn,
                AccountSignedIn(
                    actor=who,
                    account=who,
                    session_id=session_id,
                    source_ip=source_ip,
                    enrolled_totp=enrolment is not None,
                ),
            )
        return SignIn(session_token=token, csrf_token=csrf, expires_at=self._clock.now() + ttl)

    async def _insert_session(
        self,
        conn: AsyncConnection,
        account_id: str,
        kind: str,
        token: str,
        csrf: str | None,
        ttl: timedelta,
    ) -> str:
        session_id = new_id("ses")
        now = self._clock.now()
        await conn.execute(
            sessions_table.insert().values(
                id=session_id,
                token_hash=credentials.keyed_hash(self._secret, token),
                account_id=account_id,
                kind=kind,
                csrf_hash=credentials.keyed_hash(self._secret, csrf) if csrf else None,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        return session_id

    async def _session(self, token: str, kind: str) -> Session:
        token_hash = credentials.keyed_hash(self._secret, token)
        query = (
            sa.select(sessions_table, _accounts.kind.label("account_kind"), _accounts.subject_id)
            .join(login_accounts_table, _accounts.id == _sessions.account_id)
            .where(_sessions.token_hash == token_hash, _sessions.kind == kind)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None or row.revoked_at is not None:
            raise AuthFailed("invalid_session", "Not signed in (the session is unknown or ended).")
        if row.expires_at <= self._clock.now():
            raise AuthFailed("session_expired", "The session has expired; sign in again.")
        return Session(
            id=row.id,
            account_id=row.account_id,
            kind=row.account_kind,
            subject_id=row.subject_id,
            csrf_hash=bytes(row.csrf_hash) if row.csrf_hash is not None else None,
            expires_at=row.expires_at,
        )
