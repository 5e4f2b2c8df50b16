"""The text of a request: every string a client sends that the upstream may read.

Screening reads the whole body, not a list of the fields known to hold text: a list
misses the next field an API adds, and an outside probe got a refused prompt through
by moving it into ``role``, ``url``, ``stop``, ``tool_choice``, ``metadata`` or a
content part of a made-up type. So every string value is read, and every object key
that is not one of the APIs' own field names (a tool's JSON schema, metadata tags),
except:

* ``model`` at the top (the catalog has checked it names a model);
* values from a small closed vocabulary (``"role": "user"``, ``"type": "text"``,
  ``"detail": "low"``…): a value outside it is read like any other string (and the
  protocols refuse an unknown role or content part type outright);
* base64 payloads of images, audio and files (the upstream decodes them; they are not
  text) — decoded and read when they decode to UTF-8 text, refused when they are not
  base64 at all.

Token arrays cannot be screened, so they are refused, as is nesting deeper than any
API shape. :func:`content_text` is the narrower reading used for answers, where only
what the model wrote matters.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import orjson

MAX_DEPTH = 32
SEGMENT_WORDS = 4
WHOLE = frozenset({"response_format", "tools", "functions"})
"""Read as JSON text, keys and all: a schema's property names can carry instructions."""

KNOWN_VALUES: dict[str, frozenset[str]] = {
    "role": frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
    "type": frozenset(
        {
            *("text", "image_url", "input_audio", "file", "refusal", "function", "json_object"),
            *("json_schema", "image", "document", "tool_use", "tool_result", "thinking"),
            *("redacted_thinking", "server_tool_use", "web_search_tool_result", "base64"),
            *("url", "content", "search_result", "ephemeral", "enabled", "disabled", "auto"),
            *("any", "tool", "none", "custom", "web_fetch_tool_result", "mcp_tool_use"),
            *("mcp_tool_result", "container_upload", "code_execution_tool_result"),
        }
    ),
    "detail": frozenset({"auto", "low", "high"}),
    "encoding_format": frozenset({"float", "base64"}),
    "service_tier": frozenset({"auto", "default", "flex", "scale", "priority", "standard_only"}),
    "reasoning_effort": frozenset({"none", "minimal", "low", "medium", "high"}),
    "tool_choice": frozenset({"none", "auto", "required", "any"}),
    "modalities": frozenset({"text", "audio"}),
    "format": frozenset({"wav", "mp3", "flac", "opus", "pcm16", "aac"}),
    "media_type": frozenset(
        {
            *("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"),
            "text/plain",
        }
    ),
}
"""Keys whose values, when one of these, are structure rather than content."""

FIELD_NAMES = frozenset(
    {
        *("model", "messages", "role", "content", "name", "type", "text", "image_url", "url"),
        *("detail", "input_audio", "data", "format", "file", "file_id", "file_data"),
        *("filename", "refusal", "tool_calls", "id", "function", "arguments", "tool_call_id"),
        *("function_call", "audio", "tools", "tool_choice", "parallel_tool_calls"),
        *("response_format", "json_schema", "schema", "strict", "description", "stream"),
        *("stream_options", "include_usage", "temperature", "top_p", "n", "stop", "max_tokens"),
        *("max_completion_tokens", "presence_penalty", "frequency_penalty", "logit_bias"),
        *("logprobs", "top_logprobs", "seed", "user", "safety_identifier", "metadata"),
        *("store", "service_tier", "reasoning_effort", "modalities", "voice", "prediction"),
        *("web_search_options", "prompt", "suffix", "echo", "best_of", "input"),
        *("encoding_format", "dimensions", "system", "stop_sequences", "top_k", "thinking"),
        *("budget_tokens", "user_id", "cache_control", "ttl", "source", "media_type"),
        *("citations", "enabled", "context", "title", "tool_use_id", "is_error", "input_schema"),
        *("signature", "prompt_cache_key", "verbosity", "disable_parallel_tool_use"),
    }
)
"""The APIs' own field names: as keys they are structure; any other key is read."""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BINARY_KEYS = frozenset({"file_data"})
"""Keys holding a file's bytes in base64 (or a data URL of them)."""


class Unscreenable(ValueError):
    """Part of the request cannot be screened as text."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _base64_text(value: str, field: str) -> str | None:
    """The text a base64 payload holds, or None if it holds bytes that are not text.
    Refuses what is not base64 at all: the upstream could not read it as a file, and
    a screen that skipped it would let text through under a binary label."""
    try:
        raw = binascii.a2b_base64(value.strip(), strict_mode=True)
    except (binascii.Error, ValueError):
        raise Unscreenable(field, f"'{field}' must be base64-encoded data.") from None
    return _as_text(raw)


def _as_text(raw: bytes) -> str | None:
    """``raw`` as text if it is UTF-8 without control characters (else it is bytes)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


