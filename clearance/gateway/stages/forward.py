"""Forward: send the request to the model's upstream and keep its reply.

An upstream error reply in OpenAI's shape is passed to the client as it is (status
and body); anything else that is not a success becomes ``upstream_error``.
"""

from __future__ import annotations

from typing import Any

import orjson

from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.gateway.upstream import OpenAIUpstream
from clearance.registry.services import ModelCatalog

PATHS = {"chat.completions": "chat/completions"}


class Forward:
    def __init__(self, upstream: OpenAIUpstream, catalog: ModelCatalog) -> None:
        self._upstream = upstream
        self._catalog = catalog

    async def __call__(self, call: Call) -> None:
        if call.model is None:
            raise GatewayError(404, "model_not_found", "No model was resolved.", "model")
        credential = self._catalog.credential(call.model)
        reply = await self._upstream.post(call.model, PATHS[call.endpoint], call.body, credential)
        reply.document = _json_object(reply.body)
        if reply.status >= 400 and not isinstance((reply.document or {}).get("error"), dict):
            raise GatewayError(
                502,
                "upstream_error",
                f"The upstream for '{call.model.name}' failed with HTTP {reply.status}.",
            )
        if reply.status < 400 and reply.document is None:
            raise GatewayError(
                502, "upstream_error", f"The upstream for '{call.model.name}' sent invalid JSON."
            )
        call.reply = reply


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None
