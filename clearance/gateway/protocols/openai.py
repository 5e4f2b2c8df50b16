"""The OpenAI API: chat completions, text completions and embeddings.

Everything the client sends is passed through; only what the gateway must understand
is checked. For a stream the gateway asks the upstream for usage
(``stream_options.include_usage``) and, if the client had not asked itself, drops the
usage-only chunk before it reaches them.
"""

from __future__ import annotations

from typing import Any

import orjson

from clearance.gateway.errors import GatewayError, invalid_request
from clearance.gateway.protocols.base import (
    USAGE_OBJECT,
    StreamMeter,
    Usage,
    check_part_types,
    number,
    sse_data,
)

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


ROLES = ("system", "developer", "user", "assistant", "tool", "function")
PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})
"""Content part types of chat messages; a model may pass more through (``content_types``)."""


def _messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("'messages' must be a non-empty array.", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise invalid_request(
                f"'messages[{index}]' must be an object with a string 'role'.", f"messages[{index}]"
            )
        if message["role"] not in ROLES:
            raise invalid_request(
                f"'messages[{index}].role' must be one of {', '.join(ROLES)}.",
                f"messages[{index}].role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise invalid_request(
                f"'messages[{index}].content' must be a string or an array of content parts.",
                f"messages[{index}].content",
            )


def _prompt(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str | list) or (isinstance(prompt, list) and not prompt):
        raise invalid_request("'prompt' must be a string or a non-empty array.", "prompt")


def _embedding_input(body: dict[str, Any]) -> None:
    value = body.get("input")
    if not isinstance(value, str | list) or (isinstance(value, list) and not value):
        raise invalid_request("'input' must be a string or a non-empty array.", "input")
    if body.get("stream") is not None:
        raise invalid_request("Embeddings cannot be streamed.", "stream")


_VALIDATORS = {
    "chat.completions": _messages,
    "completions": _prompt,
    "embeddings": _embedding_input,
}


class OpenAIStreamMeter:
    def __init__(self, client_wants_usage: bool) -> None:
        self.usage = Usage()
        self._forward_usage = client_wants_usage

    def observe(self, event: bytes) -> bool:
        if not USAGE_OBJECT.search(event):
            return True  # most events: no usage in them, no need to parse them
        data = sse_data(event)
        if data is None:
            return True
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        if not isinstance(chunk, dict) or not isinstance(chunk.get("usage"), dict):
            return True
        usage = chunk["usage"]
        self.usage = Usage(
            number(usage.get("prompt_tokens")), number(usage.get("completion_tokens"))
        )
        return self._forward_usage or bool(chunk.get("choices"))


class OpenAIProtocol:
    name = "openai"

    def validate(self, endpoint: str, body: dict[str, Any]) -> None:
        _VALIDATORS[endpoint](body)
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise invalid_request("'stream' must be a boolean.", "stream")

    def check_parts(self, endpoint: str, body: dict[str, Any], extra: frozenset[str]) -> None:
        if endpoint == "chat.completions":
            for index, message in enumerate(body["messages"]):
                content = message.get("content")
                if isinstance(content, list):
                    check_part_types(content, PART_TYPES | extra, f"messages[{index}].content")

    def error_body(self, error: GatewayError, request_id: str) -> bytes:
        kind = _TYPE_BY_STATUS.get(error.status, "api_error")
        return orjson.dumps(
            {
                "error": {
                    "message": error.message,
                    "type": kind,
                    "param": error.param,
                    "code": error.code,
                }
            }
        )

    def usage(self, document: dict[str, Any]) -> Usage:
        usage = document.get("usage")
        if not isinstance(usage, dict):
            return Usage()
        return Usage(number(usage.get("prompt_tokens")), number(usage.get("completion_tokens")))

    def prepare_stream(self, body: dict[str, Any]) -> tuple[dict[str, Any], StreamMeter]:
        options = body.get("stream_options")
        options = dict(options) if isinstance(options, dict) else {}
        wanted = options.get("include_usage") is True
        options["include_usage"] = True
        return {**body, "stream_options": options}, OpenAIStreamMeter(wanted)

    def stream_error(self, error: GatewayError) -> bytes:
        return b"data: " + self.error_body(error, "") + b"\n\ndata: [DONE]\n\n"
