"""Portal routes, under ``/portal/v1``."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from clearance import __version__
from clearance.accounts.web import (
    EnrolIn,
    MemberLoginIn,
    PasswordIn,
    SignInOut,
    answer,
    source_ip,
)
from clearance.admin import errors
from clearance.admin.reference import reference_route
from clearance.container import Services
from clearance.errors import NotAllowed, NotFound
from clearance.identity.key_views import (
    EntitlementOut,
    KeyCreated,
    KeyOut,
    KeySpec,
    RevokeIn,
    RotateIn,
)
from clearance.identity.keys import KeyScope
from clearance.identity.models import Status
from clearance.identity.views import MemberCreated, MemberIn, MemberOut, ReasonIn
from clearance.portal.auth import PORTAL_COOKIE, PortalAuth, PortalCaller

COOKIE_PATH = "/portal"


def portal_router(services: Services) -> APIRouter:
    router = APIRouter()
    auth = PortalAuth(services.logins, services.members, services.organizations)
    Me = Annotated[PortalCaller, Depends(auth.caller)]
    logins, members, keys = services.logins, services.members, services.keys

    @router.post("/auth/login", tags=["portal auth"])
    async def login(body: MemberLoginIn, request: Request, response: Response) -> SignInOut:
        """Sign in with your e-mail address, password and authenticator code; the first
        time, answers ``enrolment_required`` with a TOTP secret and a ticket instead."""
        result = await logins.sign_in(
            "member", body.email.strip(), body.password, body.totp, source_ip(request)
        )
        return answer(result, response, PORTAL_COOKIE, COOKIE_PATH)

    @router.post("/auth/enrol", tags=["portal auth"])
    async def enrol(body: EnrolIn, request: Request, response: Response) -> SignInOut:
        result = await logins.confirm_enrolment(body.ticket, body.totp, source_ip(request))
        return answer(result, response, PORTAL_COOKIE, COOKIE_PATH)

    @router.post("/auth/logout", status_code=204, tags=["portal auth"])
    async def logout(request: Request, response: Response) -> None:
        cookie = request.cookies.get(PORTAL_COOKIE)
        if cookie:
            await logins.sign_out(cookie)
        response.delete_cookie(PORTAL_COOKIE, path=COOKIE_PATH, secure=True, httponly=True)

    @router.post("/auth/password", status_code=204, tags=["portal auth"])
    async def change_password(body: PasswordIn, me: Me) -> None:
        await logins.change_password(me.member.id, body.current, body.new)

    @router.get("/me", tags=["portal"])
    async def whoami(me: Me) -> MemberOut:
        return MemberOut.model_validate(me.member)

    @router.get("/members", tags=["portal"])
    async def list_members(me: Me) -> list[MemberOut]:
        return [MemberOut.model_validate(m) for m in await members.list(me.org_id)]

    @router.post("/members", status_code=201, tags=["portal"])
    async def add_member(body: MemberIn, me: Me) -> MemberCreated:
        if not me.may_manage(body.role):
            raise NotAllowed(f"a {me.member.role.value} may not add a {body.role.value}")
        member, initial = await members.add(me.actor, me.org_id, body.name, body.email, body.role)
        return MemberCreated(member=MemberOut.model_validate(member), initial_password=initial)

    @router.post("/members/{member_id}/remove", tags=["portal"])
    async def remove_member(member_id: str, body: ReasonIn, me: Me) -> MemberOut:
        target = await members.get(member_id)
        if target.org_id != me.org_id:
            raise NotFound(f"no member {member_id!r}")
        if not me.may_manage(target.role):
            raise NotAllowed(f"a {me.member.role.value} may not remove a {target.role.value}")
        removed = await members.set_status(me.actor, member_id, Status.REMOVED, body.reason)
        return MemberOut.model_validate(removed)

    @router.get("/entitlements", tags=["portal"])
    async def entitlements(me: Me) -> list[EntitlementOut]:
        found = await services.entitlements.list(me.org_id)
        return [EntitlementOut.model_validate(e) for e in found]

    @router.get("/keys", tags=["portal"])
    async def list_keys(me: Me) -> list[KeyOut]:
        return [KeyOut.model_validate(k) for k in await keys.list(me.org_id)]

    @router.post("/keys", status_code=201, tags=["portal"])
    async def create_key(body: KeySpec, me: Me) -> KeyCreated:
        scope = KeyScope(body.models, body.purposes, body.networks, body.expires_at)
        issued = await keys.create(
            me.actor, me.org_id, scope, body.member, body.service_account, within_entitlements=True
        )
        return KeyCreated(id=issued.id, key=issued.secret, lookup=issued.lookup)

    @router.post("/keys/{key_id}/rotate", status_code=201, tags=["portal"])
    async def rotate_key(key_id: str, body: RotateIn, me: Me) -> KeyCreated:
        issued = await keys.rotate(
            me.actor, key_id, timedelta(seconds=body.grace_seconds), me.org_id
        )
        return KeyCreated(id=issued.id, key=issued.secret, lookup=issued.lookup)

    @router.post("/keys/{key_id}/revoke", status_code=204, tags=["portal"])
    async def revoke_key(key_id: str, body: RevokeIn, me: Me) -> None:
        await keys.revoke(me.actor, key_id, body.reason, me.org_id)

    return router


def build_portal_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Clearance organization portal API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI comes from a CDN: the page below needs nothing
        redoc_url=None,
    )
    app.add_route("/docs", reference_route(app.openapi, "openapi.json"), include_in_schema=False)
    errors.install(app)
    app.include_router(portal_router(services), prefix="/v1")
    return app
