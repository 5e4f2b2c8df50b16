"""Streams: an upstream failing midway ends the stream with a well-formed error event;
a client that goes away cancels the upstream request; both outcomes are recorded."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.support.installation import Live, finished_usage

HELLO = [{"role": "user", "content": "one two three four five six seven eight nine ten"}]


def test_an_upstream_failing_midway_ends_the_stream_with_an_error_event(live: Live) -> None:
    client = openai.OpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0)
    received: list[object] = []
    with client, pytest.raises(openai.APIError) as caught:  # noqa: PT012 (mid-iteration)
        raw = client.chat.completions.with_raw_response.create(
            model="breaking", messages=HELLO, stream=True
        )
        for chunk in raw.parse():
            received.append(chunk)
    assert received  # the first events got through before the break
    assert "could not be reached" in str(caught.value)
    stored = finished_usage(live, raw.headers["x-request-id"])
    assert (stored["status_code"], stored["error_code"]) == (200, "upstream_error")


def test_a_client_that_leaves_cancels_the_upstream_request(live: Live, upstream_url: str) -> None:
    stats_url = upstream_url.removesuffix("/v1") + "/_stub/stats"
    before = httpx.get(stats_url).json()["streams_abandoned"]
    body = {"model": "slow-stream", "messages": HELLO, "stream": True}
    headers = {"authorization": f"Bearer {live.api_key}"}
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", f"{live.v1}/chat/completions", json=body, headers=headers
        ) as response,
    ):
        request_id = response.headers["x-request-id"]
        next(response.iter_bytes())  # the first event, then hang up
    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline and httpx.get(stats_url).json()["streams_abandoned"] == before
    ):
        time.sleep(0.1)
    assert httpx.get(stats_url).json()["streams_abandoned"] == before + 1
    stored = finished_usage(live, request_id)
    assert (stored["status_code"], stored["error_code"]) == (499, "client_disconnected")


def test_chunks_arrive_as_the_upstream_sends_them(live: Live) -> None:
    """slow-stream sends an event every 200 ms: the first must arrive long before the last."""
    body = {"model": "slow-stream", "messages": HELLO, "stream": True}
    headers = {"authorization": f"Bearer {live.api_key}"}
    started = time.monotonic()
    arrivals = []
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "POST", f"{live.v1}/chat/completions", json=body, headers=headers
        ) as response,
    ):
        for _ in response.iter_lines():
            arrivals.append(time.monotonic() - started)
    assert arrivals[0] < 0.6
    assert arrivals[-1] > 2.0
