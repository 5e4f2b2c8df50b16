"""Who is calling the portal: a signed-in officer or admin of an active organization.

Portal sessions are cookies from signing in with e-mail, password and TOTP; requests
that change anything must carry the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from clearance.accounts.logins import Logins
from clearance.errors import AuthFailed, NotAllowed
from clearance.identity.members import PORTAL_ROLES, Members
from clearance.identity.models import Member, MemberRole, OrgStatus, Status
from clearance.identity.organizations import Organizations

PORTAL_COOKIE = "clearance_portal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class PortalCaller:
    member: Member

    @property
    def actor(self) -> str:
        return f"member:{self.member.id}"

    @property
    def org_id(self) -> str:
        return self.member.org_id

    def may_manage(self, role: MemberRole) -> bool:
        """Officers manage admins and members; admins manage members."""
        if self.member.role is MemberRole.OFFICER:
            return role in {MemberRole.ADMIN, MemberRole.MEMBER}
        return role is MemberRole.MEMBER


class PortalAuth:
    def __init__(self, logins: Logins, members: Members, organizations: Organizations) -> None:
        self._logins = logins
        self._members = members
        self._organizations = organizations

    async def caller(self, request: Request) -> PortalCaller:
        cookie = request.cookies.get(PORTAL_COOKIE)
        if not cookie:
            raise AuthFailed("not_signed_in", "Sign in to the portal first.")
        session = await self._logins.session(cookie)
        if session.kind != "member":
            raise AuthFailed("invalid_session", "Not signed in as a member.")
        if request.method not in SAFE_METHODS:
            self._logins.check_csrf(session, request.headers.get("x-csrf-token"))
        member = await self._members.get(session.subject_id)
        if member.status is not Status.ACTIVE or member.role not in PORTAL_ROLES:
            raise NotAllowed("this member may not use the portal")
        org = await self._organizations.get(member.org_id)
        if org.status is not OrgStatus.ACTIVE:
            raise NotAllowed(f"the organization's access is {org.status.value}")
        return PortalCaller(member)
