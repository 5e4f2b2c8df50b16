"""Limits and quotas at the gateway, set through entitlements and model declarations:
an RPM limit of N lets exactly N requests through in any minute, token quotas count
streaming and non-streaming use alike and survive a restart, and refusals are 429 with
``Retry-After`` in the protocol's own error shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from clearance.identity.keys import KeyScope
from clearance.limits.models import Limits
from clearance.registry.models import ModelSpec
from tests.support.inprocess import InProcess, in_process

ACTOR = "local:test"
NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data", start=NOON) as app:
        s = app.services
        await s.models.add(ACTOR, "echo", ModelSpec(upstream_url, "echo"))
        await s.models.add(ACTOR, "other", ModelSpec(upstream_url, "echo"))
        await s.models.add(ACTOR, "slow", ModelSpec(upstream_url, "delay-300"))
        await s.models.add(
            ACTOR,
            "claude",
            ModelSpec(upstream_url.removesuffix("/v1"), "echo", upstream_api="anthropic"),
        )
        await s.organizations.add_direct(ACTOR, "Org", "US", "test")
        await s.organizations.add_direct(ACTOR, "Other Org", "US", "test")
        await app.refresh()
        yield app


async def grant(ip: InProcess, model: str, org: str = "Org", **limits: dict[str, int]) -> None:
    await ip.services.entitlements.grant(ACTOR, org, model, [], limits=limits)
    await ip.refresh()


async def key(ip: InProcess, org: str = "Org") -> str:
    issued = await ip.services.keys.create(ACTOR, org, KeyScope())
    await ip.refresh()
    return issued.secret


async def chat(ip: InProcess, secret: str, model: str = "echo", **body: Any) -> httpx.Response:
    return await ip.client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "one two three"}], **body},
        headers=ip.as_key(secret),
    )


def refusal(response: httpx.Response) -> tuple[int, str, int]:
    return (
        response.status_code,
        response.json()["error"]["code"],
        int(response.headers["retry-after"]),
    )


async def test_an_rpm_limit_of_n_lets_exactly_n_through_in_the_window(ip: InProcess) -> None:
    await grant(ip, "echo", key={"rpm": 3})
    secret = await key(ip)
    for _ in range(3):
        assert (await chat(ip, secret)).status_code == 200
        ip.clock.advance(seconds=10)
    refused = await chat(ip, secret)
    assert refusal(refused) == (429, "rate_limited", 30)  # the first leaves the window at 60 s
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "3 requests a minute" in refused.json()["error"]["message"]
    ip.clock.advance(seconds=29)
    assert refusal(await chat(ip, secret))[:2] == (429, "rate_limited")
    ip.clock.advance(seconds=1)
    assert (await chat(ip, secret)).status_code == 200  # exactly one slot came free
    assert refusal(await chat(ip, secret)) == (429, "rate_limited", 10)
    # Refusals are not counted: another key of the same organization is unaffected.
    assert (await chat(ip, await key(ip))).status_code == 200


async def test_refused_requests_are_recorded_and_never_forwarded(ip: InProcess) -> None:
    await grant(ip, "echo", key={"rpm": 1})
    secret = await key(ip)
    assert (await chat(ip, secret)).status_code == 200
    refused = await chat(ip, secret)
    record = await ip.services.usage.get(refused.headers["x-request-id"])
    assert record is not None
    assert (record.status_code, record.error_code, record.total_tokens) == (
        429,
        "rate_limited",
        None,
    )


async def test_a_token_quota_counts_streaming_and_non_streaming_calls(ip: InProcess) -> None:
    await grant(ip, "echo", organization={"daily_tokens": 20})
    secret = await key(ip)
    first = await chat(ip, secret)
    used = first.json()["usage"]["total_tokens"]
    assert used == 6  # the stand-in counts words: three in, three echoed back
    async with ip.client.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "echo",
            "messages": [{"role": "user", "content": "one two three four five six seven"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        headers=ip.as_key(secret),
    ) as streamed:
        events = [line async for line in streamed.aiter_lines() if line.startswith("data: {")]
    streamed_usage = json.loads(events[-1].removeprefix("data: "))["usage"]["total_tokens"]
    assert streamed_usage == 14
    assert used + streamed_usage == 20
    exhausted = await chat(ip, secret)
    assert refusal(exhausted) == (429, "quota_exhausted", 12 * 3600)  # until midnight UTC
    assert "daily token quota of organization" in exhausted.json()["error"]["message"]
    # The quota is the organization's: its other keys are refused too; other
    # organizations and other models are not.
    assert refusal(await chat(ip, await key(ip)))[:2] == (429, "quota_exhausted")
    await grant(ip, "other")
    assert (await chat(ip, secret, model="other")).status_code == 200
    await grant(ip, "echo", org="Other Org")
    assert (await chat(ip, await key(ip, "Other Org"))).status_code == 200
    ip.clock.advance(hours=12)
    assert (await chat(ip, secret)).status_code == 200  # a new UTC day


async def test_quota_refusals_in_anthropics_shape(ip: InProcess) -> None:
    await grant(ip, "claude", key={"monthly_tokens": 1})
    secret = await key(ip)
    headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    body = {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    assert (await ip.client.post("/v1/messages", json=body, headers=headers)).status_code == 200
    refused = await ip.client.post("/v1/messages", json=body, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["type"] == "error"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "monthly token quota" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) == 4 * 86400 - 12 * 3600  # to 1 December


async def test_a_token_per_minute_limit_slides(ip: InProcess) -> None:
    await grant(ip, "echo", owner={"tpm": 10})
    secret = await key(ip)
    assert (await chat(ip, secret)).status_code == 200  # 6 tokens
    assert (await chat(ip, secret)).status_code == 200  # 12: over, counted when it ended
    ip.clock.advance(seconds=30)
    assert refusal(await chat(ip, secret)) == (429, "rate_limited", 30)
    ip.clock.advance(seconds=30)
    assert (await chat(ip, secret)).status_code == 200


async def test_concurrency_limits_requests_in_flight(ip: InProcess) -> None:
    await grant(ip, "slow", key={"concurrency": 2})
    secret = await key(ip)
    responses = await asyncio.gather(*(chat(ip, secret, model="slow") for _ in range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 429, 429]
    # Every admission was given back when its response ended.
    again = await asyncio.gather(*(chat(ip, secret, model="slow") for _ in range(2)))
    assert [r.status_code for r in again] == [200, 200]


async def test_end_users_are_limited_one_by_one(ip: InProcess) -> None:
    await grant(ip, "echo", end_user={"rpm": 1})
    secret = await key(ip)
    assert (await chat(ip, secret, user="alice")).status_code == 200
    assert (await chat(ip, secret, user="bob")).status_code == 200
    assert refusal(await chat(ip, secret, user="alice"))[:2] == (429, "rate_limited")
    assert (await chat(ip, secret)).status_code == 200  # no end user named: no such limit


async def test_a_models_own_limits_apply_across_organizations(
    ip: InProcess, upstream_url: str
) -> None:
    await ip.services.models.add(
        ACTOR, "scarce", ModelSpec(upstream_url, "echo", limits=Limits(rpm=2))
    )
    for org in ("Org", "Other Org"):
        await grant(ip, "scarce", org=org)
    ours, theirs = await key(ip), await key(ip, "Other Org")
    assert (await chat(ip, ours, model="scarce")).status_code == 200
    assert (await chat(ip, theirs, model="scarce")).status_code == 200
    refused = await chat(ip, ours, model="scarce")
    assert refusal(refused)[:2] == (429, "rate_limited")
    assert "model scarce" in refused.json()["error"]["message"]


async def test_quotas_survive_a_restart(tmp_path: Path, upstream_url: str) -> None:
    data = tmp_path / "data"
    async with in_process(data, start=NOON) as first:
        s = first.services
        await s.models.add(ACTOR, "echo", ModelSpec(upstream_url, "echo"))
        await s.organizations.add_direct(ACTOR, "Org", "US", "test")
        await grant(first, "echo", key={"daily_tokens": 10}, organization={"monthly_tokens": 100})
        secret = await key(first)
        assert (await chat(first, secret)).status_code == 200
        assert (await chat(first, secret)).status_code == 200  # 12 of 10
    async with in_process(data, start=NOON.replace(hour=13)) as second:
        refused = await chat(second, secret)
        assert refusal(refused) == (429, "quota_exhausted", 11 * 3600)
        another = await key(second)  # the organization's month has 88 left
        assert (await chat(second, another)).status_code == 200
    async with in_process(data, start=NOON.replace(day=28)) as next_day:
        assert (await chat(next_day, secret)).status_code == 200
