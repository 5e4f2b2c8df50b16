"""Admin API routes for organizations, their members, service accounts and end users."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.identity.end_users import EndUsers
from clearance.identity.members import Members, ServiceAccounts
from clearance.identity.models import MemberRole, OrgStatus, Status, Verification
from clearance.identity.organizations import Organizations


class OrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=256, description="Legal name, in any script.")
    country: str = Field(max_length=2, description="ISO 3166-1 alpha-2 code.")
    reason: str = Field(
        max_length=2000, description="Why vetting is bypassed; kept in the audit log."
    )


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    country: str
    status: str
    admission: str
    admission_reason: str
    created_at: datetime
    created_by: str


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=256)
    email: str = Field(max_length=320)
    role: MemberRole = MemberRole.MEMBER


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    name: str
    email: str
    role: MemberRole
    verification: Verification
    status: Status
    created_at: datetime


class MemberCreated(BaseModel):
    member: MemberOut
    initial_password: str | None = Field(
        description="Portal password for officers and admins; shown only in this response."
    )


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Verification


class ServiceAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)


class ServiceAccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    name: str
    status: Status
    created_at: datetime


class EndUserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    external_id: str
    status: Status
    status_reason: str | None
    first_seen: datetime
    last_seen: datetime


class EndUserStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(max_length=256, description="The id the organization sends.")
    status: Status
    reason: str = Field(max_length=2000)


def organizations_router(
    auth: AdminAuth,
    organizations: Organizations,
    members: Members,
    service_accounts: ServiceAccounts,
    end_users: EndUsers,
) -> APIRouter:
    router = APIRouter()
    OrgsRead = Annotated[Caller, Depends(auth.requires(P.ORGS_READ))]
    OrgsWrite = Annotated[Caller, Depends(auth.requires(P.ORGS_WRITE))]
    MembersRead = Annotated[Caller, Depends(auth.requires(P.MEMBERS_READ))]
    MembersWrite = Annotated[Caller, Depends(auth.requires(P.MEMBERS_WRITE))]
    MembersVerify = Annotated[Caller, Depends(auth.requires(P.MEMBERS_VERIFY))]
    EndUsersRead = Annotated[Caller, Depends(auth.requires(P.END_USERS_READ))]
    EndUsersSuspend = Annotated[Caller, Depends(auth.requires(P.END_USERS_SUSPEND))]

    @router.get("/orgs", tags=["organizations"])
    async def list_orgs(_c: OrgsRead) -> list[OrganizationOut]:
        return [OrganizationOut.model_validate(org) for org in await organizations.list()]

    @router.post("/orgs", status_code=201, tags=["organizations"])
    async def add_org(body: OrganizationIn, caller: OrgsWrite) -> OrganizationOut:
        org = await organizations.add_direct(caller.actor, body.name, body.country, body.reason)
        return OrganizationOut.model_validate(org)

    @router.get("/orgs/{org}", tags=["organizations"])
    async def get_org(org: str, _c: OrgsRead) -> OrganizationOut:
        return OrganizationOut.model_validate(await organizations.get(org))

    OrgsSuspend = Annotated[Caller, Depends(auth.requires(P.ORGS_SUSPEND))]

    def org_status_route(status: OrgStatus) -> Callable[..., Awaitable[OrganizationOut]]:
        async def change(org: str, body: ReasonIn, caller: OrgsSuspend) -> OrganizationOut:
            return OrganizationOut.model_validate(
                await organizations.set_status(caller.actor, org, status, body.reason)
            )

        return change

    for verb, org_status in (
        ("suspend", OrgStatus.SUSPENDED),
        ("reinstate", OrgStatus.ACTIVE),
        ("revoke", OrgStatus.REVOKED),
    ):
        router.add_api_route(
            f"/orgs/{{org}}/{verb}",
            org_status_route(org_status),
            methods=["POST"],
            tags=["organizations"],
            name=f"{verb}_org",
        )

    @router.get("/orgs/{org}/members", tags=["members"])
    async def list_members(org: str, _c: MembersRead) -> list[MemberOut]:
        return [MemberOut.model_validate(m) for m in await members.list(org)]

    @router.post("/orgs/{org}/members", status_code=201, tags=["members"])
    async def add_member(org: str, body: MemberIn, caller: MembersWrite) -> MemberCreated:
        member, initial = await members.add(caller.actor, org, body.name, body.email, body.role)
        return MemberCreated(member=MemberOut.model_validate(member), initial_password=initial)

    @router.post("/members/{member_id}/verify", tags=["members"])
    async def verify_member(member_id: str, body: VerifyIn, caller: MembersVerify) -> MemberOut:
        return MemberOut.model_validate(await members.verify(caller.actor, member_id, body.level))

    def member_status_route(status: Status, permission: P) -> Callable[..., Awaitable[MemberOut]]:
        Allowed = Annotated[Caller, Depends(auth.requires(permission))]

        async def change(member_id: str, body: ReasonIn, caller: Allowed) -> MemberOut:
            return MemberOut.model_validate(
                await members.set_status(caller.actor, member_id, status, body.reason)
            )

        return change

    for verb, member_status, permission in (
        ("suspend", Status.SUSPENDED, P.MEMBERS_SUSPEND),
        ("reinstate", Status.ACTIVE, P.MEMBERS_SUSPEND),
        ("remove", Status.REMOVED, P.MEMBERS_WRITE),
    ):
        router.add_api_route(
            f"/members/{{member_id}}/{verb}",
            member_status_route(member_status, permission),
            methods=["POST"],
            tags=["members"],
            name=f"{verb}_member",
        )

    @router.get("/orgs/{org}/service-accounts", tags=["members"])
    async def list_service_accounts(org: str, _c: MembersRead) -> list[ServiceAccountOut]:
        return [ServiceAccountOut.model_validate(a) for a in await service_accounts.list(org)]

    @router.post("/orgs/{org}/service-accounts", status_code=201, tags=["members"])
    async def add_service_account(
        org: str, body: ServiceAccountIn, caller: MembersWrite
    ) -> ServiceAccountOut:
        return ServiceAccountOut.model_validate(
            await service_accounts.add(caller.actor, org, body.name)
        )

    @router.get("/orgs/{org}/end-users", tags=["end users"])
    async def list_end_users(org: str, _c: EndUsersRead) -> list[EndUserOut]:
        return [EndUserOut.model_validate(u) for u in await end_users.list(org)]

    @router.post("/orgs/{org}/end-users/status", tags=["end users"])
    async def set_end_user_status(
        org: str, body: EndUserStatusIn, caller: EndUsersSuspend
    ) -> EndUserOut:
        user = await end_users.set_status(caller.actor, org, body.user, body.status, body.reason)
        return EndUserOut.model_validate(user)

    return router
