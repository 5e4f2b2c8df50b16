"""Who is calling the admin API, and whether their role may do what they ask.

Two ways in: an operator API token (``Authorization: Bearer clro_…``, acting with the
token's role), or a console session cookie set by signing in with password and TOTP —
cookie requests that change anything must also carry the session's CSRF token in
``X-CSRF-Token``. Every route names the one permission it needs (``requires``); the
matrix in ``accounts.permissions`` decides, and anything unlisted is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi import HTTPException, Request

from clearance.accounts.logins import Logins
from clearance.accounts.models import Caller
from clearance.accounts.operators import Operators
from clearance.accounts.permissions import Permission, may, refusal
from clearance.audit.acting import acting
from clearance.errors import AuthFailed

SESSION_COOKIE = "clearance_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CallerDependency = Callable[[Request], AsyncIterator[Caller]]
"""A route's dependency: the caller, with its credential noted for the audit entries
the request appends (``audit.acting``)."""


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"www-authenticate": "Bearer"})


class AdminAuth:
    def __init__(self, operators: Operators, logins: Logins) -> None:
        self._operators = operators
        self._logins = logins

    async def caller(self, request: Request) -> Caller:
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthenticated("Send an operator token as 'Authorization: Bearer <token>'.")
            caller = await self._operators.authenticate(token.strip())
            if caller is None:
                raise _unauthenticated("The operator token is invalid, expired or revoked.")
            return caller
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            session = await self._logins.session(cookie)
            if session.kind != "operator":
                raise AuthFailed("invalid_session", "Not signed in as an operator.")
            if request.method not in SAFE_METHODS:
                self._logins.check_csrf(session, request.headers.get(CSRF_HEADER))
            caller = await self._operators.caller_for_session(session.subject_id, session.id)
            if caller is None:
                raise AuthFailed("invalid_session", "The operator account is disabled.")
            return caller
        raise _unauthenticated(
            "Sign in, or send an operator token as 'Authorization: Bearer <token>'."
        )

    def requires(self, permission: Permission) -> CallerDependency:
        async def dependency(request: Request) -> AsyncIterator[Caller]:
            caller = await self.caller(request)
            if not may(caller, permission):
                raise HTTPException(403, refusal(caller, permission))
            with acting(caller.actor, caller.via):
                yield caller

        dependency.permission = permission  # type: ignore[attr-defined]
        return dependency

    def signed_in(self) -> CallerDependency:
        """Any authenticated operator (for acting on one's own account)."""

        async def dependency(request: Request) -> AsyncIterator[Caller]:
            caller = await self.caller(request)
            with acting(caller.actor, caller.via):
                yield caller

        return dependency

    def own_credentials(self) -> CallerDependency:
        """An operator acting with their whole role — a session, or a token of their
        own role — as managing their credentials needs: a narrowed token (an auditor
        token of an admin, say) cannot change the password or issue tokens."""

        async def dependency(request: Request) -> AsyncIterator[Caller]:
            caller = await self.caller(request)
            if not caller.full_scope:
                raise HTTPException(
                    403,
                    f"This token is scoped to the {caller.role.value} role: it cannot change "
                    "its operator's credentials. Sign in, or use a token of your own role.",
                )
            with acting(caller.actor, caller.via):
                yield caller

        return dependency
