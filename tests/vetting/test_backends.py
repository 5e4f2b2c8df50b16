"""Vetting on each storage backend (SQLite and PostgreSQL): the whole decision path,
two approvals arriving at the same moment, and list snapshots in import order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from clearance.accounts.models import Caller, OperatorRole
from clearance.container import Services
from clearance.registry.models import ModelSpec
from clearance.vetting.models import applications_table
from clearance.vetting.states import AppStatus
from tests.vetting.test_vetting_flow import form

ACTOR = "local:test"
FIXTURES = Path(__file__).parents[1] / "screening" / "fixtures"


async def approver(services: Services, name: str) -> Caller:
    operator, _, _ = await services.operators.create(ACTOR, name, OperatorRole.APPROVER)
    return Caller(operator=operator, role=OperatorRole.APPROVER, via="test")


async def test_from_application_to_active_organization(
    services: Services, upstream_url: str
) -> None:
    s = services
    spec = ModelSpec(upstream_url, "echo", risk={"cyber": "OpenAI:High"})
    await s.models.add(ACTOR, "cyber-pro", spec)
    await s.vetting_checks.publish_terms(ACTOR, "v1", "Terms.")
    await s.screening.import_file(ACTOR, FIXTURES / "csl.csv", "csl")
    app = await s.applications.submit(ACTOR, form(legal_name="Романов и партнёры"))
    screened, hits = await s.applications.screen("operator:rev", app.id)
    assert screened.status is AppStatus.IN_REVIEW
    assert [h.subject for h in hits] == ["officer"]
    await s.screening.adjudicate("operator:rev", hits[0].id, "false_positive", "other person")
    async with s.db.transaction() as conn:  # the proofs are covered end to end elsewhere
        now = (await s.applications.get(app.id)).updated_at
        await conn.execute(
            applications_table.update()
            .where(applications_table.c.id == app.id)
            .values(domain_verified_at=now, email_verified_at=now, terms_accepted_at=now)
        )

    # Two approvers at the same moment: both count, and the quorum is reached once.
    first, second = await approver(s, "ann"), await approver(s, "bo")
    results = await asyncio.gather(
        s.decisions.approve(first, app.id), s.decisions.approve(second, app.id)
    )
    assert sorted(r.status.value for r in results) == ["approved", "in_review"]
    history = [row["action"] for row in await s.applications.history(app.id)]
    assert history.count("approve") == 1
    assert history.count("approval") == 1

    provisioned, password = await s.decisions.provision(ACTOR, app.id)
    assert provisioned.org_id is not None
    assert password
    active = await s.decisions.activate(ACTOR, app.id)
    assert active.status is AppStatus.ACTIVE
    [entitlement] = await s.entitlements.list(provisioned.org_id)
    assert (entitlement.model, entitlement.purposes) == ("cyber-pro", ("cyber",))
    suspended = await s.decisions.suspend(ACTOR, app.id, "investigation")
    assert suspended.status is AppStatus.SUSPENDED
    assert (await s.organizations.get(provisioned.org_id)).status.value == "suspended"
    appeal = await s.aftercare.appeal(ACTOR, app.id, "we cooperated fully")
    await s.aftercare.decide_appeal("operator:ann", appeal["id"], True, "cleared")
    assert (await s.applications.get(app.id)).status is AppStatus.ACTIVE
    assert (await s.organizations.get(provisioned.org_id)).status.value == "active"


async def test_the_newest_snapshot_is_the_last_imported(services: Services) -> None:
    s = services
    for name in ("csl_v2.csv", "csl.csv"):
        await s.screening.import_file(ACTOR, FIXTURES / name, "csl")
    assert await s.screening.check("Northwind Analytics LLC") == []
    snapshots = await s.screening.snapshots()
    assert [snap["file_name"] for snap in snapshots] == ["csl_v2.csv", "csl.csv"]
