"""A STAND-IN upstream — a demo and test double, not a model.

``clearance demo`` runs it so the gateway has something to forward to; the test suite
and benchmarks run it as a separate process. It speaks enough of the OpenAI API
(``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/models``)
and of Anthropic's (``/v1/messages``), whole or streamed, with word counts as usage.

Behaviour is chosen by the *upstream model name*, as ``+``-separated directives:

    echo                 reply with the last user message (default: a fixed sentence)
    decode               reply with the message's last base64 word, decoded
    delay-<ms>           wait before answering
    chunk-delay-<ms>     wait between streamed events
    break-<n>            end a stream abruptly after n events
    status-<code>        answer with that HTTP status and an OpenAI-style error body
    invalid-json         answer 200 with a body that is not JSON

``GET /_stub/stats`` reports how many streams started, completed and were abandoned
by the client (so tests can see a cancellation reach the upstream).

Run: ``python -m clearance.demo.stub_upstream --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

from clearance.demo import stub_replies as replies

Reply = Callable[[dict[str, Any]], dict[str, Any]]
Stream = Callable[[dict[str, Any]], Iterator[bytes]]
ROUTES: dict[str, tuple[Reply, Stream | None]] = {
    "/v1/chat/completions": (replies.chat_completion, replies.chat_stream),
    "/v1/completions": (replies.completion, replies.completion_stream),
    "/v1/embeddings": (replies.embeddings, None),
    "/v1/messages": (replies.message, replies.message_stream),
}
JSON = [(b"content-type", b"application/json")]
EVENT_STREAM = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [*JSON, (b"content-length", b"%d" % len(body)), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class StubUpstream:
    """The stub as a bare ASGI app (no framework: it must never be the bottleneck)."""

    def __init__(self) -> None:
        self.stats = {"streams_started": 0, "streams_completed": 0, "streams_abandoned": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path.endswith("/models"):
            await _send(send, 200, orjson.dumps({"object": "list", "data": []}))
            return
        if method == "GET" and path == "/_stub/stats":
            await _send(send, 200, orjson.dumps(self.stats))
            return
        route = ROUTES.get(path) if method == "POST" else None
        if route is None:
            await _send(send, 404, orjson.dumps({"error": {"message": "not found"}}))
            return
        try:
            body = orjson.loads(await _read(receive))
        except orjson.JSONDecodeError:
            await _send(send, 400, orjson.dumps({"error": {"message": "invalid JSON"}}))
            return
        rules = replies.directives(str(body.get("model", "")))
        if "delay" in rules:
            await asyncio.sleep(int(rules["delay"]) / 1000)
        if "status" in rules:
            await self._fail(send, int(rules["status"]), anthropic=path == "/v1/messages")
            return
        if "invalid-json" in rules:
            await _send(send, 200, b"<html>not json</html>")
            return
        whole, stream = route
        if body.get("stream") is True and stream is not None:
            await self._stream(receive, send, stream(body), rules)
            return
        await _send(send, 200, orjson.dumps(whole(body)))

    async def _fail(self, send: Send, status: int, anthropic: bool) -> None:
        """An error in the API's own shape; a 429 says when to retry."""
        message = f"stub failure {status}"
        kind = "rate_limit_error" if status == 429 else "api_error"
        if anthropic:
            document = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            document = {"error": {"message": message, "type": kind, "code": "stub"}}
        extra = [(b"retry-after", b"7")] if status == 429 else []
        await _send(send, status, orjson.dumps(document), extra)

    async def _stream(
        self, receive: Receive, send: Send, events: Iterator[bytes], rules: dict[str, str]
    ) -> None:
        self.stats["streams_started"] += 1
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": EVENT_STREAM})
            pause = int(rules.get("chunk-delay", "0")) / 1000
            limit = int(rules["break"]) if "break" in rules else None
            for count, event in enumerate(events):
                if limit is not None and count >= limit:
                    raise ConnectionAbortedError("stub: breaking the stream on purpose")
                if gone.is_set():
                    self.stats["streams_abandoned"] += 1
                    return
                await send({"type": "http.response.body", "body": event, "more_body": True})
                if pause:
                    await asyncio.sleep(pause)
            await send({"type": "http.response.body", "body": b""})
            self.stats["streams_completed"] += 1
        finally:
            watcher.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="Stand-in upstream (a test double)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(StubUpstream(), host=args.host, port=args.port, log_level="error", access_log=False)


if __name__ == "__main__":
    main()
