"""Request ids: every response carries ``x-request-id`` and every log line written
while serving it carries the same id."""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearance.ids import new_id

HEADER = b"x-request-id"
SCOPE_KEY = "clearance.request_id"


def request_id_of(scope: Scope) -> str:
    value = scope.get(SCOPE_KEY)
    return value if isinstance(value, str) else new_id("req", 20)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req", 20)
        scope[SCOPE_KEY] = request_id
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == HEADER for name, _ in headers):
                    headers.append((HEADER, encoded))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)
