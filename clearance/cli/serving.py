"""Running the server for ``clearance serve``: uvicorn with Clearance's HTTP limits, and
a start that fails naming its cause in one ``error:`` line, with exit status 1.

Left to itself, uvicorn reports a failed start its own way: the traceback of a failing
application startup (twice, with every chained exception), a bind error only after the
whole application has started, exit status 3. Here the listening socket is bound
before anything else starts, the exception a failing startup raised is kept instead of
logged, and each becomes one line, as every other command's errors do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp
from uvicorn.lifespan.on import LifespanOn, LifespanSendMessage
from uvicorn.supervisors import Multiprocess

from clearance.cli.common import fail
from clearance.errors import ClearanceError, SetupError
from clearance.httpserver import HttpLimits, LimitedConfig
from clearance.settings import Settings

STARTUP_FAILURE = 3  # what uvicorn's worker supervisor takes for "would fail again"

log = logging.getLogger("uvicorn.error")

# The lifespan's own error lines (a traceback) are replaced by one line of ours.
_lifespan_log = logging.getLogger("clearance.serve.lifespan")
_lifespan_log.addFilter(lambda record: record.levelno < logging.ERROR)

_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror)


def reason(exc: OSError) -> str:
    """An OS error's cause in words: "address already in use", "connection refused"."""
    if exc.errno is not None and exc.errno > 0:
        text = os.strerror(exc.errno)
    else:
        text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0].strip() if lines else type(exc).__name__


def shown_url(settings: Settings) -> str:
    """The database URL, fit to print (no password)."""
    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


def describe(exc: BaseException, database: str | None) -> str:
    """One line naming why the server could not start (``database``: the URL of the
    database it uses, to name when that is what failed)."""
    if isinstance(exc, ClearanceError):
        return exc.message
    if isinstance(exc, ValidationError):
        return f"invalid settings: {first_line(exc)}"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(cause, _UNREACHABLE):
        where = f" at {database}" if database else ""
        return f"cannot reach the database{where}: {reason(cause)}"
    if isinstance(exc, DBAPIError):
        return f"the database failed: {first_line(cause)}"
    return f"the server could not start: {type(exc).__name__}: {first_line(exc)}"


@contextmanager
def startup_errors(settings: Settings) -> Iterator[None]:
    """Any error in here becomes a :class:`SetupError` naming its cause in one line."""
    try:
        yield
    except (ClearanceError, ValidationError):
        raise
    except Exception as exc:
        raise SetupError(describe(exc, shown_url(settings))) from None


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(settings: Settings) -> socket.socket:
    """The server's socket, bound before anything else starts (so a port already in use
    is said at once) and inheritable by worker processes."""
    host, port = settings.host, settings.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SetupError(f"cannot listen on {_where(host, port)}: {reason(exc)}") from None
    sock.set_inheritable(True)
    return sock


def check_tls(settings: Settings) -> None:
    """Refuse, naming the file and why, a certificate or key that will not serve TLS
    (uvicorn would only find out once the application had started)."""
    if settings.ssl_certfile is None:
        if settings.ssl_keyfile is not None:
            raise SetupError("ssl_keyfile is set without ssl_certfile")
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    except ssl.SSLError as exc:
        raise SetupError(
            f"cannot serve TLS with {settings.ssl_certfile}"
            f"{f' and {settings.ssl_keyfile}' if settings.ssl_keyfile else ''}: "
            f"{exc.reason or first_line(exc)}"
        ) from None
    except OSError as exc:
        where = exc.filename or settings.ssl_certfile
        raise SetupError(f"cannot read {where}: {reason(exc)}") from None


