"""What a key may do at the gateway: model scopes, source networks, rotation with a
grace period, revocation, suspended owners and end users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from clearance.errors import InvalidInput
from clearance.identity.keys import KeyScope
from clearance.identity.models import MemberRole, OrgStatus, Status
from clearance.registry.models import ModelSpec
from tests.support.inprocess import InProcess, in_process

ACTOR = "local:test"
CHAT = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as app:
        await app.services.organizations.add_direct(ACTOR, "Org", "US", "test")
        for name in ("model-a", "model-b"):
            await app.services.models.add(ACTOR, name, ModelSpec(upstream_url, "echo"))
            await app.services.entitlements.grant(ACTOR, "Org", name, [])
        await app.refresh()
        yield app


async def key(ip: InProcess, scope: KeyScope | None = None, **owner: str) -> str:
    issued = await ip.services.keys.create(ACTOR, "Org", scope or KeyScope(), **owner)
    await ip.refresh()
    return issued.secret


async def chat(
    ip: InProcess, secret: str, model: str = "model-a", **extra: object
) -> httpx.Response:
    return await ip.client.post(
        "/v1/chat/completions", json={"model": model, **CHAT, **extra}, headers=ip.as_key(secret)
    )


def code(response: httpx.Response) -> str:
    value: str = response.json()["error"]["code"]
    return value


async def test_a_key_scoped_to_one_model_cannot_use_or_see_another(ip: InProcess) -> None:
    secret = await key(ip, KeyScope(models=["model-a"]))
    assert (await chat(ip, secret, "model-a")).status_code == 200
    refused = await chat(ip, secret, "model-b")
    assert (refused.status_code, code(refused)) == (403, "access_denied")
    listed = (await ip.client.get("/v1/models", headers=ip.as_key(secret))).json()
    assert [m["id"] for m in listed["data"]] == ["model-a"]
    unscoped = await key(ip)
    everything = (await ip.client.get("/v1/models", headers=ip.as_key(unscoped))).json()
    assert [m["id"] for m in everything["data"]] == ["model-a", "model-b"]


async def test_a_key_is_refused_outside_its_networks(ip: InProcess) -> None:
    elsewhere = await key(ip, KeyScope(networks=["10.0.0.0/8", "2001:db8::/32"]))
    refused = await chat(ip, elsewhere)  # the test client connects from 127.0.0.1
    assert (refused.status_code, code(refused)) == (403, "network_not_allowed")
    here = await key(ip, KeyScope(networks=["127.0.0.0/8"]))
    assert (await chat(ip, here)).status_code == 200
    with pytest.raises(InvalidInput, match="CIDR"):
        await key(ip, KeyScope(networks=["not-a-network"]))


async def test_rotation_keeps_the_old_key_for_the_grace_period(ip: InProcess) -> None:
    old = await key(ip)
    (record,) = await ip.services.keys.list("Org")
    new = await ip.services.keys.rotate(ACTOR, record.id, timedelta(minutes=10))
    await ip.refresh()
    assert (await chat(ip, old)).status_code == 200
    assert (await chat(ip, new.secret)).status_code == 200
    ip.clock.advance(minutes=11)
    refused = await chat(ip, old)
    assert (refused.status_code, code(refused)) == (401, "key_expired")
    assert (await chat(ip, new.secret)).status_code == 200
    kinds = [e.kind for e in await ip.services.audit.entries(limit=1000)]
    assert "api_key.rotated" in kinds
    # The old key's use in its grace period and its refusal after are both recorded
    # (usage records, whose digests are in the audit log).
    uses = [
        (r.key_id, r.status_code, r.error_code) for r in await ip.services.usage.recent(limit=100)
    ]
    assert (record.id, 200, None) in uses
    assert (record.id, 401, "key_expired") in uses


async def test_revocation_takes_effect_at_the_next_refresh(ip: InProcess) -> None:
    secret = await key(ip)
    assert (await chat(ip, secret)).status_code == 200
    (record,) = await ip.services.keys.list("Org")
    await ip.services.keys.revoke(ACTOR, record.id, "leaked in a commit")
    await ip.refresh()
    refused = await chat(ip, secret)
    assert (refused.status_code, code(refused)) == (401, "key_revoked")


async def test_suspended_owner_or_organization_stops_the_key(ip: InProcess) -> None:
    member, _ = await ip.services.members.add(
        ACTOR, "Org", "Ada", "ada@org.example", MemberRole.MEMBER
    )
    secret = await key(ip, member=member.id)
    assert (await chat(ip, secret)).status_code == 200
    await ip.services.members.set_status(ACTOR, member.id, Status.SUSPENDED, "investigation")
    await ip.refresh()
    assert code(await chat(ip, secret)) == "key_owner_inactive"
    await ip.services.members.set_status(ACTOR, member.id, Status.ACTIVE, "cleared")
    await ip.services.organizations.set_status(ACTOR, "Org", OrgStatus.SUSPENDED, "review")
    await ip.refresh()
    assert code(await chat(ip, secret)) == "organization_suspended"


async def test_one_end_user_can_be_cut_off(ip: InProcess) -> None:
    secret = await key(ip)
    assert (await chat(ip, secret, safety_identifier="user-1")).status_code == 200
    await ip.services.end_users.set_status(ACTOR, "Org", "user-1", Status.SUSPENDED, "probing")
    await ip.refresh()
    for field in ("safety_identifier", "user"):
        refused = await chat(ip, secret, **{field: "user-1"})
        assert (refused.status_code, code(refused)) == (403, "end_user_suspended")
    assert (await chat(ip, secret, user="user-2")).status_code == 200
    assert (await chat(ip, secret)).status_code == 200
    bad = await chat(ip, secret, user=42)
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "user")
    await ip.services.usage_recorder.flush()  # end users are noted with the usage batch
    seen = {u.external_id: u.status for u in await ip.services.end_users.list("Org")}
    assert seen == {"user-1": Status.SUSPENDED, "user-2": Status.ACTIVE}


async def test_last_use_is_recorded(ip: InProcess) -> None:
    secret = await key(ip)
    await chat(ip, secret)
    await ip.services.usage_recorder.flush()  # noted with the usage batch
    (record,) = await ip.services.keys.list("Org")
    assert record.last_used_at is not None
    assert record.last_used_ip == "127.0.0.1"
