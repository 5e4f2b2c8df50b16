"""The gateway's edges: upstream timeouts and error statuses mapped faithfully, a
request id on every response, and Prometheus metrics that count what happened."""

from __future__ import annotations

import json
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
ANTHROPIC = {"anthropic-version": "2023-06-01"}
UPSTREAMS = {
    "echo": "echo",
    "sleepy": "delay-1500",
    "stalling": "echo+chunk-delay-1500",
    "busy": "status-429",
    "picky": "status-400",
    "locked": "status-401",
}


@pytest.fixture
async def ip(tmp_path: Path, upstream_url: str) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data", upstream_read_timeout=0.5) as app:
        s = app.services
        for name, upstream_model in UPSTREAMS.items():
            await s.models.add(ACTOR, name, ModelSpec(upstream_url, upstream_model))
        anthropic_base = upstream_url.removesuffix("/v1")
        for name, upstream_model in (("claude", "echo"), ("claude-busy", "status-429")):
            spec = ModelSpec(anthropic_base, upstream_model, upstream_api="anthropic")
            await s.models.add(ACTOR, name, spec)
        await s.organizations.add_direct(ACTOR, "Org", "US", "test")
        for name in [*UPSTREAMS, "claude", "claude-busy"]:
            await s.entitlements.grant(ACTOR, "Org", name, [])
        await app.refresh()
        yield app


async def secret(ip: InProcess) -> str:
    issued = await ip.services.keys.create(ACTOR, "Org", KeyScope())
    await ip.refresh()
    return issued.secret


async def chat(ip: InProcess, model: str, **body: Any) -> httpx.Response:
    return await ip.client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi there"}], **body},
        headers=ip.as_key(await secret(ip)),
    )


async def message(ip: InProcess, model: str) -> httpx.Response:
    return await ip.client.post(
        "/v1/messages",
        json={"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": await secret(ip), **ANTHROPIC},
    )


async def test_an_upstream_that_does_not_answer_in_time_is_504(ip: InProcess) -> None:
    response = await chat(ip, "sleepy")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    record = await ip.services.usage.get(response.headers["x-request-id"])
    assert record is not None
    assert (record.status_code, record.error_code) == (504, "upstream_timeout")


async def test_an_upstream_stalling_mid_stream_ends_it_with_an_error_event(
    ip: InProcess,
) -> None:
    response = await chat(ip, "stalling", stream=True)
    assert response.status_code == 200  # the stream had begun
    events = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert len(events) == 3  # the first chunk, then the error, then the end
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["code"] == "upstream_timeout"
    await ip.services.usage_recorder.flush()  # the outcome follows the stream's end
    record = await ip.services.usage.get(response.headers["x-request-id"])
    assert record is not None
    assert (record.status_code, record.error_code, record.streamed) == (
        200,
        "upstream_timeout",
        True,
    )


async def test_upstream_error_statuses_pass_through_with_their_bodies(ip: InProcess) -> None:
    busy = await chat(ip, "busy")
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "7"
    assert busy.json()["error"]["message"] == "stub failure 429"
    picky = await chat(ip, "picky", stream=True)
    assert picky.status_code == 400
    assert picky.json()["error"]["message"] == "stub failure 400"
    claude_busy = await message(ip, "claude-busy")
    assert claude_busy.status_code == 429
    assert claude_busy.json()["error"]["type"] == "rate_limit_error"
    assert claude_busy.headers["request-id"] == claude_busy.headers["x-request-id"]
    record = await ip.services.usage.get(busy.headers["x-request-id"])
    assert record is not None
    assert (record.status_code, record.error_code) == (429, "upstream_status")


async def test_an_upstream_refusing_our_credential_is_not_the_clients_fault(
    ip: InProcess,
) -> None:
    response = await chat(ip, "locked")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"
    assert "refused its credential" in response.json()["error"]["message"]


async def test_every_response_carries_a_request_id(ip: InProcess) -> None:
    key = await secret(ip)
    responses = [
        await chat(ip, "echo"),
        await chat(ip, "echo", stream=True),
        await chat(ip, "no-such-model"),
        await message(ip, "claude"),
        await ip.client.post("/v1/chat/completions", content=b"{", headers=ip.as_key(key)),
        await ip.client.post("/v1/chat/completions", json={}),
        await ip.client.get("/v1/models", headers=ip.as_key(key)),
        await ip.client.get("/v1/models", headers={"x-api-key": key, **ANTHROPIC}),
        await ip.client.get("/v1/elsewhere"),
        await ip.client.get("/healthz"),
        await ip.client.get("/metrics"),
        await ip.client.get("/admin/v1/orgs", headers=ip.as_operator(ip.admin_token)),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(ids), [
        (r.request.url, r.status_code) for r in responses if not r.headers.get("x-request-id")
    ]
    assert len(set(ids)) == len(ids)
    anthropic = responses[3]
    assert anthropic.headers["request-id"] == anthropic.headers["x-request-id"]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_count_requests_latency_refusals_and_upstream_errors(
    ip: InProcess,
) -> None:
    for _ in range(3):
        assert (await chat(ip, "echo")).status_code == 200
    assert (await chat(ip, "no-such-model")).status_code == 404
    assert (await chat(ip, "sleepy")).status_code == 504
    response = await ip.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    chat_ok = (("endpoint", "chat.completions"), ("status", "200"))
    assert found[("clearance_gateway_requests_total", chat_ok)] == 3
    latency = found[
        ("clearance_gateway_request_seconds_count", (("endpoint", "chat.completions"),))
    ]
    assert latency == 5
    assert found[("clearance_gateway_refusals_total", (("code", "model_not_found"),))] == 1
    timeout = (("kind", "upstream_timeout"), ("model", "sleepy"))
    assert found[("clearance_gateway_upstream_errors_total", timeout)] == 1
