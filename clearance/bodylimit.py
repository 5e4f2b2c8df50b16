"""Request-body limits for everything outside ``/v1``, enforced while the body is read.

The gateway limits its own bodies. The control plane (FastAPI, Starlette) reads a body
whole before it parses it, so without a limit in front of it anyone — signed in or not —
could make the server hold a body of any size in memory. This middleware answers 413
as soon as the declared ``Content-Length``, or the bytes received so far, pass the
route's limit, and never hands the application more than that. Routes that answer
before anyone has signed in get a small limit, program and policy uploads a larger one,
everything else the control-plane limit.

A refused request's connection is closed (``connection: close``): the rest of its body
is never read.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clearance.admin.errors import error_body
from clearance.settings import Settings

# Longer than any Content-Length worth parsing (and than int() accepts by default).
_MAX_DIGITS = 18


@dataclass(frozen=True)
class BodyLimits:
    """The largest body each route may send: the first matching path prefix wins."""

    default: int
    prefixes: tuple[tuple[str, int], ...] = ()

    def for_path(self, path: str) -> int:
        for prefix, limit in self.prefixes:
            if path.startswith(prefix):
                return limit
        return self.default


def body_limits(settings: Settings) -> BodyLimits:
    """The limits ``settings`` ask for, by route."""
    login = settings.max_login_body_bytes
    upload = settings.max_upload_body_bytes
    return BodyLimits(
        default=settings.max_control_body_bytes,
        prefixes=(
            # Unauthenticated: sign-in and enrolment, the e-mailed link, witnesses.
            ("/admin/v1/auth/", login),
            ("/portal/v1/auth/", login),
            ("/verify-email/", login),
            ("/log/", login),
            # Operators upload whole program files and policy sets.
            ("/admin/v1/program", upload),
            ("/admin/v1/policy", upload),
        ),
    )


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; one too long to parse counts as huge."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if len(value) > _MAX_DIGITS or not value.isdigit():
                return 1 << 62
            return int(value)
    return None


class BodyLimit:
    """ASGI middleware: bodies beyond the route's limit get 413 and are not read."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        guard = _Guard(scope, receive, send, limit)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.refused:
                raise
            # The application failed on the body it was denied, after the 413 went.


def _too_large(limit: int) -> ASGIApp:
    response = error_body(
        413, "request_too_large", f"Request bodies here are limited to {limit} bytes."
    )
    response.headers["connection"] = "close"
    return response


class _Guard:
    """One request's receive and send, counting body bytes as they arrive."""

    __slots__ = (
        "_receive",
        "_scope",
        "_send",
        "answered",
        "limit",
        "received",
        "refused",
        "started",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self.limit = limit
        self.received = 0
        self.refused = False
        self.started = False  # the application's response
        self.answered = False  # the 413, instead of it

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                await self._refuse()
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the 413 is the answer; the application's own is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _refuse(self) -> None:
        self.refused = True
        if self.started:
            return  # too late for a 413: the application sees the client as gone
        self.answered = True

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await _too_large(self.limit)(self._scope, nothing, self._send)
