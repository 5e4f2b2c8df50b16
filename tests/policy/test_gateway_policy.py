"""Policy at the gateway: entitlements, declared purposes, jurisdictions from the
source address (trusting X-Forwarded-For only from configured proxies), and the
deciding policies recorded with each request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clearance.identity.keys import KeyScope
from clearance.registry.models import ModelSpec
from tests.support.inprocess import InProcess, in_process

ACTOR = "local:test"
CHAT = {"messages": [{"role": "user", "content": "hello"}]}
CHINA = "1.2.4.8"
GERMANY = "81.2.69.142"  # a GB address in fact: any tier-1 country will do


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data", trusted_proxies=["127.0.0.1/32"]) as app:
        s = app.services
        await s.models.add(
            ACTOR,
            "controlled",
            ModelSpec(upstream_url, "echo", export_control="4E091", risk={"cyber": "OpenAI:High"}),
        )
        await s.models.add(ACTOR, "open", ModelSpec(upstream_url, "echo", export_control="EAR99"))
        await s.organizations.add_direct(ACTOR, "Org", "US", "test")
        for model in ("controlled", "open"):
            await s.entitlements.grant(ACTOR, "Org", model, ["cyber"])
        await app.refresh()
        yield app


async def key(ip: InProcess, org: str = "Org", **scope: object) -> str:
    issued = await ip.services.keys.create(ACTOR, org, KeyScope(**scope))  # type: ignore[arg-type]
    await ip.refresh()
    return issued.secret


async def chat(
    ip: InProcess, secret: str, model: str = "controlled", **headers: str
) -> httpx.Response:
    return await ip.client.post(
        "/v1/chat/completions",
        json={"model": model, **CHAT},
        headers={**ip.as_key(secret), **headers},
    )


def code(response: httpx.Response) -> str:
    value: str = response.json()["error"]["code"]
    return value


async def test_an_organization_needs_an_entitlement(ip: InProcess) -> None:
    await ip.services.organizations.add_direct(ACTOR, "Newcomer", "US", "test")
    secret = await key(ip, "Newcomer")
    refused = await chat(ip, secret)
    assert (refused.status_code, code(refused)) == (403, "access_denied")
    assert "no policy permits it" in refused.json()["error"]["message"]
    assert (await ip.client.get("/v1/models", headers=ip.as_key(secret))).json()["data"] == []
    listed = (await ip.client.get("/v1/models", headers=ip.as_key(await key(ip)))).json()["data"]
    assert [m["id"] for m in listed] == ["controlled", "open"]


async def test_declared_purposes_must_be_entitled(ip: InProcess) -> None:
    secret = await key(ip)
    assert (await chat(ip, secret, **{"x-clearance-purpose": "cyber"})).status_code == 200
    bio = await chat(ip, secret, **{"x-clearance-purpose": "bio"})
    assert (bio.status_code, code(bio)) == (403, "purpose_not_entitled")
    assert "declared-purpose-needs-entitlement" in bio.json()["error"]["message"]
    nonsense = await chat(ip, secret, **{"x-clearance-purpose": "world-domination"})
    assert (nonsense.status_code, nonsense.json()["error"]["param"]) == (400, "x-clearance-purpose")
    scoped = await key(ip, purposes=[])  # a key scoped to no purposes
    assert (
        code(await chat(ip, scoped, **{"x-clearance-purpose": "cyber"})) == "purpose_not_entitled"
    )


async def test_controlled_models_are_blocked_from_tier_3_sources(ip: InProcess) -> None:
    secret = await key(ip)
    from_china = await chat(ip, secret, **{"x-forwarded-for": CHINA})
    assert (from_china.status_code, code(from_china)) == (403, "jurisdiction_blocked")
    assert (await chat(ip, secret, "open", **{"x-forwarded-for": CHINA})).status_code == 200
    assert (await chat(ip, secret, **{"x-forwarded-for": GERMANY})).status_code == 200
    records = await ip.services.usage.recent(limit=3)
    assert records[-1].source_ip == CHINA
    assert records[-1].policies == "controlled-model-from-tier-3-source"


async def test_x_forwarded_for_counts_only_from_trusted_proxies(
    tmp_path: Path, upstream_url: str
) -> None:
    async with in_process(tmp_path / "untrusted") as app:  # no trusted proxies
        await app.services.models.add(
            ACTOR, "controlled", ModelSpec(upstream_url, "echo", export_control="4E091")
        )
        await app.services.organizations.add_direct(ACTOR, "Org", "US", "test")
        await app.services.entitlements.grant(ACTOR, "Org", "controlled", [])
        issued = await app.services.keys.create(ACTOR, "Org", KeyScope())
        await app.refresh()
        spoofed = await chat(app, issued.secret, **{"x-forwarded-for": CHINA})
        assert spoofed.status_code == 200  # the header is ignored: the peer is 127.0.0.1


async def test_organizations_in_tier_3_countries_are_blocked_from_controlled_models(
    ip: InProcess,
) -> None:
    await ip.services.organizations.add_direct(ACTOR, "Abroad", "IR", "test")
    for model in ("controlled", "open"):
        await ip.services.entitlements.grant(ACTOR, "Abroad", model, [])
    secret = await key(ip, "Abroad")
    assert code(await chat(ip, secret)) == "jurisdiction_blocked"
    assert (await chat(ip, secret, "open")).status_code == 200


async def test_allowed_requests_record_their_deciding_policy(ip: InProcess) -> None:
    await chat(ip, await key(ip))
    (record,) = await ip.services.usage.recent(limit=1)
    assert record.policies == "entitled-use"


async def test_revoking_an_entitlement_takes_effect_despite_the_decision_cache(
    ip: InProcess,
) -> None:
    secret = await key(ip)
    assert (await chat(ip, secret)).status_code == 200
    for entitlement in await ip.services.entitlements.list("Org"):
        await ip.services.entitlements.revoke(ACTOR, entitlement.id)
    await ip.refresh()
    assert code(await chat(ip, secret)) == "access_denied"
