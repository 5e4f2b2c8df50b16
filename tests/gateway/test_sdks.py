"""The official `openai` and `anthropic` SDKs, unchanged, against the gateway in front
of a real upstream process: whole and streamed, tools, embeddings, models."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.support.installation import Live, finished_usage

HELLO = [{"role": "user", "content": "hello from the sdk"}]


@pytest.fixture
def oa(live: Live) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0) as client:
        yield client  # closed after the test: see tests/gateway/test_openai_sdk.py


@pytest.fixture
def an(live: Live) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=live.base_url, api_key=live.api_key, max_retries=0) as c:
        yield c


def test_streamed_chat_arrives_in_chunks_and_is_metered(oa: openai.OpenAI, live: Live) -> None:
    raw = oa.chat.completions.with_raw_response.create(
        model="stub-chat", messages=HELLO, stream=True
    )
    chunks = list(raw.parse())
    assert len(chunks) >= 4
    assert all(chunk.choices for chunk in chunks)  # no usage chunk: the client did not ask
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hello from the sdk"
    stored = finished_usage(live, raw.headers["x-request-id"])
    assert (stored["prompt_tokens"], stored["completion_tokens"], stored["total_tokens"]) == (
        4,
        4,
        8,
    )


def test_streamed_chat_with_usage_requested(oa: openai.OpenAI) -> None:
    chunks = list(
        oa.chat.completions.create(
            model="stub-chat", messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 8


def test_tools_response_format_and_n_pass_through(oa: openai.OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    called = oa.chat.completions.create(model="stub-chat", messages=HELLO, tools=[tool])  # type: ignore[list-item]
    call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"echo": "hello from the sdk"}  # type: ignore[union-attr]
    structured = oa.chat.completions.create(
        model="stub-chat", messages=HELLO, response_format={"type": "json_object"}, n=2
    )
    assert len(structured.choices) == 2
    assert json.loads(structured.choices[1].message.content or "") == {
        "reply": "hello from the sdk"
    }


def test_text_completions_whole_and_streamed(oa: openai.OpenAI) -> None:
    whole = oa.completions.create(model="stub-chat", prompt="complete me")
    assert whole.choices[0].text == "complete me"
    pieces = [
        c.choices[0].text
        for c in oa.completions.create(model="stub-chat", prompt="complete me", stream=True)
        if c.choices
    ]
    assert "".join(pieces) == "complete me"


def test_embeddings(oa: openai.OpenAI, live: Live) -> None:
    raw = oa.embeddings.with_raw_response.create(model="stub-chat", input=["one", "two words"])
    result = raw.parse()
    assert [len(item.embedding) for item in result.data] == [8, 8]
    assert finished_usage(live, raw.headers["x-request-id"])["prompt_tokens"] == 3


def test_models_list_shows_the_keys_models(oa: openai.OpenAI, an: anthropic.Anthropic) -> None:
    assert "stub-chat" in {m.id for m in oa.models.list()}
    assert "claude-stub" in {m.id for m in an.models.list()}


async def test_async_streaming(live: Live) -> None:
    async with openai.AsyncOpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="stub-chat", messages=HELLO, stream=True
        )  # type: ignore[arg-type]
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "hello from the sdk"


def test_anthropic_messages_whole(an: anthropic.Anthropic, live: Live) -> None:
    raw = an.messages.with_raw_response.create(model="claude-stub", max_tokens=100, messages=HELLO)  # type: ignore[arg-type]
    message = raw.parse()
    assert message.content[0].text == "hello from the sdk"  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 4)
    assert finished_usage(live, raw.headers["x-request-id"])["total_tokens"] == 8


def test_anthropic_messages_streamed(an: anthropic.Anthropic) -> None:
    with an.messages.stream(model="claude-stub", max_tokens=100, messages=HELLO) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "hello from the sdk"
    assert final.usage.output_tokens == 4


def test_anthropic_tools(an: anthropic.Anthropic) -> None:
    tool = {
        "name": "lookup",
        "description": "look up",
        "input_schema": {"type": "object", "properties": {}},
    }
    message = an.messages.create(model="claude-stub", max_tokens=100, messages=HELLO, tools=[tool])  # type: ignore[arg-type, list-item]
    assert message.stop_reason == "tool_use"
    assert message.content[0].input == {"echo": "hello from the sdk"}  # type: ignore[union-attr]


async def test_anthropic_async(live: Live) -> None:
    async with anthropic.AsyncAnthropic(
        base_url=live.base_url, api_key=live.api_key, max_retries=0
    ) as client:
        message = await client.messages.create(model="claude-stub", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    assert message.content[0].text == "hello from the sdk"  # type: ignore[union-attr]


def test_anthropic_errors_are_in_anthropics_shape(live: Live) -> None:
    client = anthropic.Anthropic(base_url=live.base_url, api_key="clr_wrong", max_retries=0)
    with client, pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model="claude-stub", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["code"] == "invalid_api_key"
    assert caught.value.response.headers["request-id"].startswith("req_")


def test_an_api_mismatch_names_the_right_endpoint(oa: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oa.chat.completions.create(model="claude-stub", messages=HELLO)
    assert "/v1/messages" in caught.value.message
