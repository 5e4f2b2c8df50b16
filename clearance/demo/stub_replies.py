"""What the stand-in upstream answers (see ``stub_upstream``): OpenAI chat and text
completions, embeddings and Anthropic messages, whole or as server-sent events — with
honest word counts as token usage."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import orjson

DEMO_REPLY = "This is a demo reply from Clearance's stub upstream; no model was consulted."


def words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(words(part.get("text") if isinstance(part, dict) else part) for part in value)
    return 0


def directives(model: str) -> dict[str, str]:
    """``echo+delay-200`` -> ``{"echo": "", "delay": "200"}``."""
    result: dict[str, str] = {}
    for part in model.split("+"):
        name, _, value = part.rpartition("-")
        if name and value.isdigit():
            result[name] = value
        else:
            result[part] = ""
    return result


def last_user_text(messages: Any) -> str:
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def reply_text(body: dict[str, Any], prompt: str) -> str:
    chosen = directives(str(body.get("model", "")))
    if "decode" in chosen:  # a model that decodes what it is given (output screening)
        return decoded(prompt)
    if "echo" in chosen:
        return prompt
    return DEMO_REPLY


def decoded(prompt: str) -> str:
    """The last base64 word of ``prompt`` decoded as UTF-8, or the prompt itself."""
    for word in reversed(prompt.split()):
        try:
            return base64.b64decode(word, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue
    return prompt


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    return head + b"data: " + payload + b"\n\n"


# -- OpenAI chat completions -------------------------------------------------------------


def chat_message(body: dict[str, Any], text: str) -> dict[str, Any]:
    tools = body.get("tools")
    if isinstance(tools, list) and tools and body.get("tool_choice") != "none":
        name = tools[0].get("function", {}).get("name", "tool")
        call = {
            "id": "call_stub",
            "type": "function",
            "function": {"name": name, "arguments": orjson.dumps({"echo": text}).decode()},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    if (body.get("response_format") or {}).get("type") in {"json_object", "json_schema"}:
        text = orjson.dumps({"reply": text}).decode()
    return {"role": "assistant", "content": text}


def chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    text = reply_text(body, last_user_text(messages))
    n = int(body.get("n") or 1)
    message = chat_message(body, text)
    prompt = sum(words(m.get("content")) for m in messages if isinstance(m, dict))
    completion = words(text) * n
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [
            {
                "index": i,
                "message": message,
                "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
            }
            for i in range(n)
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def chat_stream(body: dict[str, Any]) -> Iterator[bytes]:
    whole = chat_completion(body)
    base = {"id": whole["id"], "object": "chat.completion.chunk", "created": whole["created"]}
    base["model"] = whole["model"]
    message = whole["choices"][0]["message"]
    yield sse(
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    )
    if message.get("tool_calls"):
        delta = {"tool_calls": [{"index": 0, **message["tool_calls"][0]}]}
        yield sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    else:
        for piece in _pieces(message["content"]):
            yield sse(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
    finish = whole["choices"][0]["finish_reason"]
    yield sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        yield sse({**base, "choices": [], "usage": whole["usage"]})
    yield b"data: [DONE]\n\n"


def _pieces(text: str) -> list[str]:
    parts = text.split(" ")
    return [part if i == 0 else " " + part for i, part in enumerate(parts)]


# -- OpenAI text completions and embeddings ---------------------------------------------


def completion(body: dict[str, Any]) -> dict[str, Any]:
    prompt = body.get("prompt")
    prompt_text = prompt if isinstance(prompt, str) else " ".join(map(str, prompt or []))
    text = reply_text(body, prompt_text)
    return {
        "id": "cmpl-stub",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
        "usage": {
            "prompt_tokens": words(prompt_text),
            "completion_tokens": words(text),
            "total_tokens": words(prompt_text) + words(text),
        },
    }


def completion_stream(body: dict[str, Any]) -> Iterator[bytes]:
    whole = completion(body)
    base = {"id": whole["id"], "object": "text_completion", "created": whole["created"]}
    base["model"] = whole["model"]
    for piece in _pieces(whole["choices"][0]["text"]):
        yield sse({**base, "choices": [{"index": 0, "text": piece, "finish_reason": None}]})
    yield sse({**base, "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        yield sse({**base, "choices": [], "usage": whole["usage"]})
    yield b"data: [DONE]\n\n"


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    items = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = []
    for index, item in enumerate(items):
        digest = hashlib.sha256(str(item).encode()).digest()
        data.append(
            {"object": "embedding", "index": index, "embedding": [b / 255 for b in digest[:8]]}
        )
    tokens = sum(words(str(item)) for item in items)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


# -- Anthropic messages ------------------------------------------------------------------


def message(body: dict[str, Any]) -> dict[str, Any]:
    text = reply_text(body, last_user_text(body.get("messages")))
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        content: list[dict[str, Any]] = [
            {
                "type": "tool_use",
                "id": "toolu_stub",
                "name": tools[0].get("name", "tool"),
                "input": {"echo": text},
            }
        ]
        stop = "tool_use"
    else:
        content, stop = [{"type": "text", "text": text}], "end_turn"
    prompt = sum(words(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict))
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": words(text)},
    }


def message_stream(body: dict[str, Any]) -> Iterator[bytes]:
    whole = message(body)
    start = {
        **whole,
        "content": [],
        "stop_reason": None,
        "usage": {**whole["usage"], "output_tokens": 1},
    }
    yield sse({"type": "message_start", "message": start}, "message_start")
    block = whole["content"][0]
    if block["type"] == "text":
        yield sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        )
        for piece in _pieces(block["text"]):
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            }
            yield sse(delta, "content_block_delta")
    else:
        opening = {**block, "input": {}}
        yield sse(
            {"type": "content_block_start", "index": 0, "content_block": opening},
            "content_block_start",
        )
        partial = {
            "type": "input_json_delta",
            "partial_json": orjson.dumps(block["input"]).decode(),
        }
        yield sse(
            {"type": "content_block_delta", "index": 0, "delta": partial}, "content_block_delta"
        )
    yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    usage = {"output_tokens": whole["usage"]["output_tokens"]}
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": whole["stop_reason"], "stop_sequence": None},
    }
    yield sse({**delta, "usage": usage}, "message_delta")
    yield sse({"type": "message_stop"}, "message_stop")
