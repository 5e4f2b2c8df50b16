"""Admin API routes for cases and break-glass content views."""

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.monitoring.breakglass import BreakGlass
from clearance.monitoring.cases import Cases


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=256)
    org: str | None = Field(default=None, max_length=256)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(max_length=2000)


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    org_id: str | None
    status: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    resolution: str | None


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(max_length=64)
    justification: str = Field(max_length=2000)


class ContentOut(BaseModel):
    request_id: str
    retained: bool
    content_base64: str | None


def cases_router(auth: AdminAuth, cases: Cases, break_glass: BreakGlass) -> APIRouter:
    router = APIRouter(tags=["cases"])
    Read = Annotated[Caller, Depends(auth.requires(P.CASES_READ))]
    Write = Annotated[Caller, Depends(auth.requires(P.CASES_WRITE))]
    Content = Annotated[Caller, Depends(auth.requires(P.CONTENT_READ))]

    @router.get("/cases")
    async def list_cases(
        _c: Read, status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None
    ) -> list[CaseOut]:
        return [CaseOut.model_validate(case) for case in await cases.list(status)]

    @router.post("/cases", status_code=201)
    async def open_case(body: CaseIn, caller: Write) -> CaseOut:
        return CaseOut.model_validate(await cases.open(caller.actor, body.title, body.org))

    @router.get("/cases/{case_id}")
    async def get_case(case_id: str, _c: Read) -> CaseOut:
        return CaseOut.model_validate(await cases.get(case_id))

    @router.post("/cases/{case_id}/close")
    async def close_case(case_id: str, body: CloseIn, caller: Write) -> CaseOut:
        return CaseOut.model_validate(await cases.close(caller.actor, case_id, body.resolution))

    @router.post("/cases/{case_id}/content")
    async def view_content(case_id: str, body: ContentIn, caller: Content) -> ContentOut:
        """Break-glass: read a request's raw content, with a justification; audited."""
        view = await break_glass.view(caller, case_id, body.request_id, body.justification)
        encoded = base64.b64encode(view.content).decode() if view.content is not None else None
        return ContentOut(
            request_id=view.request_id, retained=view.retained, content_base64=encoded
        )

    return router