def _data_url_text(value: str, field: str) -> str | None:
    """The text of a ``data:`` URL's payload (None if it is binary)."""
    header, comma, payload = value.partition(",")
    if not comma:
        raise Unscreenable(field, f"'{field}' is a data URL without data.")
    if header.endswith(";base64"):
        return _base64_text(unquote(payload), field)
    return _as_text(unquote_to_bytes(payload))


class _Reader:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.segments: dict[str, None] = {}
        """Strings long enough to be a request on their own (ordered, distinct)."""

    def add(self, text: str) -> None:
        self.out.append(text)
        if len(text.split(None, SEGMENT_WORDS - 1)) >= SEGMENT_WORDS:
            self.segments[text] = None

    def string(self, key: str, value: str) -> None:
        known = KNOWN_VALUES.get(key)
        if known is not None and value in known:
            return
        if value.startswith("data:") and key in {"url", "file_data", "image_url"}:
            text = _data_url_text(value, key)
        elif key in BINARY_KEYS:
            text = value if value.startswith(("http://", "https://")) else _base64_text(value, key)
        elif key == "url":
            text = unquote(value)  # what a percent-encoded prompt says
        else:
            text = value
        if text:
            self.add(text)

    def value(self, key: str, value: Any, depth: int) -> None:
        if depth > MAX_DEPTH:  # deeper than any API shape: refuse rather than skip it
            raise Unscreenable("messages", f"The request nests deeper than {MAX_DEPTH} levels.")
        if isinstance(value, str):
            self.string(key, value)
        elif isinstance(value, list):
            for item in value:
                self.value(key, item, depth + 1)
        elif isinstance(value, dict):
            self.object(key, value, depth)

    def object(self, key: str, value: dict[str, Any], depth: int) -> None:
        binary = value.get("type") == "base64" or key == "input_audio"
        for name, item in value.items():
            if name not in FIELD_NAMES:
                self.out.append(name)
            if binary and name == "data" and isinstance(item, str):
                text = _base64_text(item, f"{key}.data")
                if text:
                    self.add(text)
                continue
            self.value(name, item, depth + 1)


def _no_tokens(field: str, value: Any) -> None:
    """``prompt`` / ``input`` as token ids (a list of integers, or of such lists)."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, int) or (
            isinstance(item, list) and any(isinstance(i, int) for i in item)
        ):
            raise Unscreenable(field, f"'{field}' must be text: token ids cannot be screened.")


@dataclass(frozen=True, slots=True)
class RequestText:
    text: str
    """Everything, one piece per line (what the monitor reads)."""
    segments: tuple[str, ...]
    """The strings of ``SEGMENT_WORDS`` words or more, each to be scored on its own as
    well: a short harmful ask scored only together with a long benign system prompt or
    tool list would be diluted by it. Empty when the text is one such string."""

    def pieces(self) -> list[str]:
        """What screening scores: the whole text, then each segment."""
        return [self.text, *self.segments]


def read_request(endpoint: str, body: dict[str, Any]) -> RequestText:
    """All the text in a request ``body``. Raises :class:`Unscreenable` for token-id
    prompts or inputs, bad base64 payloads and nesting deeper than any API shape."""
    if endpoint == "completions":
        _no_tokens("prompt", body.get("prompt"))
    elif endpoint == "embeddings":
        _no_tokens("input", body.get("input"))
    reader = _Reader()
    for key, value in body.items():
        if key == "model" and isinstance(value, str):
            continue
        if key not in FIELD_NAMES:
            reader.out.append(key)
        if key in WHOLE and isinstance(value, dict | list):
            inner = _Reader()  # its strings as segments; the JSON as the text
            inner.value(key, value, 0)
            reader.segments.update(inner.segments)
            reader.out.append(orjson.dumps(value).decode())
            continue
        reader.value(key, value, 0)
    text = "\n".join(reader.out)
    segments = tuple(s for s in reader.segments if s != text)
    return RequestText(text, segments)


def request_text(endpoint: str, body: dict[str, Any]) -> str:
    """All the text in a request ``body``, one piece per line (see :func:`read_request`)."""
    return read_request(endpoint, body).text


STRUCTURE = frozenset(
    {
        *("model", "role", "type", "id", "tool_call_id", "tool_use_id", "media_type", "url"),
        *("image_url", "detail", "signature", "stop_reason", "finish_reason", "index"),
        *("logprobs", "usage", "object", "system_fingerprint", "created"),
    }
)
"""Keys of an answer whose values are not what the model wrote."""


def _content(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _content(item, out, depth + 1)
    elif isinstance(value, dict):
        if value.get("type") == "base64":
            return
        for key, item in value.items():
            if key not in STRUCTURE:
                _content(item, out, depth + 1)


def content_text(value: Any) -> str:
    """What a model wrote in (part of) an answer: message text, tool-call names and
    arguments, completion text — one piece per line, without ids and roles."""
    out: list[str] = []
    _content(value, out, 0)
    return "\n".join(out)
