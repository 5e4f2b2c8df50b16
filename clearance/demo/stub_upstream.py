"""A STAND-IN OpenAI-compatible upstream — a demo and test double, not a model.

``clearance demo`` runs it so the gateway has something to forward to; the test suite
and benchmarks run it as a separate process. It answers ``POST /v1/chat/completions``
with a fixed reply and honest word counts as token usage, and ``GET /v1/models``.

Behaviour is chosen by the *upstream model name* (so tests can register models that
misbehave), as ``+``-separated directives:

    echo                 reply with the last user message (default: a fixed sentence)
    delay-<ms>           wait before answering
    status-<code>        answer with that HTTP status and an OpenAI-style error body
    invalid-json         answer 200 with a body that is not JSON

Run: ``python -m clearance.demo.stub_upstream --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

DEMO_REPLY = "This is a demo reply from Clearance's stub upstream; no model was consulted."


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(part.get("text")) for part in value if isinstance(part, dict))
    return 0


def _directives(model: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for part in model.split("+"):
        name, _, value = part.partition("-")
        if name in {"delay", "status"} and value.isdigit():
            result[name] = value
        else:
            result[part] = ""
    return result


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
    return ""


def chat_completion(body: dict[str, Any]) -> tuple[int, bytes]:
    model = str(body.get("model", "stub"))
    directives = _directives(model)
    if "status" in directives:
        status = int(directives["status"])
        error = {"message": f"stub failure {status}", "type": "server_error", "code": "stub"}
        return status, orjson.dumps({"error": error})
    if "invalid-json" in directives:
        return 200, b"<html>not json</html>"
    messages = body.get("messages") or []
    reply = _last_user_text(messages) if "echo" in directives else DEMO_REPLY
    prompt_tokens = sum(_words(m.get("content")) for m in messages if isinstance(m, dict))
    completion_tokens = _words(reply)
    document = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return 200, orjson.dumps(document)


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The stub as a bare ASGI app (no framework: it must never be the bottleneck)."""
    if scope["type"] != "http":
        return
    path, method = scope["path"], scope["method"]
    if method == "GET" and path.endswith("/models"):
        await _send(send, 200, orjson.dumps({"object": "list", "data": []}))
        return
    if method != "POST" or not path.endswith("/chat/completions"):
        await _send(send, 404, orjson.dumps({"error": {"message": "not found"}}))
        return
    try:
        body = orjson.loads(await _read(receive))
    except orjson.JSONDecodeError:
        await _send(send, 400, orjson.dumps({"error": {"message": "invalid JSON"}}))
        return
    delay = _directives(str(body.get("model", ""))).get("delay")
    if delay:
        await asyncio.sleep(int(delay) / 1000)
    status, payload = chat_completion(body)
    await _send(send, status, payload)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Stand-in OpenAI-compatible upstream (test double)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
