"""The ASGI application ``clearance serve`` runs: gateway, admin API and health checks
in one process, sharing one set of services."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from clearance.admin.app import build_admin_app
from clearance.audit.publish import LogPublisher
from clearance.bodylimit import BodyLimit, body_limits
from clearance.container import Services, build_services, purge_monitoring
from clearance.gateway.access import AccessLog
from clearance.gateway.asgi import Gateway
from clearance.gateway.clientip import ClientAddress
from clearance.gateway.errors import GatewayError
from clearance.gateway.forward import Forwarder
from clearance.gateway.output import OutputScreen
from clearance.gateway.pipeline import Pipeline
from clearance.gateway.stages.authenticate import Authenticate
from clearance.gateway.stages.authorize import Authorize
from clearance.gateway.stages.limit import Limit
from clearance.gateway.stages.parse import Parse
from clearance.gateway.stages.screen import Screen, TextSink
from clearance.logs import configure_logging, line_writer, logs_at
from clearance.monitoring.health import MonitorWatch
from clearance.portal.views import build_portal_app
from clearance.requestid import RequestIdMiddleware
from clearance.settings import Settings, load_settings
from clearance.vetting.public import build_verify_app

log = structlog.get_logger(__name__)

# Beyond this many seconds without a successful state refresh the gateway refuses
# requests (a revocation could be waiting unseen).
MAX_STATE_STALENESS = 5.0

GC_YOUNG_THRESHOLD = 10_000
GIL_SWITCH_INTERVAL = 0.001


def build_gateway(services: Services) -> Gateway:
    """The data plane: its stages, in order, then forwarding."""
    s = services
    authenticate = Authenticate(s.key_index, s.watcher, s.clock, MAX_STATE_STALENESS)
    pipeline = Pipeline(
        [
            authenticate,
            Parse(s.catalog),
            Screen(s.content_classifier, texts_for_monitor(s)),
            Authorize(s.authorizer),
            Limit(s.limiter, s.entitlement_index, s.throttles),
        ]
    )
    output = OutputScreen(s.content_classifier, s.authorizer)
    forwarder = Forwarder(s.upstreams, s.catalog, s.usage_recorder, s.clock, s.metrics, output)
    return Gateway(
        pipeline,
        authenticate,
        forwarder,
        s.limiter,
        s.catalog,
        s.authorizer,
        s.clock,
        ClientAddress(s.settings.trusted_proxies),
        s.metrics,
        s.settings.max_body_bytes,
        access_log(s.settings),
    )


def access_log(settings: Settings) -> AccessLog | None:
    """The gateway's access log, unless turned off (or below the log level)."""
    if not settings.access_log or not logs_at(settings, "info"):
        return None
    return AccessLog(line_writer() if settings.log_json else None)


def texts_for_monitor(services: Services) -> TextSink | None:
    """Where the screen stage leaves request texts: the monitor's process, its feed in
    this process, or nowhere (no monitor)."""
    if not services.settings.monitor_enabled:
        return None
    return services.monitor_process or services.content_feed


class Root:
    """Send ``/v1/…`` straight to the gateway (no middleware on the hot path) and
    everything else to the control-plane application."""

    def __init__(self, gateway: ASGIApp, control: ASGIApp) -> None:
        self._gateway = gateway
        self._control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self._gateway(scope, receive, send)
        else:
            await self._control(scope, receive, send)


