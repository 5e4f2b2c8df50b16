"""The gateway driven by the official ``openai`` SDK, unchanged, as a client would."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from tests.support.installation import Live

MESSAGES = [{"role": "user", "content": "hello from the sdk"}]


Client = Callable[..., openai.OpenAI]


@pytest.fixture
def sdk(live: Live) -> Iterator[Client]:
    """The SDK's client for the server (with another key, if given), closed after the
    test: an unclosed one's socket is freed whenever its cycle is collected, and the
    ResourceWarning then fails whichever test runs at that moment."""
    made: list[openai.OpenAI] = []

    def make(key: str | None = None) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=live.v1, api_key=key or live.api_key, max_retries=0))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_sync_chat_completion(sdk: Client) -> None:
    reply = sdk().chat.completions.create(model="stub-chat", messages=MESSAGES)
    assert reply.choices[0].message.content == "hello from the sdk"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 4)


async def test_async_chat_completion(live: Live) -> None:
    async with openai.AsyncOpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0) as aclient:
        reply = await aclient.chat.completions.create(model="stub-fixed", messages=MESSAGES)
    assert "stub upstream" in (reply.choices[0].message.content or "")


def test_usage_is_recorded_with_the_upstreams_token_counts(sdk: Client, live: Live) -> None:
    raw = sdk().chat.completions.with_raw_response.create(model="stub-chat", messages=MESSAGES)
    request_id = raw.headers["x-request-id"]
    usage = httpx.get(f"{live.base_url}/admin/v1/usage", headers=live.admin_headers()).json()
    (record,) = [r for r in usage if r["request_id"] == request_id]
    assert record["status_code"] == 200
    assert record["model"] == "stub-chat"
    assert record["org_id"].startswith("org_")
    assert record["key_id"].startswith("key_")
    assert (record["prompt_tokens"], record["completion_tokens"], record["total_tokens"]) == (
        4,
        4,
        8,
    )
    assert record["latency_ms"] > 0


@pytest.mark.parametrize(
    "key", ["clr_wrong", "clr_" + "A" * 38, "sk-not-ours", "clr_" + "B" * 32 + "000000"]
)
def test_wrong_key_is_refused_with_invalid_api_key(sdk: Client, key: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(key).chat.completions.create(model="stub-chat", messages=MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.response.headers["x-request-id"].startswith("req_")


def test_missing_key_is_refused(live: Live) -> None:
    response = httpx.post(
        f"{live.v1}/chat/completions", json={"model": "stub-chat", "messages": MESSAGES}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["x-request-id"]


def test_unknown_model_is_404_model_not_found(sdk: Client) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk().chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"  # type: ignore[attr-defined]


def test_unreachable_upstream_is_502_upstream_error(sdk: Client) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk().chat.completions.create(model="unreachable", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_error"
    assert caught.value.response.headers["x-request-id"].startswith("req_")


def test_upstream_error_in_openai_shape_is_passed_through(sdk: Client) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk().chat.completions.create(model="failing", messages=MESSAGES)
    assert caught.value.status_code == 500
    assert caught.value.code == "stub"


def test_upstream_sending_garbage_is_502(sdk: Client) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk().chat.completions.create(model="garbled", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_error"
