"""Enforcement through its public interfaces: a throttle takes effect at the gateway
and lapses or is reversed; actions check what they act on; rules and webhook URLs are
validated; break-glass stays within the case's organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.accounts.models import OperatorRole
from clearance.db import changes
from clearance.errors import InvalidInput, NotFound
from clearance.identity.keys import KeyScope
from clearance.identity.models import Status
from clearance.monitoring.detectors import DETECTOR_NAMES
from clearance.monitoring.rules import parse_rules
from clearance.registry.models import ModelSpec, Retention
from tests.support.inprocess import InProcess, in_process

ACTOR = "local:test"


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as app:
        s = app.services
        spec = ModelSpec(upstream_url, "echo", retention=Retention("encrypted", 7))
        await s.models.add(ACTOR, "m", spec)
        for org in ("Acme", "Globex"):
            await s.organizations.add_direct(ACTOR, org, "US", "test")
            await s.entitlements.grant(ACTOR, org, "m", [])
        await app.refresh()
        yield app


async def call(ip: InProcess, key: str) -> httpx.Response:
    return await ip.client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hello"}]},
        headers=ip.as_key(key),
    )


async def test_a_throttle_applies_at_the_gateway_until_reversed(ip: InProcess) -> None:
    s = ip.services
    issued = await s.keys.create(ACTOR, "Acme", KeyScope())
    action = await s.enforcement.take(
        ACTOR, "throttle", "key", "Acme", issued.id, "probing", rpm=2, minutes=30
    )
    await ip.refresh()
    codes = [(await call(ip, issued.secret)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = await call(ip, issued.secret)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    await s.enforcement.reverse(ACTOR, action.id, "resolved")
    await ip.refresh()
    assert (await call(ip, issued.secret)).status_code == 200


async def test_a_lapsed_throttle_is_no_longer_in_force(ip: InProcess) -> None:
    s = ip.services
    issued = await s.keys.create(ACTOR, "Acme", KeyScope())
    action = await s.enforcement.take(
        ACTOR, "throttle", "key", "Acme", issued.id, "x", rpm=1, minutes=1
    )
    assert await s.enforcement.active("throttle", "key", action.org_id, issued.id) is not None
    ip.clock.advance(minutes=2)
    assert await s.enforcement.active("throttle", "key", action.org_id, issued.id) is None
    await ip.refresh()
    assert [(await call(ip, issued.secret)).status_code for _ in range(2)] == [200, 200]


async def test_actions_check_their_target_and_references(ip: InProcess) -> None:
    s = ip.services
    theirs = await s.keys.create(ACTOR, "Globex", KeyScope())
    with pytest.raises(NotFound, match="no key"):
        await s.enforcement.take(ACTOR, "throttle", "key", "Acme", theirs.id, "x", rpm=5)
    with pytest.raises(NotFound, match="no key"):
        await s.enforcement.take(ACTOR, "revoke", "key", "Acme", theirs.id, "x")
    with pytest.raises(InvalidInput, match="revoke applies to key"):
        await s.enforcement.take(ACTOR, "revoke", "end_user", "Acme", "u1", "x")
    with pytest.raises(InvalidInput, match="rpm"):
        await s.enforcement.take(ACTOR, "throttle", "organization", "Acme", "", "x")
    with pytest.raises(NotFound, match="no alert"):
        await s.enforcement.take(ACTOR, "warn", "organization", "Acme", "", "x", alert_id="a")
    assert await s.enforcement.list() == []  # nothing applied, nothing recorded


async def test_reversing_what_an_operator_already_reinstated_still_reverses(
    ip: InProcess,
) -> None:
    s = ip.services
    action = await s.enforcement.take(ACTOR, "suspend", "end_user", "Acme", "u1", "probing")
    await s.end_users.set_status(ACTOR, "Acme", "u1", Status.ACTIVE, "cleared by phone")
    appeal = await s.appeals.file(ACTOR, action.id, "It was a test account.")
    await s.appeals.decide(ACTOR, appeal.id, "upheld", "Confirmed a test account.")
    reversed_action = await s.enforcement.get(action.id)
    assert (reversed_action.status, reversed_action.overturned) == ("reversed", True)


def test_rules_are_checked_at_start() -> None:
    good = {"name": "r", "detector": "prohibited", "count": 3, "window_minutes": 60}
    assert parse_rules([{**good, "action": "suspend", "scope": "end_user"}], DETECTOR_NAMES)
    bad = [
        (
            {**good, "action": "suspend", "scope": "end_user", "count": "3"},
            "count must be a number",
        ),
        ({**good, "action": "revoke", "scope": "end_user"}, "revoke cannot apply to end_user"),
        ({**good, "action": "throttle", "scope": "key"}, "rpm must be a number"),
        ({**good, "action": "warn", "scope": "key", "minutes": 5}, "throttles only"),
        ({**good, "action": "warn", "scope": "key", "detector": "nope"}, "no detector"),
        ({**good, "action": "warn", "scope": "key", "name": "x" * 65}, "1-64 characters"),
        ({**good, "action": "warn", "scope": "key", "colour": 1}, "unknown fields colour"),
        ({"name": "r"}, "missing"),
    ]
    for document, message in bad:
        with pytest.raises(InvalidInput, match=message):
            parse_rules([document], DETECTOR_NAMES)


async def test_webhook_urls_carry_no_credentials(ip: InProcess) -> None:
    with pytest.raises(InvalidInput, match="credentials"):
        await ip.services.notifier.set_webhook(ACTOR, "Acme", "https://u:pw@hooks.example/x")
    with pytest.raises(InvalidInput):
        await ip.services.notifier.set_webhook(ACTOR, "Acme", "ftp://hooks.example/x")


async def test_break_glass_stays_within_the_case_organization(ip: InProcess) -> None:
    s = ip.services
    theirs = await s.keys.create(ACTOR, "Globex", KeyScope())
    await ip.refresh()
    request_id = (await call(ip, theirs.secret)).headers["x-request-id"]
    await s.usage_recorder.flush()
    investigator = ip.as_operator(await ip.token_for(OperatorRole.INVESTIGATOR))
    case = await ip.client.post(
        "/admin/v1/cases", json={"title": "Acme probing", "org": "Acme"}, headers=investigator
    )
    viewed = await ip.client.post(
        f"/admin/v1/cases/{case.json()['id']}/content",
        json={"request_id": request_id, "justification": "Looking at a request from elsewhere."},
        headers=investigator,
    )
    assert viewed.status_code == 403
    assert "organization this case is about" in viewed.json()["error"]["message"]


async def test_an_action_and_its_effect_commit_together_or_not_at_all(
    ip: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = ip.services

    bump = changes.bump

    async def broken(conn: AsyncConnection, *topics: str) -> None:  # after the suspension
        if "enforcement" in topics:
            raise RuntimeError("the database went away")
        await bump(conn, *topics)

    monkeypatch.setattr(changes, "bump", broken)
    with pytest.raises(RuntimeError):
        await s.enforcement.take(ACTOR, "suspend", "end_user", "Acme", "u2", "probing")
    monkeypatch.undo()
    assert await s.enforcement.list() == []
    assert [u.external_id for u in await s.end_users.list("Acme")] == []  # not suspended