def tune_for_latency() -> None:
    """Keep the runtime's housekeeping off the latency path.

    Everything alive once the server has started (the libraries, the loaded state:
    ~100k objects) is moved out of the cyclic garbage collector's sight — a full
    collection over it takes ~60 ms, a stall for every request in flight — and young
    collections run less often. And the interpreter hands the GIL over every
    millisecond instead of every five, so the event loop waits at most that long for
    a background thread (the usage sealer digesting rows, say)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


REVETTING_INTERVAL = 3600.0


async def revetting_forever(services: Services) -> None:
    """Once an hour: expire approvals past re-vetting, remind those soon due."""
    reminder = timedelta(days=services.settings.revet_reminder_days)
    while True:
        try:
            await services.aftercare.revetting("system", reminder)
        except Exception:
            log.exception("revetting_failed")
        await asyncio.sleep(REVETTING_INTERVAL)


PURGE_INTERVAL = 3600.0


async def purging_forever(services: Services) -> None:
    """Once an hour: delete retained content past its time, and the monitor's results
    older than ``topic_days``."""
    while True:
        try:
            await purge_monitoring(services)
        except Exception:
            log.exception("content_purge_failed")
        await asyncio.sleep(PURGE_INTERVAL)


def monitor_watch(services: Services) -> MonitorWatch | None:
    settings = services.settings
    if not settings.monitor_enabled:
        return None
    return MonitorWatch(
        services.db,
        services.clock,
        services.alerts,
        services.monitor_process,
        settings.monitor_max_lag,
        services.metrics.registry,
    )


def readiness(services: Services, watch: MonitorWatch | None) -> Callable[[Request], Any]:
    """``/readyz``: 200 only if this instance can do its job, else 503 with the reasons
    (a load balancer then takes it out)."""

    async def readyz(_request: Request) -> Response:
        """Ready only if this instance can do its job: its view of keys and models is
        current, and usage is being monitored (its monitor runs and keeps up)."""
        stale = services.watcher.stale_for()
        problems = []
        if stale > MAX_STATE_STALENESS:
            problems.append(f"the access state is {stale:.1f} s old")
        body: dict[str, object] = {"state_age_seconds": round(stale, 3)}
        if watch is not None:
            health = watch.state
            body["monitor"] = {
                "running": health.running,
                "lag_seconds": round(health.lag_seconds, 3),
            }
            if health.problem is not None:
                problems.append(health.problem)
        body = {"status": "not_ready" if problems else "ready", "problems": problems, **body}
        return JSONResponse(body, 503 if problems else 200)

    return readyz


def build_app(services: Services) -> ASGIApp:
    gateway = build_gateway(services)
    admin = build_admin_app(services)
    watch = monitor_watch(services)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await services.start_serving()
        services.content_classifier.inline(["warm up"])  # load it before the first request
        tune_for_latency()
        tasks = [
            asyncio.create_task(services.watcher.run(), name="state-watcher"),
            asyncio.create_task(
                services.checkpoints.run(services.settings.audit_integrate_interval),
                name="audit-checkpoints",
            ),
            asyncio.create_task(
                services.usage_sealer.run(services.settings.usage_seal_interval),
                name="usage-sealer",
            ),
            asyncio.create_task(services.db.checkpoint_forever(1.0), name="sqlite-checkpoints"),
            asyncio.create_task(revetting_forever(services), name="revetting"),
            asyncio.create_task(purging_forever(services), name="content-purge"),
        ]
        if services.monitor_process is not None:
            tasks.append(asyncio.create_task(services.monitor_process.run(), name="monitor"))
        elif services.settings.monitor_enabled:
            task = asyncio.create_task(
                services.monitor.run(services.settings.monitor_interval), name="monitor"
            )
            if watch is not None:
                watch.attach(task)
            tasks.append(task)
        if watch is not None:
            tasks.append(asyncio.create_task(watch.run(), name="monitor-health"))
        try:
            yield
        finally:
            try:  # usage in the database before the monitor's last look at it
                await services.usage_recorder.flush()
            except Exception:  # closing stores it, or the next start does
                log.exception("usage_flush_failed_at_shutdown")
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            gateway.flush()
            await services.close()

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    readyz = readiness(services, watch)

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
            Route("/metrics", metrics),
            Mount("/admin", app=admin),
            Mount("/portal", app=build_portal_app(services)),
            Mount("/verify-email", app=build_verify_app(services.vetting_checks)),
            *LogPublisher(services.tree, services.checkpoints, services.witnesses).routes(),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_allowed, Exception: internal_error},
    )
    # Bodies are limited here, inside the request id (a 413 carries one too); the
    # gateway limits its own, with no middleware on its path.
    control = BodyLimit(app, body_limits(services.settings))
    return Root(gateway, RequestIdMiddleware(control))


def create_app() -> ASGIApp:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the
    environment (set by ``clearance serve``)."""
    settings: Settings = load_settings()
    configure_logging(settings)
    return build_app(build_services(settings))
