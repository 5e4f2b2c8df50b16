"""Admin API routes for API keys and entitlements."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.identity.entitlements import Entitlements
from clearance.identity.keys import ApiKeys, KeyScope
from clearance.limits.models import Limits


class KeySpec(BaseModel):
    """A key's owner and scopes (the portal's request; the admin API adds ``org``)."""

    model_config = ConfigDict(extra="forbid")

    member: str | None = Field(default=None, max_length=40, description="Owning member id.")
    service_account: str | None = Field(
        default=None, max_length=128, description="Owning service account (default: 'default')."
    )
    models: list[str] | None = Field(default=None, max_length=100)
    purposes: list[str] | None = Field(default=None, max_length=10)
    networks: list[str] | None = Field(default=None, max_length=100, description="CIDR blocks.")
    expires_at: datetime | None = None


class KeyIn(KeySpec):
    org: str = Field(max_length=256, description="Organization name or id.")


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="The secret. Shown only in this response.")
    lookup: str


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    member_id: str | None
    service_account_id: str | None
    lookup: str
    models: list[str] | None
    purposes: list[str] | None
    networks: list[str] | None
    rotated_from: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    last_used_at: datetime | None
    last_used_ip: str | None


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=3600, ge=0, le=30 * 86400, description="How long the old key keeps working."
    )


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=500)


class EntitlementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str = Field(max_length=256)
    model: str = Field(max_length=128)
    purposes: list[str] = Field(default_factory=list, max_length=10)
    expires_at: datetime | None = None
    limits: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Limits by scope (organization, key, owner, end_user), e.g. "
        '{"key": {"rpm": 60}, "organization": {"daily_tokens": 2000000}}',
    )


class EntitlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    org_id: str
    model: str
    purposes: list[str]
    limits: dict[str, dict[str, int]]

    @field_validator("limits", mode="before")
    @classmethod
    def _documents(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: v.document() if isinstance(v, Limits) else v for k, v in value.items()}
        return value

    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None


def keys_router(auth: AdminAuth, keys: ApiKeys, entitlements: Entitlements) -> APIRouter:
    router = APIRouter()
    KeysRead = Annotated[Caller, Depends(auth.requires(P.KEYS_READ))]
    KeysWrite = Annotated[Caller, Depends(auth.requires(P.KEYS_WRITE))]
    KeysRevoke = Annotated[Caller, Depends(auth.requires(P.KEYS_REVOKE))]
    EntRead = Annotated[Caller, Depends(auth.requires(P.ENTITLEMENTS_READ))]
    EntWrite = Annotated[Caller, Depends(auth.requires(P.ENTITLEMENTS_WRITE))]
    Org = Annotated[str | None, Query(max_length=256)]

    @router.get("/keys", tags=["keys"])
    async def list_keys(_c: KeysRead, org: Org = None) -> list[KeyOut]:
        return [KeyOut.model_validate(key) for key in await keys.list(org)]

    @router.post("/keys", status_code=201, tags=["keys"])
    async def create_key(body: KeyIn, caller: KeysWrite) -> KeyCreated:
        scope = KeyScope(body.models, body.purposes, body.networks, body.expires_at)
        issued = await keys.create(caller.actor, body.org, scope, body.member, body.service_account)
        return KeyCreated(id=issued.id, key=issued.secret, lookup=issued.lookup)

    @router.post("/keys/{key_id}/rotate", status_code=201, tags=["keys"])
    async def rotate_key(key_id: str, body: RotateIn, caller: KeysWrite) -> KeyCreated:
        issued = await keys.rotate(caller.actor, key_id, timedelta(seconds=body.grace_seconds))
        return KeyCreated(id=issued.id, key=issued.secret, lookup=issued.lookup)

    @router.post("/keys/{key_id}/revoke", status_code=204, tags=["keys"])
    async def revoke_key(key_id: str, body: RevokeIn, caller: KeysRevoke) -> None:
        await keys.revoke(caller.actor, key_id, body.reason)

    @router.get("/entitlements", tags=["entitlements"])
    async def list_entitlements(_c: EntRead, org: Org = None) -> list[EntitlementOut]:
        return [EntitlementOut.model_validate(e) for e in await entitlements.list(org)]

    @router.post("/entitlements", status_code=201, tags=["entitlements"])
    async def grant(body: EntitlementIn, caller: EntWrite) -> EntitlementOut:
        granted = await entitlements.grant(
            caller.actor, body.org, body.model, body.purposes, body.expires_at, body.limits
        )
        return EntitlementOut.model_validate(granted)

    @router.post("/entitlements/{entitlement_id}/revoke", status_code=204, tags=["entitlements"])
    async def revoke_entitlement(entitlement_id: str, caller: EntWrite) -> None:
        await entitlements.revoke(caller.actor, entitlement_id)

    return router
