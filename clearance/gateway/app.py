"""The data plane's HTTP surface (Starlette): OpenAI-compatible endpoints.

Every response carries ``x-request-id``; every error is in OpenAI's error shape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import orjson
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from clearance.clock import Clock
from clearance.gateway.call import Call
from clearance.gateway.clientip import ClientAddress
from clearance.gateway.errors import GatewayError
from clearance.gateway.pipeline import Pipeline
from clearance.gateway.stages.authenticate import Authenticate
from clearance.policy.authorizer import Authorizer, allowed_models
from clearance.registry.services import ModelCatalog
from clearance.requestid import request_id_of

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"


def credential_of(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.headers.get("x-api-key")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise GatewayError(
            413, "request_too_large", f"Request bodies are limited to {limit} bytes."
        )
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise GatewayError(
                    413, "request_too_large", f"Request bodies are limited to {limit} bytes."
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise GatewayError(400, "client_disconnected", "The client went away.") from None
    return b"".join(chunks)


def error_response(error: GatewayError, request_id: str) -> Response:
    headers = {REQUEST_ID_HEADER: request_id, **error.headers}
    return Response(error.encode(), error.status, headers, media_type="application/json")


class GatewayApp:
    def __init__(
        self,
        pipeline: Pipeline,
        authenticate: Authenticate,
        catalog: ModelCatalog,
        authorizer: Authorizer,
        clock: Clock,
        addresses: ClientAddress,
        max_body_bytes: int,
    ) -> None:
        self._pipeline = pipeline
        self._authenticate = authenticate
        self._catalog = catalog
        self._authorizer = authorizer
        self._clock = clock
        self._addresses = addresses
        self._max_body = max_body_bytes

    def _call(self, request: Request, endpoint: str) -> Call:
        peer = request.client.host if request.client else None
        return Call(
            request_id=request_id_of(request.scope),
            endpoint=endpoint,
            started_at=self._clock.now(),
            started=time.monotonic(),
            credential=credential_of(request),
            client_ip=self._addresses.of(peer, request.headers.get("x-forwarded-for")),
            purpose=request.headers.get("x-clearance-purpose", ""),
        )

    def endpoint(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            call = self._call(request, name)
            try:
                call.raw_body = await read_body(request, self._max_body)
                reply = await self._pipeline.run(call)
            except GatewayError as error:
                log.info("request_refused", endpoint=name, status=error.status, code=error.code)
                return error_response(error, call.request_id)
            return Response(
                reply.body,
                reply.status,
                {REQUEST_ID_HEADER: call.request_id},
                media_type=reply.content_type,
            )

        return handle

    async def list_models(self, request: Request) -> Response:
        """``GET /v1/models``: only the models this key may use."""
        call = self._call(request, "models.list")
        try:
            await self._authenticate(call)
        except GatewayError as error:
            return error_response(error, call.request_id)
        principal = call.principal
        assert principal is not None
        data = [
            {
                "id": model.name,
                "object": "model",
                "created": int(model.created_at.timestamp()),
                "owned_by": "clearance",
            }
            for model in allowed_models(
                self._authorizer,
                principal,
                sorted(self._catalog.all(), key=lambda m: m.name),
                call.client_ip,
            )
        ]
        return Response(
            orjson.dumps({"object": "list", "data": data}),
            headers={REQUEST_ID_HEADER: call.request_id},
            media_type="application/json",
        )

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self.endpoint("chat.completions"), methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
        ]
