"""Parse: the request body as the API defines it, and the model it names.

Runs after authentication, so an anonymous caller learns nothing about which models
exist; errors name the offending field in ``param``.
"""

from __future__ import annotations

from typing import Any

import orjson

from clearance.domains import RISK_DOMAINS
from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError, invalid_request
from clearance.registry.services import ModelCatalog

MAX_END_USER = 256
UPSTREAM_API = {
    "chat.completions": "openai",
    "completions": "openai",
    "embeddings": "openai",
    "messages": "anthropic",
}
ENTRY_POINT = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


def purpose_of(declared: str) -> str:
    """The declared purpose, if it names a dual-use domain (else 400)."""
    purpose = declared.strip().lower()
    if purpose and purpose not in RISK_DOMAINS:
        raise invalid_request(
            f"X-Clearance-Purpose must be one of {', '.join(RISK_DOMAINS)}.", "x-clearance-purpose"
        )
    return purpose


def end_user_of(body: dict[str, Any]) -> str | None:
    """The end user a request names: ``safety_identifier`` (OpenAI's current field),
    else ``user``, else Anthropic's ``metadata.user_id``."""
    metadata = body.get("metadata")
    for field, value in (
        ("safety_identifier", body.get("safety_identifier")),
        ("user", body.get("user")),
        ("metadata.user_id", metadata.get("user_id") if isinstance(metadata, dict) else None),
    ):
        if value is None:
            continue
        if not isinstance(value, str) or not 0 < len(value) <= MAX_END_USER:
            raise invalid_request(
                f"'{field}' must be a string of 1-{MAX_END_USER} characters.", field
            )
        return value
    return None


class Parse:
    def __init__(self, catalog: ModelCatalog) -> None:
        self._catalog = catalog

    async def __call__(self, call: Call) -> None:
        try:
            body = orjson.loads(call.raw_body)
        except orjson.JSONDecodeError:
            raise invalid_request(
                "We could not parse the JSON body of your request. Send valid JSON."
            ) from None
        if not isinstance(body, dict):
            raise invalid_request("The request body must be a JSON object.")
        model_name = body.get("model")
        if not isinstance(model_name, str) or not model_name:
            raise invalid_request("'model' is required and must be a string.", "model")
        call.protocol.validate(call.endpoint, body)
        call.stream = body.get("stream") is True
        call.end_user = end_user_of(body)
        call.purpose = purpose_of(call.purpose)
        call.body = body
        model = self._catalog.get(model_name)
        if model is None:
            raise GatewayError(
                404,
                "model_not_found",
                f"The model '{model_name}' does not exist or you do not have access to it.",
                "model",
            )
        if model.upstream_api != UPSTREAM_API[call.endpoint]:
            raise invalid_request(
                f"The model '{model_name}' is served through the {model.upstream_api} API: "
                f"call {ENTRY_POINT[model.upstream_api]}.",
                "model",
            )
        call.protocol.check_parts(call.endpoint, body, model.content_types)
        call.model = model
