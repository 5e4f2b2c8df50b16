"""Authorize: may this principal call this model? Deny by default."""

from __future__ import annotations

from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError


class Authorize:
    async def __call__(self, call: Call) -> None:
        principal, model = call.principal, call.model
        if principal is None or model is None:
            raise GatewayError(403, "access_denied", "Request is not authorized.")
        if not principal.may_use(model.name):
            raise GatewayError(
                403,
                "access_denied",
                f"This API key is not allowed to use the model '{model.name}'.",
                param="model",
            )
