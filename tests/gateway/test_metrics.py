"""``/metrics`` counts what clients received: an upstream's 500 or 429 passed through
counts as 500 or 429, a stream that broke after its 200 as the error that ended it;
requests and tokens per model and per organization, refusals by code — every label
from a bounded set, whatever names clients send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clearance.identity.keys import KeyScope
from clearance.registry.models import ModelSpec
from tests.support.inprocess import InProcess, in_process

ACTOR = "local:test"
UPSTREAMS = {
    "echo": "echo",
    "failing": "status-500",
    "busy": "status-429",
    "breaking": "echo+chunk-delay-30+break-3",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as app:
        s = app.services
        for name, upstream_model in UPSTREAMS.items():
            await s.models.add(ACTOR, name, ModelSpec(upstream_url, upstream_model))
        await s.models.add(ACTOR, "ungranted", ModelSpec(upstream_url, "echo"))
        for org in ("Org", "Lab"):
            await s.organizations.add_direct(ACTOR, org, "US", "test")
        for name in UPSTREAMS:
            await s.entitlements.grant(ACTOR, "Org", name, [])
        await s.entitlements.grant(ACTOR, "Lab", "echo", [], limits={"key": {"rpm": 1}})
        await app.refresh()
        yield app


async def secret(ip: InProcess, org: str = "Org") -> str:
    issued = await ip.services.keys.create(ACTOR, org, KeyScope())
    await ip.refresh()
    return issued.secret


async def org_id(ip: InProcess, name: str) -> str:
    return (await ip.services.organizations.get(name)).id


async def chat(
    ip: InProcess, key: str, model: str, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return await ip.client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "one two three"}], **body},
        headers={**ip.as_key(key), **(headers or {})},
    )


async def scrape(ip: InProcess) -> Samples:
    found: Samples = {}
    text = (await ip.client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def requests(found: Samples, status: str) -> float:
    labels = (("endpoint", "chat.completions"), ("status", status))
    return found.get(("clearance_gateway_requests_total", labels), 0)


def values(found: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for metric, labels in found if metric == name}


async def test_upstream_failures_count_under_the_status_the_client_received(
    ip: InProcess,
) -> None:
    key = await secret(ip)
    assert (await chat(ip, key, "echo")).status_code == 200
    assert (await chat(ip, key, "failing")).status_code == 500
    busy = await chat(ip, key, "busy")
    assert (busy.status_code, busy.headers["retry-after"]) == (429, "7")
    async with ip.client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "breaking", "stream": True, "messages": [{"role": "user", "content": "a"}]},
        headers=ip.as_key(key),
    ) as broken:
        assert broken.status_code == 200  # the headers went out before the upstream broke
        text = "".join([chunk async for chunk in broken.aiter_text()])
    assert "upstream_error" in text
    found = await scrape(ip)
    assert requests(found, "200") == 1
    assert requests(found, "500") == 1
    assert requests(found, "429") == 1
    assert requests(found, "502") == 1  # the stream, under the error that ended it
    assert found[("clearance_gateway_refusals_total", (("code", "upstream_error"),))] == 1
    # The upstream's own errors are upstream errors, not refusals of the gateway's.
    assert values(found, "clearance_gateway_refusals_total", "code") == {"upstream_error"}
    for model, kind in (("failing", "500"), ("busy", "429")):
        labels = (("kind", kind), ("model", model))
        assert found[("clearance_gateway_upstream_errors_total", labels)] == 1


async def test_requests_and_tokens_per_model_and_organization(ip: InProcess) -> None:
    org, lab = await secret(ip, "Org"), await secret(ip, "Lab")
    answers = [
        await chat(ip, org, "echo"),
        await chat(ip, org, "echo"),
        await chat(ip, lab, "echo"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    usage = [a.json()["usage"] for a in answers]
    assert all(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in usage)
    assert (await chat(ip, org, "failing")).status_code == 500
    org_id_, lab_id = await org_id(ip, "Org"), await org_id(ip, "Lab")
    found = await scrape(ip)

    def sample(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    assert sample("clearance_gateway_model_requests_total", model="echo") == 3
    assert sample("clearance_gateway_model_requests_total", model="failing") == 1
    for kind in ("prompt", "completion"):
        total = sum(u[f"{kind}_tokens"] for u in usage)
        assert sample("clearance_gateway_model_tokens_total", model="echo", kind=kind) == total
        by_org = "clearance_gateway_organization_tokens_total"
        assert sample(by_org, organization=org_id_, kind=kind) == total - usage[2][f"{kind}_tokens"]
        assert sample(by_org, organization=lab_id, kind=kind) == usage[2][f"{kind}_tokens"]
    assert sample("clearance_gateway_organization_requests_total", organization=org_id_) == 3
    assert sample("clearance_gateway_organization_requests_total", organization=lab_id) == 1


async def test_labels_stay_bounded_whatever_names_clients_send(ip: InProcess) -> None:
    key = await secret(ip)
    for n in range(5):
        assert (await chat(ip, key, f"made-up-model-{n}")).status_code == 404
    assert (await chat(ip, "not-a-key-either", "also-made-up")).status_code == 401
    assert (await ip.client.post("/v1/made/up/path", json={})).status_code == 404
    found = await scrape(ip)
    assert values(found, "clearance_gateway_model_requests_total", "model") == {"other"}
    organizations = values(found, "clearance_gateway_organization_requests_total", "organization")
    assert organizations == {await org_id(ip, "Org"), "other"}
    endpoints = values(found, "clearance_gateway_requests_total", "endpoint")
    assert endpoints == {"chat.completions", "unknown"}
    assert found[("clearance_gateway_model_requests_total", (("model", "other"),))] == 7


async def test_refusals_are_counted_by_code(ip: InProcess) -> None:
    org, lab = await secret(ip, "Org"), await secret(ip, "Lab")
    bio = await chat(ip, org, "echo", {"x-clearance-purpose": "bio"})
    assert bio.json()["error"]["code"] == "purpose_not_entitled"
    assert (await chat(ip, lab, "ungranted")).json()["error"]["code"] == "access_denied"
    assert (await chat(ip, lab, "echo")).status_code == 200
    for _ in range(2):  # one request a minute
        assert (await chat(ip, lab, "echo")).json()["error"]["code"] == "rate_limited"
    assert (await chat(ip, "not-a-key", "echo")).json()["error"]["code"] == "invalid_api_key"
    assert (await chat(ip, org, "nowhere")).json()["error"]["code"] == "model_not_found"
    found = await scrape(ip)
    refusals = {
        dict(labels)["code"]: value
        for (name, labels), value in found.items()
        if name == "clearance_gateway_refusals_total"
    }
    assert refusals == {
        "purpose_not_entitled": 1,
        "access_denied": 1,
        "rate_limited": 2,
        "invalid_api_key": 1,
        "model_not_found": 1,
    }
    assert requests(found, "403") == 2
    assert requests(found, "429") == 2