class ReportingLifespan(LifespanOn):
    """uvicorn's lifespan protocol, keeping the exception a failed startup raised and
    saying it in one ``error:`` line (in whichever process it failed)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.logger = _lifespan_log
        self.failure: BaseException | None = None

    async def main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.config.loaded_app(scope, self.receive, self.send)
        except BaseException as exc:
            self.error_occurred = True
            self.failure = exc
        finally:
            self.startup_event.set()
            self.shutdown_event.set()

    async def send(self, message: LifespanSendMessage) -> None:
        if message["type"] == "lifespan.startup.failed":
            message = {"type": "lifespan.startup.failed", "message": ""}
        elif message["type"] == "lifespan.shutdown.failed":
            message = {"type": "lifespan.shutdown.failed", "message": ""}
        await super().send(message)

    async def startup(self) -> None:
        await super().startup()
        if self.should_exit:
            self._report("startup")

    async def shutdown(self) -> None:
        await super().shutdown()
        self._report("shutdown")

    def _report(self, stage: str) -> None:
        failure, self.failure = self.failure, None
        if stage == "shutdown":
            if failure is not None and not isinstance(failure, asyncio.CancelledError):
                fail(f"the server's shutdown failed: {first_line(failure)}")
            return
        if failure is None:
            fail("the server could not start (its startup failed)")
        else:
            database = self.config.database if isinstance(self.config, ServeConfig) else None
            fail(describe(failure, database))


class ServeConfig(LimitedConfig):
    """uvicorn's configuration for ``clearance serve``. It is pickled to worker
    processes, so it keeps only plain values (the workers load the settings themselves)."""

    def __init__(self, app: Any, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(app, http_limits=HttpLimits.of(settings), **kwargs)
        self.database = shown_url(settings)

    def load(self) -> None:
        super().load()
        self.lifespan_class = ReportingLifespan


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens once it does (uvicorn only says so for
    a socket it bound itself)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and sockets:
            log.info("Serving on %s", _url(sockets[0], self.config.is_ssl))


def _url(sock: socket.socket, tls: bool) -> str:
    host, port = sock.getsockname()[:2]
    return f"{'https' if tls else 'http'}://{_where(host, port)}"


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
        # Client addresses are Clearance's to resolve (``trusted_proxies``): uvicorn's
        # own rewriting would believe any X-Forwarded-For arriving from loopback.
        "proxy_headers": False,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "settings": settings,
    }


def run(app: ASGIApp, sock: socket.socket, settings: Settings) -> None:
    """Serve ``app`` on ``sock`` in this process until told to stop."""
    server = _Server(ServeConfig(app, **_options(settings)))
    try:
        server.run(sockets=[sock])
    except SystemExit:
        pass  # a failed start: the lifespan said why
    except KeyboardInterrupt:
        return
    except OSError as exc:  # the socket would not listen
        where = _where(settings.host, settings.port)
        raise fail(f"cannot listen on {where}: {reason(exc)}") from None
    if not server.started:
        raise typer.Exit(1)


def run_workers(sock: socket.socket, settings: Settings, workers: int) -> None:
    """Serve with ``workers`` processes sharing ``sock``, each building the application
    from the settings in its environment."""
    config = ServeConfig(
        "clearance.cli.serving:worker_app", factory=True, workers=workers, **_options(settings)
    )
    log.info("Serving on %s with %d workers", _url(sock, config.is_ssl), workers)
    supervisor = Multiprocess(config, sockets=[sock])
    try:
        supervisor.run()
    except KeyboardInterrupt:
        return
    if any(p.process.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise typer.Exit(1)  # the worker said why


def worker_app() -> ASGIApp:
    """A worker process's application; if it cannot be built, one ``error:`` line and
    the exit status that stops the supervisor restarting it forever."""
    from clearance.server import create_app  # noqa: PLC0415 (only workers need it)
    from clearance.settings import load_settings  # noqa: PLC0415

    try:
        return create_app()
    except Exception as exc:
        try:
            database: str | None = shown_url(load_settings())
        except Exception:  # the failure itself says what is wrong with them
            database = None
        fail(describe(exc, database))
        sys.exit(STARTUP_FAILURE)
