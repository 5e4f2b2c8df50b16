"""The text a request gives a model, wherever the API carries it: messages and their
parts, system prompts, tool definitions and tool-call arguments, tool results,
documents, predictions, completion prompts and suffixes, embedding inputs.

Rather than list the fields that hold text (and miss the next one an API adds), every
string in the body is read except the few that are structure: ids, roles, types,
model names, enum-like options, URLs and base64 payloads (images and files, which are
not text). Token arrays cannot be screened, so they are refused, as is nesting deeper
than any API shape.
"""

from __future__ import annotations

from typing import Any

import orjson

STRUCTURE = frozenset(
    {
        "model",
        "role",
        "type",
        "id",
        "tool_call_id",
        "tool_use_id",
        "media_type",
        "url",
        "image_url",
        "detail",
        "encoding_format",
        "service_tier",
        "reasoning_effort",
        "tool_choice",
        "stop",
        "stop_sequences",
        "user",
        "safety_identifier",
        "user_id",
        "modalities",
        "voice",
        "format",
    }
)
"""Keys whose string values are not content."""


MAX_DEPTH = 32
WHOLE = frozenset({"response_format", "tools", "functions"})
"""Read as JSON text, keys and all: a schema's property names can carry instructions."""


class Unscreenable(ValueError):
    """Part of the request cannot be screened as text."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _walk(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:  # deeper than any API shape: refuse rather than skip it
        raise Unscreenable("messages", f"The request nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _walk(item, out, depth + 1)
    elif isinstance(value, dict):
        if value.get("type") == "base64":  # an image's or a file's bytes, not text
            return
        for key, item in value.items():
            if key not in STRUCTURE:
                _walk(item, out, depth + 1)


def _no_tokens(field: str, value: Any) -> None:
    """``prompt`` / ``input`` as token ids (a list of integers, or of such lists)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, int) or (
            isinstance(item, list) and any(isinstance(i, int) for i in item)
        ):
            raise Unscreenable(field, f"'{field}' must be text: token ids cannot be screened.")


def request_text(endpoint: str, body: dict[str, Any]) -> str:
    """All the text in a request ``body``, one piece per line. Raises
    :class:`Unscreenable` for token-id prompts or inputs."""
    if endpoint == "completions":
        _no_tokens("prompt", body.get("prompt"))
    elif endpoint == "embeddings":
        _no_tokens("input", body.get("input"))
    out: list[str] = []
    for key, value in body.items():
        if key in STRUCTURE:
            continue
        if key == "metadata":
            continue  # the end user's id and the caller's tags, not content
        if key in WHOLE and isinstance(value, dict | list):
            out.append(orjson.dumps(value).decode())
            continue
        _walk(value, out, 0)
    return "\n".join(out)
