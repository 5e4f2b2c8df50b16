"""Admin API routes for vetting: applications and every step of their review, screening
hits and list checks, appeals, terms of access, alerts and re-vetting."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.screening.service import Screening
from clearance.vetting.aftercare import Aftercare
from clearance.vetting.applications import Applications
from clearance.vetting.checks import Checks
from clearance.vetting.decisions import Decisions


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


class AdjudicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: str = Field(pattern="^(true_match|false_positive)$")
    reason: str = Field(max_length=2000)


class DomainProofIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = Field(pattern="^(dns|http)$")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purposes: list[str] | None = Field(default=None, max_length=10)
    limits: dict[str, dict[str, int]] | None = None


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grounds: str = Field(max_length=4000)


class AppealDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upheld: bool
    reason: str = Field(max_length=2000)


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=64)
    text: str = Field(max_length=200_000)


def vetting_router(
    auth: AdminAuth,
    applications: Applications,
    checks: Checks,
    decisions: Decisions,
    aftercare: Aftercare,
    screening: Screening,
    reminder_days: int,
) -> APIRouter:
    router = APIRouter(tags=["vetting"])
    Read = Annotated[Caller, Depends(auth.requires(P.APPLICATIONS_READ))]
    Write = Annotated[Caller, Depends(auth.requires(P.APPLICATIONS_WRITE))]
    Review = Annotated[Caller, Depends(auth.requires(P.APPLICATIONS_REVIEW))]
    Approve = Annotated[Caller, Depends(auth.requires(P.APPLICATIONS_APPROVE))]
    Provision = Annotated[Caller, Depends(auth.requires(P.ORGS_WRITE))]
    Suspend = Annotated[Caller, Depends(auth.requires(P.ORGS_SUSPEND))]
    Terms = Annotated[Caller, Depends(auth.requires(P.POLICY_WRITE))]

    @router.post("/applications", status_code=201)
    async def submit(caller: Write, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """Submit an application (the form's fields: see the README)."""
        return (await applications.submit(caller.actor, body)).document()

    @router.get("/applications")
    async def list_applications(
        _c: Read, status: Annotated[str | None, Query(max_length=16)] = None
    ) -> list[dict[str, Any]]:
        return [app.document() for app in await applications.list(status)]

    @router.get("/applications/{application_id}")
    async def get_application(application_id: str, _c: Read) -> dict[str, Any]:
        app = await applications.get(application_id)
        return {
            **app.document(),
            "hits": [h.document() for h in await applications.hits(application_id)],
            "history": await applications.history(application_id),
            "appeals": await aftercare.appeals(application_id),
        }

    @router.post("/applications/{application_id}/screen")
    async def screen(application_id: str, caller: Review) -> dict[str, Any]:
        app, hits = await applications.screen(caller.actor, application_id)
        return {**app.document(), "hits": [h.document() for h in hits]}

    @router.post("/screening/hits/{hit_id}/adjudicate")
    async def adjudicate(hit_id: str, body: AdjudicationIn, caller: Review) -> dict[str, Any]:
        hit = await screening.adjudicate(caller.actor, hit_id, body.decision, body.reason)
        return hit.document()

    @router.get("/screening/check")
    async def check(
        _c: Read,
        name: Annotated[str, Query(max_length=512)],
        country: Annotated[str | None, Query(max_length=2)] = None,
    ) -> list[dict[str, Any]]:
        return [m.document() for m in await screening.check(name, country)]

    @router.get("/alerts")
    async def alerts(
        _c: Read, status: Annotated[str | None, Query(pattern="^(open|closed)$")] = "open"
    ) -> list[dict[str, Any]]:
        return [a.document() for a in await screening.alerts(status)]

    @router.post("/applications/{application_id}/domain-challenge")
    async def domain_challenge(application_id: str, caller: Review) -> dict[str, Any]:
        challenge = await checks.domain_challenge(caller.actor, application_id)
        return {
            "domain": challenge.domain,
            "dns": {"name": challenge.dns_name, "type": "TXT", "value": challenge.dns_value},
            "http": {"url": challenge.http_url, "content": challenge.token},
        }

    @router.post("/applications/{application_id}/verify-domain")
    async def verify_domain(
        application_id: str, body: DomainProofIn, caller: Review
    ) -> dict[str, Any]:
        result = await checks.verify_domain(caller.actor, application_id, body.method)
        return {"verified": result.verified, "method": result.method, "detail": result.detail}

    @router.post("/applications/{application_id}/email-link")
    async def email_link(application_id: str, caller: Review) -> dict[str, str]:
        return {"sent_to": await checks.send_email_link(caller.actor, application_id)}

    @router.post("/applications/{application_id}/approve")
    async def approve(application_id: str, body: ApproveIn, caller: Approve) -> dict[str, Any]:
        return (
            await decisions.approve(caller, application_id, body.purposes, body.limits)
        ).document()

    @router.post("/applications/{application_id}/reject")
    async def reject(application_id: str, body: ReasonIn, caller: Review) -> dict[str, Any]:
        return (await decisions.reject(caller.actor, application_id, body.reason)).document()

    @router.post("/applications/{application_id}/revet")
    async def revet(application_id: str, body: ReasonIn, caller: Review) -> dict[str, Any]:
        return (await decisions.revet(caller.actor, application_id, body.reason)).document()

    @router.post("/applications/{application_id}/provision")
    async def provision(application_id: str, caller: Provision) -> dict[str, Any]:
        app, password = await decisions.provision(caller.actor, application_id)
        return {**app.document(), "officer_initial_password": password}

    @router.post("/applications/{application_id}/activate")
    async def activate(application_id: str, caller: Provision) -> dict[str, Any]:
        return (await decisions.activate(caller.actor, application_id)).document()

    @router.post("/applications/{application_id}/suspend")
    async def suspend(application_id: str, body: ReasonIn, caller: Suspend) -> dict[str, Any]:
        return (await decisions.suspend(caller.actor, application_id, body.reason)).document()

    @router.post("/applications/{application_id}/reinstate")
    async def reinstate(application_id: str, body: ReasonIn, caller: Suspend) -> dict[str, Any]:
        return (await decisions.reinstate(caller.actor, application_id, body.reason)).document()

    @router.post("/applications/{application_id}/revoke")
    async def revoke(application_id: str, body: ReasonIn, caller: Suspend) -> dict[str, Any]:
        return (await decisions.revoke(caller.actor, application_id, body.reason)).document()

    @router.post("/applications/{application_id}/appeals", status_code=201)
    async def appeal(application_id: str, body: AppealIn, caller: Write) -> dict[str, Any]:
        return await aftercare.appeal(caller.actor, application_id, body.grounds)

    @router.post("/appeals/{appeal_id}/decide")
    async def decide(appeal_id: str, body: AppealDecisionIn, caller: Approve) -> dict[str, Any]:
        return await aftercare.decide_appeal(caller.actor, appeal_id, body.upheld, body.reason)

    @router.post("/terms", status_code=201)
    async def publish_terms(body: TermsIn, caller: Terms) -> dict[str, str]:
        terms = await checks.publish_terms(caller.actor, body.version, body.text)
        return {"version": terms.version, "sha256": terms.sha256}

    @router.post("/revetting")
    async def revetting(caller: Suspend) -> dict[str, list[str]]:
        """Expire approvals past their re-vetting date; remind those soon due."""
        return await aftercare.revetting(caller.actor, timedelta(days=reminder_days))

    return router
