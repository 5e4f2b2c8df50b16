"""Admin API routes for the monitoring plane: alerts, enforcement, appeals,
organizations' webhooks, topic summaries and the monitor's own state."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.container import Services
from clearance.monitoring.progress import monitor_state
from clearance.monitoring.summaries import topic_summary
from clearance.monitoring.topics import to_document


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonIn(_In):
    reason: str = Field(max_length=2000)


class AlertCaseIn(_In):
    case_id: str = Field(max_length=64)
    reason: str = Field(default="", max_length=2000)


class ActionIn(_In):
    action: str = Field(max_length=16)
    scope: str = Field(max_length=16)
    org: str = Field(max_length=256)
    target: str = Field(default="", max_length=256)
    reason: str = Field(max_length=2000)
    rpm: int | None = None
    minutes: float | None = None
    alert_id: str | None = Field(default=None, max_length=64)
    case_id: str | None = Field(default=None, max_length=64)


class AppealIn(_In):
    action_id: str = Field(max_length=64)
    statement: str = Field(max_length=8000)


class DecisionIn(_In):
    outcome: str = Field(pattern="^(upheld|denied)$")
    reason: str = Field(max_length=2000)


class WebhookIn(_In):
    url: str | None = Field(max_length=2048)


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    raised_at: datetime
    detector: str
    severity: str
    org_id: str | None
    key_id: str | None
    end_user: str | None
    summary: str
    evidence: dict[str, Any]
    status: str
    case_id: str | None
    reviewed_by: str | None


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    taken_at: datetime
    taken_by: str
    kind: str
    scope: str
    org_id: str
    target: str
    reason: str
    rpm: int | None
    expires_at: datetime | None
    alert_id: str | None
    case_id: str | None
    status: str
    reversed_at: datetime | None
    reversed_by: str | None
    reversal_reason: str | None
    overturned: bool


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    action_id: str
    filed_at: datetime
    filed_by: str
    statement: str
    status: str
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


def monitoring_router(auth: AdminAuth, s: Services) -> APIRouter:
    router = APIRouter(tags=["monitoring"])
    Read = Annotated[Caller, Depends(auth.requires(P.CASES_READ))]
    Write = Annotated[Caller, Depends(auth.requires(P.CASES_WRITE))]
    Usage = Annotated[Caller, Depends(auth.requires(P.USAGE_READ))]
    Orgs = Annotated[Caller, Depends(auth.requires(P.ORGS_WRITE))]

    @router.get("/monitor/alerts")
    async def list_alerts(
        _c: Read,
        status: Annotated[str | None, Query(pattern="^(open|dismissed|in_case)$")] = None,
        org: Annotated[str | None, Query(max_length=256)] = None,
    ) -> list[AlertOut]:
        org_id = (await s.organizations.get(org)).id if org else None
        return [AlertOut.model_validate(a) for a in await s.alerts.list(status, org_id)]

    @router.get("/monitor/alerts/{alert_id}")
    async def get_alert(alert_id: str, _c: Read) -> AlertOut:
        return AlertOut.model_validate(await s.alerts.get(alert_id))

    @router.post("/monitor/alerts/{alert_id}/dismiss")
    async def dismiss_alert(alert_id: str, body: ReasonIn, caller: Write) -> AlertOut:
        return AlertOut.model_validate(await s.alerts.dismiss(caller.actor, alert_id, body.reason))

    @router.post("/monitor/alerts/{alert_id}/case")
    async def alert_to_case(alert_id: str, body: AlertCaseIn, caller: Write) -> AlertOut:
        alert = await s.alerts.to_case(caller.actor, alert_id, body.case_id, body.reason)
        return AlertOut.model_validate(alert)

    @router.get("/enforcement")
    async def list_actions(
        _c: Read,
        org: Annotated[str | None, Query(max_length=256)] = None,
        status: Annotated[str | None, Query(pattern="^(active|reversed)$")] = None,
    ) -> list[ActionOut]:
        return [ActionOut.model_validate(a) for a in await s.enforcement.list(org, status)]

    @router.post("/enforcement", status_code=201)
    async def take_action(body: ActionIn, caller: Write) -> ActionOut:
        action = await s.enforcement.take(
            caller.actor,
            body.action,
            body.scope,
            body.org,
            body.target,
            body.reason,
            rpm=body.rpm,
            minutes=body.minutes,
            alert_id=body.alert_id,
            case_id=body.case_id,
        )
        return ActionOut.model_validate(action)

    @router.get("/enforcement/{action_id}")
    async def get_action(action_id: str, _c: Read) -> ActionOut:
        return ActionOut.model_validate(await s.enforcement.get(action_id))

    @router.post("/enforcement/{action_id}/reverse")
    async def reverse_action(action_id: str, body: ReasonIn, caller: Write) -> ActionOut:
        action = await s.enforcement.reverse(caller.actor, action_id, body.reason)
        return ActionOut.model_validate(action)

    @router.get("/enforcement-appeals")
    async def list_appeals(
        _c: Read, status: Annotated[str | None, Query(pattern="^(pending|upheld|denied)$")] = None
    ) -> list[AppealOut]:
        return [AppealOut.model_validate(a) for a in await s.appeals.list(status)]

    @router.post("/enforcement-appeals", status_code=201)
    async def file_appeal(body: AppealIn, caller: Write) -> AppealOut:
        appeal = await s.appeals.file(caller.actor, body.action_id, body.statement)
        return AppealOut.model_validate(appeal)

    @router.get("/enforcement-appeals/stats")
    async def appeal_stats(_c: Read) -> dict[str, int]:
        return await s.appeals.overturned()

    @router.post("/enforcement-appeals/{appeal_id}/decide")
    async def decide_appeal(appeal_id: str, body: DecisionIn, caller: Write) -> AppealOut:
        appeal = await s.appeals.decide(caller.actor, appeal_id, body.outcome, body.reason)
        return AppealOut.model_validate(appeal)

    @router.put("/orgs/{org}/webhook")
    async def set_webhook(org: str, body: WebhookIn, caller: Orgs) -> dict[str, str | None]:
        secret = await s.notifier.set_webhook(caller.actor, org, body.url)
        return {"url": body.url, "secret": secret}

    @router.get("/monitor/topics")
    async def topics(
        _c: Usage,
        org: Annotated[str, Query(max_length=256)],
        model: Annotated[str | None, Query(max_length=128)] = None,
        days: Annotated[float, Query(gt=0, le=366)] = 30,
        min_size: Annotated[int, Query(ge=5, le=10_000)] = 10,
    ) -> dict[str, Any]:
        since = s.clock.now() - timedelta(days=days)
        summary = await topic_summary(s.db, org, model, since, min_size)
        return to_document(summary)

    @router.get("/monitor")
    async def monitor(_c: Read) -> dict[str, Any]:
        state = await monitor_state(s.db)
        if s.monitor_process is not None:  # this server process's hand-over
            state["process"] = {
                "pid": s.monitor_process.pid,
                "starts": s.monitor_process.starts,
                "texts_undelivered": s.monitor_process.undelivered,
            }
        return state

    return router
