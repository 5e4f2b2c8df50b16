"""Admin API routes for organizations and API keys."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from clearance.admin.auth import OperatorDependency, actor_of
from clearance.identity.models import Operator
from clearance.identity.services import ApiKeys, Organizations


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


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str = Field(max_length=256, description="Organization name or id.")
    models: list[str] | None = Field(
        default=None, max_length=100, description="Models the key may call (default: all)."
    )
    expires_at: datetime | None = None


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="The secret. Shown only in this response.")
    lookup: str


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    lookup: str
    models: list[str] | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None


def identity_router(
    organizations: Organizations, keys: ApiKeys, current_operator: OperatorDependency
) -> APIRouter:
    router = APIRouter()
    Caller = Annotated[Operator, Depends(current_operator)]

    @router.get("/orgs", tags=["organizations"])
    async def list_orgs(_operator: Caller) -> list[OrganizationOut]:
        return [OrganizationOut.model_validate(org) for org in await organizations.list()]

    @router.post("/orgs", status_code=201, tags=["organizations"])
    async def add_org(body: OrganizationIn, operator: Caller) -> OrganizationOut:
        org = await organizations.add_direct(
            actor_of(operator), body.name, body.country, body.reason
        )
        return OrganizationOut.model_validate(org)

    @router.get("/orgs/{org}", tags=["organizations"])
    async def get_org(org: str, _operator: Caller) -> OrganizationOut:
        return OrganizationOut.model_validate(await organizations.get(org))

    @router.get("/keys", tags=["keys"])
    async def list_keys(
        _operator: Caller, org: Annotated[str | None, Query(max_length=256)] = None
    ) -> list[KeyOut]:
        return [KeyOut.model_validate(key) for key in await keys.list(org)]

    @router.post("/keys", status_code=201, tags=["keys"])
    async def create_key(body: KeyIn, operator: Caller) -> KeyCreated:
        issued = await keys.create(actor_of(operator), body.org, body.models, body.expires_at)
        return KeyCreated(id=issued.id, key=issued.secret, lookup=issued.lookup)

    return router
