"""Admin API routes for reading usage records."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from clearance.admin.auth import OperatorDependency
from clearance.identity.models import Operator
from clearance.usage.services import UsageQueries


class UsageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: str
    started_at: datetime
    org_id: str
    key_id: str
    endpoint: str
    model: str | None
    status_code: int
    error_code: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    latency_ms: float | None


def usage_router(usage: UsageQueries, current_operator: OperatorDependency) -> APIRouter:
    router = APIRouter(tags=["usage"])
    Caller = Annotated[Operator, Depends(current_operator)]

    @router.get("/usage")
    async def recent_usage(
        _operator: Caller,
        org: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[UsageOut]:
        return [UsageOut.model_validate(record) for record in await usage.recent(org, limit)]

    return router
