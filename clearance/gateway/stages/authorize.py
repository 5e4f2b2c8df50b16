"""Authorize: ask the policy set (Cedar) whether this principal may do this with this
model, given what the request declares and what screening found. Deny by default;
the refusal names the deciding policies and carries their machine code."""

from __future__ import annotations

from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.policy.authorizer import Authorizer, Question

ACTIONS = {
    "chat.completions": "invoke",
    "completions": "invoke",
    "messages": "invoke",
    "embeddings": "embed",
}


class Authorize:
    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    async def __call__(self, call: Call) -> None:
        principal, model = call.principal, call.model
        if principal is None or model is None:
            raise GatewayError(403, "access_denied", "Request is not authorized.")
        question = Question(
            action=ACTIONS.get(call.endpoint, "invoke"),
            purpose=call.purpose,
            categories=call.categories,
            source_ip=call.client_ip,
            end_user=call.end_user,
        )
        decision = self._authorizer.decide(principal, model, question)
        call.decision = decision
        if not decision.allowed:
            raise GatewayError(
                403,
                decision.code or "access_denied",
                f"The request was {decision.reason}.",
                param="model" if decision.code == "access_denied" else None,
            )
