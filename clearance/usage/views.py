"""Admin API routes for reading usage records."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.errors import NotFound
from clearance.usage.services import UsageQueries


class UsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: str
    started_at: datetime
    org_id: str
    key_id: str
    end_user: str | None
    source_ip: str | None
    endpoint: str
    model: str | None
    status_code: int
    error_code: str | None
    policies: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    latency_ms: float | None
    streamed: bool
    """A streamed response: while it runs (or if the server died during it) its token
    counts and latency are still empty."""
    categories: str | None = None
    """Content signals the gateway's screening flagged (``cyber,jailbreak``), if any."""


def usage_router(auth: AdminAuth, usage: UsageQueries) -> APIRouter:
    router = APIRouter(tags=["usage"])
    Read = Annotated[Caller, Depends(auth.requires(P.USAGE_READ))]

    @router.get("/usage")
    async def recent_usage(
        _c: Read,
        org: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[UsageOut]:
        return [UsageOut.model_validate(record) for record in await usage.recent(org, limit)]

    @router.get("/usage/{request_id}", responses={404: {"description": "No such request"}})
    async def one_request(_c: Read, request_id: Annotated[str, Path(max_length=64)]) -> UsageOut:
        record = await usage.get(request_id)
        if record is None:
            raise NotFound(f"no usage record for request {request_id!r}")
        return UsageOut.model_validate(record)

    return router
