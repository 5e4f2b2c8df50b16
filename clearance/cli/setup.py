"""``clearance init``, ``serve``, ``demo`` and ``db upgrade``."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer
import uvicorn

from clearance import installation
from clearance.accounts.models import Operator, OperatorRole
from clearance.cli import serving
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    err_console,
    local_actor,
    print_json,
    reported_errors,
    settings_for,
    with_services,
)
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.db.database import Database
from clearance.demo import stub_upstream
from clearance.errors import SetupError
from clearance.identity.keys import KeyScope
from clearance.identity.models import IssuedSecret
from clearance.logs import configure_logging
from clearance.policy.source import PolicyError
from clearance.program.document import read_policy_dir
from clearance.registry.models import ModelSpec
from clearance.settings import Settings, export_for_workers

DEMO_MODEL = "demo-model"


def _default_origin() -> str:
    return f"{socket.gethostname()}/clearance/{secrets.token_hex(4)}"


async def _first_admin(services: Services, name: str) -> tuple[Operator, str, IssuedSecret]:
    if await services.operators.count():
        raise SetupError(
            "the database already holds a Clearance installation; "
            "point database_url at an empty database or schema"
        )
    operator, initial, token = await services.operators.create(
        local_actor(), name, OperatorRole.ADMIN, with_token=True
    )
    assert token is not None
    return operator, initial, token


def init_command(
    data_dir: DataDir = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing data directory (deletes it).")
    ] = False,
    admin_name: Annotated[str, typer.Option(help="Name of the first admin operator.")] = "admin",
    log_origin: Annotated[
        str | None,
        typer.Option(help="The audit log's origin (its public name) [default: host-based]."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="Keep state in this database (e.g. postgresql+asyncpg://…)."),
    ] = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Create a data directory: database, secrets, signing key and a first admin."""
    settings = settings_for(data_dir, database_url=database_url)
    with reported_errors():
        installation.create(settings, log_origin or _default_origin(), database_url, force)
        settings = settings_for(settings.data_dir)
    operator, initial, token = with_services(settings, lambda s: _first_admin(s, admin_name))
    if output is Output.JSON:
        print_json(
            {
                "data_dir": str(settings.data_dir),
                "operator_id": operator.id,
                "token": token.secret,
                "initial_password": initial,
            }
        )
        return
    console.print(f"Initialized Clearance in [bold]{settings.data_dir}[/bold].")
    console.print(
        f"Admin operator [bold]{operator.name}[/bold] ({operator.id}). Shown only once — "
        "store them now:"
    )
    console.print(
        f"  API token (for the CLI: export CLEARANCE_TOKEN=…): {token.secret}", highlight=False
    )
    console.print(
        f"  console password (TOTP is enrolled at first sign-in): {initial}", highlight=False
    )


def _run_server(settings: Settings, workers: int) -> None:
    """Serve until stopped. A failed start — the port taken, the database unreachable,
    the application's startup failing — is one ``error:`` line and exit status 1."""
    with reported_errors():
        serving.check_tls(settings)
        sock = serving.listen(settings)  # first: a port in use is said at once
        with serving.startup_errors(settings):
            installation.read_server_secret(settings)
            asyncio.run(_prepare(settings))
    configure_logging(settings)
    if workers > 1:
        export_for_workers(settings)
        serving.run_workers(sock, settings, workers)
        return
    # The web application (FastAPI and all) loads only to serve: every other command
    # starts faster without it.
    from clearance.server import build_app  # noqa: PLC0415

    with reported_errors(), serving.startup_errors(settings):
        app = build_app(build_services(settings))
    serving.run(app, sock, settings)


async def _prepare(settings: Settings) -> None:
    """Before serving: the schema up to date, and a policy set that compiles — applied
    from ``policy_dir`` if one is configured. Refuses (naming file and line) otherwise.

    The schema comes first, on a database of its own: an unreachable database fails
    there, before services are built whose closing would fail on it once more."""
    await _upgrade(settings)
    services = build_services(settings)
    try:
        if settings.policy_dir is not None:
            files = read_policy_dir(settings.policy_dir)
            try:
                await services.policies.apply(local_actor(), files)
            except PolicyError as exc:
                raise SetupError(f"invalid policy in {settings.policy_dir}: {exc}") from None
        active = await services.policies.active()
        try:
            services.policies.compile(active.files)
        except PolicyError as exc:
            raise SetupError(
                f"the policy set in force (version {active.version}) is invalid: {exc}"
            ) from None
    finally:
        await services.close()


async def _upgrade(settings: Settings) -> None:
    db = Database(settings.effective_database_url, schema=settings.database_schema)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


