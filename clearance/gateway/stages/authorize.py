"""Authorize: may this principal call this model? Deny by default."""

from __future__ import annotations

from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.identity.end_users import EndUsers


class Authorize:
    def __init__(self, end_users: EndUsers) -> None:
        self._end_users = end_users

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
        if call.end_user is not None and self._end_users.is_suspended(
            principal.org_id, call.end_user
        ):
            raise GatewayError(
                403, "end_user_suspended", "This end user's access has been suspended."
            )
