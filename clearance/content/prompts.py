"""The text a request asks a model about, as each API carries it: chat messages (plain
strings or text parts), a system prompt, completion prompts, embedding inputs. Images,
token arrays and other non-text parts are not text and are skipped."""

from __future__ import annotations

from typing import Any


def _parts(content: Any, out: list[str]) -> None:
    if isinstance(content, str):
        out.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif part.get("type") == "tool_result":
                    _parts(part.get("content"), out)


def request_text(endpoint: str, body: dict[str, Any]) -> str:
    """All the text in a request ``body`` for ``endpoint``, one piece per line."""
    out: list[str] = []
    if endpoint in ("chat.completions", "messages"):
        _parts(body.get("system"), out)
        for message in body.get("messages") or ():
            if isinstance(message, dict):
                _parts(message.get("content"), out)
    elif endpoint == "completions":
        _parts(body.get("prompt"), out)
    elif endpoint == "embeddings":
        _parts(body.get("input"), out)
    return "\n".join(out)