def serve_command(
    data_dir: DataDir = None,
    policy_dir: Annotated[
        Path | None,
        typer.Option(help="Apply this directory's *.cedar files as the policy set at start."),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8080].")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(
            help="Serve HTTPS with this PEM certificate (chain) [default: plain HTTP].",
            dir_okay=False,
        ),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option(
            help="The certificate's private key, PEM, unencrypted "
            "[default: in the certificate file].",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the gateway (/v1), the admin API (/admin) and health checks."""
    settings = settings_for(
        data_dir,
        host=host,
        port=port,
        policy_dir=policy_dir,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    _run_server(settings, workers)


def db_upgrade_command(data_dir: DataDir = None) -> None:
    """Bring the database schema up to date (serve and every command also do this)."""
    settings = settings_for(data_dir)
    with reported_errors():
        asyncio.run(_upgrade(settings))
    console.print("Database schema is up to date.")


def _start_stub_upstream() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        stub_upstream.StubUpstream(), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])),
        name="stub-upstream",
        daemon=True,
    ).start()
    return port


async def _load_demo(services: Services, upstream_port: int) -> str:
    actor = local_actor()
    await services.operators.create(actor, "admin", OperatorRole.ADMIN)
    await services.models.add(
        actor,
        DEMO_MODEL,
        ModelSpec(upstream_url=f"http://127.0.0.1:{upstream_port}/v1", upstream_model="echo"),
    )
    org = await services.organizations.add_direct(
        actor, "Demo Research Lab", "US", "demo installation created by 'clearance demo'"
    )
    await services.entitlements.grant(actor, org.id, DEMO_MODEL, [])
    issued = await services.keys.create(actor, org.id, KeyScope())
    return issued.secret


def _interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


@contextmanager
def _throwaway(data_dir: Path, keep: bool) -> Iterator[None]:
    """The demo's data directory while the demo runs: removed once it stops — Ctrl-C,
    SIGTERM or a failed start alike — unless ``keep``, when one line says where it is.

    SIGTERM is taken as a Ctrl-C. uvicorn shuts down gracefully on either, then raises
    the signal again, to end as it would have; SIGTERM's default action would then kill
    the process before anything here runs, and leave the directory behind."""
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if keep:
            console.print(f"Demo data kept in {data_dir}", highlight=False, soft_wrap=True)
        else:
            try:
                shutil.rmtree(data_dir)
            except FileNotFoundError:
                pass
            except OSError as exc:
                err_console.print(
                    f"warning: could not remove the demo's data directory {data_dir}: "
                    f"{serving.reason(exc)}",
                    highlight=False,
                    soft_wrap=True,
                )


def demo_command(
    port: Annotated[int, typer.Option(help="Port for Clearance.")] = 8080,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Put the demo's data directory here (an empty or new one), and keep it "
            "[default: a new temporary directory, removed when the demo stops].",
            file_okay=False,
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the temporary data directory when the demo stops."),
    ] = False,
) -> None:
    """Run a throwaway demo with a stand-in upstream, one model, org and key.

    The demo gets a fresh data directory, removed when it stops (Ctrl-C or SIGTERM)
    unless --keep or --data-dir is given; its upstream is a test double that echoes,
    not a model.
    """
    # A directory the user named is theirs: only one made here is thrown away.
    keep = keep or data_dir is not None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="clearance-demo-"))
    with _throwaway(data_dir, keep):
        _run_demo(data_dir, port, keep)


def _run_demo(data_dir: Path, port: int, keep: bool) -> None:
    settings = settings_for(data_dir, port=port, log_json=False, log_level="warning")
    with reported_errors():
        installation.create(settings, f"demo.clearance.invalid/{secrets.token_hex(4)}")
    upstream_port = _start_stub_upstream()
    key = with_services(settings, lambda s: _load_demo(s, upstream_port))
    base = f"http://127.0.0.1:{port}"
    body = f'{{"model": "{DEMO_MODEL}", "messages": [{{"role": "user", "content": "Hello"}}]}}'
    console.print(f"\nClearance demo in [bold]{data_dir}[/bold]")
    console.print(
        f"Model [bold]{DEMO_MODEL}[/bold] → stand-in upstream on 127.0.0.1:{upstream_port} "
        "(a demo double that echoes; no real model)\n"
    )
    console.print("Try it with curl:\n")
    console.print(
        f"curl {base}/v1/chat/completions -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -d '{body}'\n",
        highlight=False,
        soft_wrap=True,
    )
    console.print("or with the openai SDK (pip install openai):\n")
    console.print(
        "from openai import OpenAI\n"
        f'client = OpenAI(base_url="{base}/v1", api_key="{key}")\n'
        f'reply = client.chat.completions.create(model="{DEMO_MODEL}", '
        'messages=[{"role": "user", "content": "Hello"}])\n'
        "print(reply.choices[0].message.content)\n",
        highlight=False,
        soft_wrap=True,
    )
    then = "" if keep else " (and remove the data directory)"
    console.print(f"Serving on {base} — press Ctrl-C to stop{then}.")
    _run_server(settings, workers=1)
