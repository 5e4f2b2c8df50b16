"""The data plane's HTTP surface: a bare ASGI application (no framework on the hot
path) serving the OpenAI- and Anthropic-compatible endpoints.

Every response carries ``x-request-id``; every error is in the endpoint's own API
shape (OpenAI's, or Anthropic's for ``/v1/messages``) with a stable machine code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from starlette.types import Receive, Scope, Send

from clearance.clock import Clock
from clearance.gateway.access import AccessLog
from clearance.gateway.call import Call
from clearance.gateway.clientip import ClientAddress
from clearance.gateway.errors import GatewayError
from clearance.gateway.forward import Forwarder, request_id_headers, usage_record
from clearance.gateway.metrics import GatewayMetrics
from clearance.gateway.pipeline import Pipeline
from clearance.gateway.protocols.anthropic import AnthropicProtocol
from clearance.gateway.protocols.base import ApiProtocol
from clearance.gateway.protocols.openai import OpenAIProtocol
from clearance.gateway.stages.authenticate import Authenticate
from clearance.ids import new_id
from clearance.limits.interfaces import RateLimiter
from clearance.policy.authorizer import Authorizer, allowed_models
from clearance.registry.services import ModelCatalog

log = structlog.get_logger(__name__)

OPENAI: ApiProtocol = OpenAIProtocol()
ANTHROPIC: ApiProtocol = AnthropicProtocol()
ENDPOINTS: dict[str, tuple[str, ApiProtocol]] = {
    "/v1/chat/completions": ("chat.completions", OPENAI),
    "/v1/completions": ("completions", OPENAI),
    "/v1/embeddings": ("embeddings", OPENAI),
    "/v1/messages": ("messages", ANTHROPIC),
}


@dataclass(frozen=True)
class Headers:
    """The request headers the gateway reads, found in one pass."""

    authorization: str | None = None
    api_key: str | None = None
    content_length: str | None = None
    forwarded_for: str | None = None
    purpose: str = ""
    anthropic_version: str | None = None

    @classmethod
    def of(cls, scope: Scope) -> Headers:
        found: dict[str, str] = {}
        for name, value in scope["headers"]:
            field = _WANTED.get(name)
            if field is not None:
                found[field] = value.decode("latin-1")
        return cls(**found)

    @property
    def credential(self) -> str | None:
        if self.authorization:
            scheme, _, value = self.authorization.partition(" ")
            return value.strip() if scheme.lower() == "bearer" else None
        return self.api_key


_WANTED = {
    b"authorization": "authorization",
    b"x-api-key": "api_key",
    b"content-length": "content_length",
    b"x-forwarded-for": "forwarded_for",
    b"x-clearance-purpose": "purpose",
    b"anthropic-version": "anthropic_version",
}


async def send_error(
    send: Send, protocol: ApiProtocol, error: GatewayError, request_id: str
) -> None:
    body = protocol.error_body(error, request_id)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        *request_id_headers(protocol.name, request_id),
        *((name.encode(), value.encode()) for name, value in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, "request_too_large", f"Request bodies are limited to {limit} bytes.")


class Gateway:
    def __init__(
        self,
        pipeline: Pipeline,
        authenticate: Authenticate,
        forwarder: Forwarder,
        limiter: RateLimiter,
        catalog: ModelCatalog,
        authorizer: Authorizer,
        clock: Clock,
        addresses: ClientAddress,
        metrics: GatewayMetrics,
        max_body_bytes: int,
        access: AccessLog | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._authenticate = authenticate
        self._forwarder = forwarder
        self._limiter = limiter
        self._catalog = catalog
        self._authorizer = authorizer
        self._clock = clock
        self._addresses = addresses
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        headers = Headers.of(scope)
        endpoint = ENDPOINTS.get(path)
        request_id = new_id("req", 20)
        if endpoint is not None and method == "POST":
            await self._serve(endpoint[0], endpoint[1], scope, headers, request_id, receive, send)
        elif path == "/v1/models" and method == "GET":
            await self._models(scope, headers, request_id, send)
        else:
            protocol = ANTHROPIC if headers.anthropic_version else OPENAI
            known = path in ENDPOINTS or path == "/v1/models"
            error = (
                GatewayError(405, "method_not_allowed", f"{method} is not allowed on {path}")
                if known
                else GatewayError(404, "not_found", f"No route for {method} {path}")
            )
            # Counted and logged as "unknown": the path is the client's text.
            call = self._call("unknown", protocol, scope, headers, request_id)
            call.status, call.error_code = error.status, error.code
            await send_error(send, protocol, error, request_id)
            self._finished(call)

    def flush(self) -> None:
        """Write out what the gateway holds back (access lines): when the server stops."""
        if self._access is not None:
            self._access.flush()

    def _finished(self, call: Call) -> None:
        """Count and log a request that has ended (each exactly once)."""
        self._metrics.finished(call)
        if self._access is not None:
            self._access.finished(call)

    def _call(
        self, name: str, protocol: ApiProtocol, scope: Scope, headers: Headers, request_id: str
    ) -> Call:
        client = scope.get("client")
        return Call(
            request_id=request_id,
            endpoint=name,
            protocol=protocol,
            started_at=self._clock.now(),
            started=time.monotonic(),
            credential=headers.credential,
            client_ip=self._addresses.of(client[0] if client else None, headers.forwarded_for),
            purpose=headers.purpose,
            anthropic_version=headers.anthropic_version,
        )

    async def _serve(
        self,
        name: str,
        protocol: ApiProtocol,
        scope: Scope,
        headers: Headers,
        request_id: str,
        receive: Receive,
        send: Send,
    ) -> None:
        call = self._call(name, protocol, scope, headers, request_id)
        try:
            if protocol is ANTHROPIC and not headers.anthropic_version:
                raise GatewayError(
                    400,
                    "invalid_request_error",
                    "anthropic-version: header is required.",
                    "anthropic-version",
                )
            call.raw_body = await self._read_body(headers, receive)
            await self._pipeline.admit(call)
            if call.stream:
                await self._forwarder.stream(call, receive, send)
            else:
                await self._forwarder.whole(call, send)
        except GatewayError as error:
            await self._refuse(call, error, send)
        except Exception:  # a bug: the server answers 500
            call.status, call.error_code = 500, "internal_error"
            raise
        finally:
            if call.admission is not None:
                self._limiter.release(call.admission, call.usage.total or 0, self._clock.now())
            self._finished(call)

    async def _refuse(self, call: Call, error: GatewayError, send: Send) -> None:
        call.status, call.error_code = error.status, error.code
        if call.principal is not None:
            try:
                record = usage_record(call, error.status, error.code)
                await self._forwarder.durably(record, refused=True)
            except GatewayError:
                log.error(
                    "usage_record_lost_for_refusal", request_id=call.request_id, code=error.code
                )
        await send_error(send, call.protocol, error, call.request_id)

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes:
        limit = self._max_body
        declared = headers.content_length
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise GatewayError(400, "client_disconnected", "The client went away.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _models(self, scope: Scope, headers: Headers, request_id: str, send: Send) -> None:
        """``GET /v1/models``: only the models this key may use (OpenAI's list shape, or
        Anthropic's when the request carries ``anthropic-version``)."""
        protocol = ANTHROPIC if headers.anthropic_version else OPENAI
        call = self._call("models.list", protocol, scope, headers, request_id)
        try:
            await self._authenticate(call)
        except GatewayError as error:
            call.status, call.error_code = error.status, error.code
            await send_error(send, protocol, error, request_id)
            self._finished(call)
            return
        assert call.principal is not None
        models = sorted(self._catalog.all(), key=lambda m: m.name)
        visible = allowed_models(self._authorizer, call.principal, models, call.client_ip)
        document: dict[str, Any]
        if protocol is ANTHROPIC:
            data = [
                {
                    "type": "model",
                    "id": m.name,
                    "display_name": m.name,
                    "created_at": m.created_at.isoformat(),
                }
                for m in visible
            ]
            document = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        else:
            document = {
                "object": "list",
                "data": [
                    {
                        "id": m.name,
                        "object": "model",
                        "created": int(m.created_at.timestamp()),
                        "owned_by": "clearance",
                    }
                    for m in visible
                ],
            }
        body = orjson.dumps(document)
        response_headers = [
            (b"content-type", b"application/json"),
            *request_id_headers(protocol.name, request_id),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})
        self._finished(call)
