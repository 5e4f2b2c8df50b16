"""Meter: read the token counts the upstream reported (never estimated)."""

from __future__ import annotations

from clearance.gateway.call import Call

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


class Meter:
    async def __call__(self, call: Call) -> None:
        reply = call.reply
        if reply is None or reply.status >= 400 or reply.document is None:
            return
        usage = reply.document.get("usage")
        if isinstance(usage, dict):
            call.usage = {
                name: value
                for name in _COUNTS
                if isinstance(value := usage.get(name), int) and value >= 0
            }
