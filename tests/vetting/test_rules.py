"""Every illegal transition and every separation-of-duties violation is refused, with a
reason (table-driven)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from clearance.accounts.models import Caller, OperatorRole
from clearance.errors import InvalidState, NotAllowed
from clearance.registry.models import ModelSpec
from clearance.vetting import states
from clearance.vetting.models import applications_table
from clearance.vetting.states import APPEALABLE, TRANSITIONS, Action, AppStatus
from tests.support.inprocess import InProcess, in_process
from tests.support.receivers import LocalSmtp
from tests.vetting.test_vetting_flow import form

LEGAL = {(action, status) for action, (froms, _) in TRANSITIONS.items() for status in froms}


@pytest.mark.parametrize("status", list(AppStatus))
@pytest.mark.parametrize("action", [a for a in Action if a is not Action.APPEAL_UPHELD])
def test_every_transition_outside_the_table_is_refused(action: Action, status: AppStatus) -> None:
    if (action, status) in LEGAL:
        assert states.target(action, status) is TRANSITIONS[action][1]
        return
    with pytest.raises(InvalidState) as refused:
        states.target(action, status)
    assert f"cannot {action.value}" in refused.value.message
    assert status.value in refused.value.message


@pytest.mark.parametrize("status", list(AppStatus))
def test_only_rejections_and_suspensions_can_be_appealed(status: AppStatus) -> None:
    if status in APPEALABLE:
        assert states.target(Action.APPEAL_UPHELD, status) is APPEALABLE[status]
    else:
        with pytest.raises(InvalidState):
            states.target(Action.APPEAL_UPHELD, status)


def test_revocation_is_final() -> None:
    for action in Action:
        if action is not Action.APPEAL_UPHELD:
            with pytest.raises(InvalidState):
                states.target(action, AppStatus.REVOKED)


ACTOR = "local:test"


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str, smtp_server: LocalSmtp) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data", smtp_port=smtp_server.port) as app:
        s = app.services
        await s.models.add(
            ACTOR, "cyber-pro", ModelSpec(upstream_url, "echo", risk={"cyber": "high"})
        )
        await s.vetting_checks.publish_terms(ACTOR, "v1", "Terms.")
        fixtures = Path(__file__).parents[1] / "screening" / "fixtures"
        await s.screening.import_file(ACTOR, fixtures / "sdn" / "sdn.csv", "sdn")
        yield app


async def caller(ip: InProcess, role: OperatorRole, name: str) -> Caller:
    operator, _, _ = await ip.services.operators.create(ACTOR, name, role, with_token=False)
    return Caller(operator=operator, role=role, via="test")


async def ready_for_approval(ip: InProcess, submitter: str, reviewer: str) -> str:
    """An application in review with every check done (written straight to the table:
    the checks themselves are covered end to end elsewhere)."""
    s = ip.services
    app = await s.applications.submit(
        submitter, form(officer={"name": "Jo Doe", "email": "jo@approver.example", "title": "CEO"})
    )
    await s.applications.screen(reviewer, app.id)
    now = ip.clock.now()
    async with s.db.transaction() as conn:
        await conn.execute(
            applications_table.update()
            .where(applications_table.c.id == app.id)
            .values(
                domain_verified_at=now,
                email_verified_at=now,
                terms_accepted_at=now,
                terms_version="v1",
            )
        )
    return app.id


async def test_separation_of_duties(ip: InProcess) -> None:
    s = ip.services
    submitter = await caller(ip, OperatorRole.APPROVER, "sam")
    reviewer = await caller(ip, OperatorRole.APPROVER, "rev")
    first = await caller(ip, OperatorRole.APPROVER, "ann")
    officer = await caller(ip, OperatorRole.APPROVER, "jo@approver.example")
    app_id = await ready_for_approval(ip, submitter.actor, reviewer.actor)
    refusals = [
        (submitter, "you submitted this application"),
        (reviewer, "you reviewed this application"),
        (officer, "you are the applicant organization's officer"),
    ]
    for who, reason in refusals:
        with pytest.raises(NotAllowed) as refused:
            await s.decisions.approve(who, app_id)
        assert reason in refused.value.message
    once = await s.decisions.approve(first, app_id)
    assert once.status is AppStatus.IN_REVIEW  # a high-risk model: two approvers
    with pytest.raises(NotAllowed) as twice:
        await s.decisions.approve(first, app_id)
    assert "second approver" in twice.value.message
    second = await caller(ip, OperatorRole.APPROVER, "bo")
    assert (await s.decisions.approve(second, app_id)).status is AppStatus.APPROVED


async def test_approval_waits_for_every_check(ip: InProcess) -> None:
    s = ip.services
    app = await s.applications.submit(ACTOR, form())
    await s.applications.screen("operator:rev", app.id)
    approver = await caller(ip, OperatorRole.APPROVER, "ann")
    with pytest.raises(InvalidState) as refused:
        await s.decisions.approve(approver, app.id)
    for missing in ("domain control", "e-mail", "terms"):
        assert missing in refused.value.message


async def test_an_upheld_appeal_reverses_the_decision(ip: InProcess) -> None:
    s = ip.services
    app = await s.applications.submit(ACTOR, form())
    await s.applications.screen("operator:rev", app.id)
    await s.decisions.reject("operator:rev", app.id, "missing documents")
    appeal = await s.aftercare.appeal(ACTOR, app.id, "documents attached")
    with pytest.raises(InvalidState):
        await s.aftercare.appeal(ACTOR, app.id, "again")  # one pending at a time
    decided = await s.aftercare.decide_appeal("operator:ann", appeal["id"], True, "they suffice")
    assert decided["outcome"] == "upheld"
    assert (await s.applications.get(app.id)).status is AppStatus.SUBMITTED  # screened again
    with pytest.raises(InvalidState):
        await s.aftercare.decide_appeal("operator:ann", appeal["id"], False, "changed my mind")


async def test_revetting_reminds_then_expires(ip: InProcess, smtp_server: LocalSmtp) -> None:
    s = ip.services
    app_id = await ready_for_approval(ip, ACTOR, "operator:rev")
    for name in ("ann", "bo"):
        await s.decisions.approve(await caller(ip, OperatorRole.APPROVER, name), app_id)
    provisioned, _ = await s.decisions.provision(ACTOR, app_id)
    await s.decisions.activate(ACTOR, app_id)
    due = provisioned.revet_due_at
    assert due is not None
    reminder = timedelta(days=30)
    assert await s.aftercare.revetting("system", reminder) == {"expired": [], "reminded": []}

    ip.clock.advance(seconds=(due - timedelta(days=10) - ip.clock.now()).total_seconds())
    assert await s.aftercare.revetting("system", reminder) == {"expired": [], "reminded": [app_id]}
    [mail] = smtp_server.inbox.envelopes
    assert mail.rcpt_tos == ["jo@approver.example"]
    assert await s.aftercare.revetting("system", reminder) == {"expired": [], "reminded": []}

    ip.clock.advance(seconds=(due - ip.clock.now()).total_seconds() + 1)
    assert await s.aftercare.revetting("system", reminder) == {"expired": [app_id], "reminded": []}
    assert (await s.applications.get(app_id)).status is AppStatus.EXPIRED
    assert provisioned.org_id is not None
    assert (await s.organizations.get(provisioned.org_id)).status.value == "suspended"

    revetted = await s.decisions.revet("operator:rev", app_id, "annual re-vetting")
    assert revetted.status is AppStatus.SUBMITTED
    assert (revetted.domain_verified_at, revetted.terms_accepted_at, revetted.grant) == (
        None,
        None,
        None,
    )


async def test_the_newest_terms_and_list_snapshot_win_even_at_the_same_instant(
    ip: InProcess,
) -> None:
    """Publication and import order decide, not clock time (which can tie)."""
    s = ip.services
    for version in ("v2", "v3", "v4"):
        await s.vetting_checks.publish_terms(ACTOR, version, f"Terms {version}.")
        assert (await s.vetting_checks.current_terms()).version == version
    fixtures = Path(__file__).parents[1] / "screening" / "fixtures"
    for name in ("csl.csv", "csl_v2.csv", "csl.csv", "csl_v2.csv"):
        await s.screening.import_file(ACTOR, fixtures / name, "csl")
        found = await s.screening.check("Northwind Analytics LLC")
        assert bool(found) == (name == "csl_v2.csv")


async def test_screening_without_any_list_is_refused(tmp_path: Path, upstream_url: str) -> None:
    """Fail closed: with no list imported nothing is screened, so nothing reaches review."""
    async with in_process(tmp_path / "empty") as app:
        s = app.services
        await s.models.add(ACTOR, "cyber-pro", ModelSpec(upstream_url, "echo"))
        submitted = await s.applications.submit(ACTOR, form())
        with pytest.raises(InvalidState) as refused:
            await s.applications.screen("operator:rev", submitted.id)
        assert "no denied-party list" in refused.value.message
        assert (await s.applications.get(submitted.id)).status is AppStatus.SUBMITTED


async def test_a_changed_list_entry_raises_a_new_hit_despite_an_earlier_adjudication(
    ip: InProcess, tmp_path: Path
) -> None:
    s = ip.services
    fixtures = Path(__file__).parents[1] / "screening" / "fixtures"
    await s.screening.import_file(ACTOR, fixtures / "csl.csv", "csl")
    app = await s.applications.submit(ACTOR, form())  # officer "Ivan Ivanov"
    _, hits = await s.applications.screen("operator:rev", app.id)
    [ivanov] = [h for h in hits if h.entry_name.startswith("IVANOV")]
    await s.screening.adjudicate("operator:rev", ivanov.id, "false_positive", "other person")
    changed = (
        (fixtures / "csl.csv")
        .read_text(encoding="utf-8")
        .replace("Иванов Иван Сергеевич", "Иванов Иван Сергеевич; Ivan the Listed")
    )
    (tmp_path / "csl.csv").write_text(changed, encoding="utf-8")
    _, alerts = await s.screening.import_file(ACTOR, tmp_path / "csl.csv", "csl")
    assert [a.application_id for a in alerts] == [app.id]
    reopened = await s.screening.hits(app.id, "open")
    assert [h.subject for h in reopened] == ["officer"]
