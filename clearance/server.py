"""The ASGI application ``clearance serve`` runs: gateway, admin API and health checks
in one process, sharing one set of services."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from clearance.admin.app import build_admin_app
from clearance.audit.publish import LogPublisher
from clearance.container import Services, build_services
from clearance.gateway.app import GatewayApp
from clearance.gateway.clientip import ClientAddress
from clearance.gateway.errors import GatewayError
from clearance.gateway.pipeline import Pipeline
from clearance.gateway.stages.authenticate import Authenticate
from clearance.gateway.stages.authorize import Authorize
from clearance.gateway.stages.forward import Forward
from clearance.gateway.stages.meter import Meter
from clearance.gateway.stages.parse import Parse
from clearance.gateway.stages.record import Record
from clearance.gateway.stages.screen import Screen
from clearance.logs import configure_logging
from clearance.portal.views import build_portal_app
from clearance.requestid import RequestIdMiddleware
from clearance.settings import Settings, load_settings

# Beyond this many seconds without a successful state refresh the gateway refuses
# requests (a revocation could be waiting unseen).
MAX_STATE_STALENESS = 5.0


def build_pipeline(services: Services, authenticate: Authenticate) -> Pipeline:
    """The gateway's stages, in order."""
    return Pipeline(
        [
            authenticate,
            Parse(services.catalog),
            Screen(),
            Authorize(services.authorizer),
            Forward(services.upstream, services.catalog),
            Meter(),
        ],
        Record(services.usage_recorder),
    )


def build_gateway(services: Services) -> GatewayApp:
    authenticate = Authenticate(
        services.key_index, services.watcher, services.clock, MAX_STATE_STALENESS
    )
    return GatewayApp(
        build_pipeline(services, authenticate),
        authenticate,
        services.catalog,
        services.authorizer,
        services.clock,
        ClientAddress(services.settings.trusted_proxies),
        services.settings.max_body_bytes,
    )


def build_app(services: Services) -> ASGIApp:
    gateway = build_gateway(services)
    admin = build_admin_app(services)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await services.start_serving()
        tasks = [
            asyncio.create_task(services.watcher.run(), name="state-watcher"),
            asyncio.create_task(
                services.checkpoints.run(services.settings.audit_integrate_interval),
                name="audit-checkpoints",
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.close()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        stale = services.watcher.stale_for()
        ready = stale <= MAX_STATE_STALENESS
        body = {"status": "ready" if ready else "stale", "state_age_seconds": round(stale, 3)}
        return JSONResponse(body, 200 if ready else 503)

    async def not_found(request: Request, _exc: Exception) -> Response:
        error = GatewayError(404, "not_found", f"No route for {request.method} {request.url.path}")
        return Response(error.encode(), 404, media_type="application/json")

    async def not_allowed(request: Request, _exc: Exception) -> Response:
        error = GatewayError(
            405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}"
        )
        return Response(error.encode(), 405, media_type="application/json")

    async def internal_error(_request: Request, _exc: Exception) -> Response:
        error = GatewayError(500, "internal_error", "The server failed to handle the request.")
        return Response(error.encode(), 500, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/admin", app=admin),
            Mount("/portal", app=build_portal_app(services)),
            *LogPublisher(services.tree, services.checkpoints, services.witnesses).routes(),
            *gateway.routes(),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_allowed, Exception: internal_error},
    )
    return RequestIdMiddleware(app)


def create_app() -> ASGIApp:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the
    environment (set by ``clearance serve``)."""
    settings: Settings = load_settings()
    configure_logging(settings)
    return build_app(build_services(settings))
