"""Admin API routes for reading the audit log."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from clearance.admin.auth import OperatorDependency
from clearance.audit.services import AuditLog
from clearance.identity.models import Operator


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: datetime
    kind: str
    actor: str
    event: dict[str, Any]


def audit_router(audit: AuditLog, current_operator: OperatorDependency) -> APIRouter:
    router = APIRouter(tags=["audit"])
    Caller = Annotated[Operator, Depends(current_operator)]

    @router.get("/audit")
    async def list_entries(
        _operator: Caller,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditEntryOut]:
        return [
            AuditEntryOut(
                seq=entry.seq,
                recorded_at=entry.recorded_at,
                kind=entry.kind,
                actor=entry.actor,
                event=entry.fields(),
            )
            for entry in await audit.entries(after, limit)
        ]

    return router
