"""Who is calling the admin API: an operator presenting a bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from clearance.identity.models import Operator
from clearance.identity.services import Operators

OperatorDependency = Callable[[Request], Awaitable[Operator]]


def operator_dependency(operators: Operators) -> OperatorDependency:
    async def current_operator(request: Request) -> Operator:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401,
                "Send an operator token as 'Authorization: Bearer <token>'.",
                headers={"www-authenticate": "Bearer"},
            )
        operator = await operators.authenticate(token.strip())
        if operator is None:
            raise HTTPException(
                401,
                "The operator token is invalid, expired or revoked.",
                headers={"www-authenticate": "Bearer"},
            )
        return operator

    return current_operator


def actor_of(operator: Operator) -> str:
    return f"operator:{operator.id}"
