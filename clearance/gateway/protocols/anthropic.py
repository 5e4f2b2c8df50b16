"""The Anthropic Messages API: ``POST /v1/messages``, whole or streamed, and
Anthropic's own error shape (with Clearance's machine code added as ``code``)."""

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
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


class AnthropicStreamMeter:
    def __init__(self) -> None:
        self.usage = Usage()

    def observe(self, event: bytes) -> bool:
        if not USAGE_OBJECT.search(event):
            return True  # content deltas and the like: nothing to count
        data = sse_data(event)
        if data is None:
            return True
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        if not isinstance(document, dict):
            return True
        usage: Any = None
        if document.get("type") == "message_start":
            usage = (document.get("message") or {}).get("usage")
        elif document.get("type") == "message_delta":
            usage = document.get("usage")
        if isinstance(usage, dict):
            prompt = number(usage.get("input_tokens"))
            completion = number(usage.get("output_tokens"))
            self.usage = Usage(
                prompt if prompt is not None else self.usage.prompt,
                completion if completion is not None else self.usage.completion,
            )
        return True


BLOCK_TYPES = frozenset(
    {
        *("text", "image", "document", "search_result", "tool_use", "tool_result", "thinking"),
        *("redacted_thinking", "server_tool_use", "web_search_tool_result"),
        *("web_fetch_tool_result", "code_execution_tool_result", "mcp_tool_use"),
        *("mcp_tool_result", "container_upload"),
    }
)
"""Content block types of messages; a model may pass more through (``content_types``)."""


def _blocks(value: Any, field: str) -> None:
    if not isinstance(value, str | list):
        raise invalid_request(f"{field}: must be a string or an array of content blocks.", field)


class AnthropicProtocol:
    name = "anthropic"

    def validate(self, endpoint: str, body: dict[str, Any]) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise invalid_request("messages: must be a non-empty array.", "messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in {"user", "assistant"}:
                raise invalid_request(
                    f"messages.{index}.role: must be 'user' or 'assistant'.", f"messages.{index}"
                )
            _blocks(message.get("content"), f"messages.{index}.content")
        if "system" in body:
            _blocks(body["system"], "system")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise invalid_request("max_tokens: must be a positive integer.", "max_tokens")

    def check_parts(self, endpoint: str, body: dict[str, Any], extra: frozenset[str]) -> None:
        for index, message in enumerate(body["messages"]):
            content = message["content"]
            if isinstance(content, list):
                check_part_types(content, BLOCK_TYPES | extra, f"messages.{index}.content")
        system = body.get("system")
        if isinstance(system, list):
            check_part_types(system, frozenset({"text"}) | extra, "system")

    def error_body(self, error: GatewayError, request_id: str) -> bytes:
        kind = _TYPE_BY_STATUS.get(error.status, "api_error")
        body = {
            "type": "error",
            "error": {"type": kind, "message": error.message, "code": error.code},
        }
        if request_id:
            body["request_id"] = request_id
        return orjson.dumps(body)

    def usage(self, document: dict[str, Any]) -> Usage:
        usage = document.get("usage")
        if not isinstance(usage, dict):
            return Usage()
        return Usage(number(usage.get("input_tokens")), number(usage.get("output_tokens")))

    def prepare_stream(self, body: dict[str, Any]) -> tuple[dict[str, Any], StreamMeter]:
        return body, AnthropicStreamMeter()

    def stream_error(self, error: GatewayError) -> bytes:
        return b"event: error\ndata: " + self.error_body(error, "") + b"\n\n"
