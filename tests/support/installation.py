"""A real installation, bootstrapped with the CLI exactly as a script would, serving on
127.0.0.1 (``clearance serve`` as its own process)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import CONSOLE_SCRIPT, PYTHON, clearance, free_port, running

Cli = Callable[..., str]
Setup = Callable[[Cli], str]

# Seal usage and checkpoint often, so tests see their entries published quickly.
FAST_AUDIT = {
    "CLEARANCE_AUDIT_CHECKPOINT_SECONDS": "0.2",
    "CLEARANCE_AUDIT_INTEGRATE_INTERVAL": "0.1",
    "CLEARANCE_USAGE_SEAL_INTERVAL": "0.1",
}


@dataclass(frozen=True)
class Installed:
    data_dir: Path
    admin_token: str
    api_key: str


@dataclass(frozen=True)
class Live:
    base_url: str
    api_key: str
    admin_token: str
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] | None = None
    """What every command of this installation runs with (a PostgreSQL database, say)."""

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}

    def cli(self, *args: str, check: bool = True) -> str:
        return clearance(
            *args,
            "--data-dir",
            str(self.data_dir),
            check=check,
            token=self.admin_token,
            env=self.env,
        ).stdout


def install(root: Path, setup: Setup | None = None, env: dict[str, str] | None = None) -> Installed:
    """``clearance init``, then ``setup(cli)`` (CLI calls, as the first admin, returning an
    API key); ``env`` for every command (a PostgreSQL database, say)."""
    data = root / "data"
    init = json.loads(
        clearance("init", "--data-dir", str(data), "--output", "json", env=env).stdout
    )

    def cli(*args: str) -> str:
        return clearance(*args, "--data-dir", str(data), token=init["token"], env=env).stdout

    key = setup(cli) if setup is not None else ""
    return Installed(data_dir=data, admin_token=init["token"], api_key=key)


@contextmanager
def serve(
    installed: Installed,
    log: Path,
    workers: int = 1,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Live]:
    """``clearance serve`` on a free port until the block ends (started as a user types
    it, from ``cwd`` if given)."""
    port = free_port()
    dd = ("--data-dir", str(installed.data_dir))
    command = [PYTHON, "-m", "clearance"] if cwd is None else [CONSOLE_SCRIPT]
    with running(
        [*command, "serve", *dd, "--port", str(port), "--workers", str(workers)],
        f"http://127.0.0.1:{port}/healthz",
        log,
        env={**FAST_AUDIT, **(env or {})},
        cwd=cwd,
    ) as process:
        yield Live(
            base_url=f"http://127.0.0.1:{port}",
            api_key=installed.api_key,
            admin_token=installed.admin_token,
            data_dir=installed.data_dir,
            log=log,
            process=process,
            env=env,
        )


@contextmanager
def serving(
    root: Path,
    setup: Setup | None = None,
    workers: int = 1,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Live]:
    """A new installation (see :func:`install`) served until the block ends."""
    with serve(install(root, setup, env), root / "serve.log", workers, env, cwd) as live:
        yield live


MODELS = {
    "stub-fixed": "stub-fixed",
    "failing": "status-500",
    "garbled": "invalid-json",
    "breaking": "echo+chunk-delay-50+break-3",
    "slow-stream": "echo+chunk-delay-200",
}


def models_program(upstream_url: str) -> str:
    """The live installation's other models, as a program file."""
    lines = ["models:"]
    for name, upstream_model in MODELS.items():
        lines.append(
            f"  {name}: {{upstream_url: '{upstream_url}', upstream_model: '{upstream_model}'}}"
        )
    lines.append(f"  unreachable: {{upstream_url: 'http://127.0.0.1:{free_port()}/v1'}}")
    base = upstream_url.removesuffix("/v1")
    lines.append(
        f"  claude-stub: {{upstream_url: '{base}', upstream_api: anthropic, upstream_model: echo}}"
    )
    return "\n".join(lines) + "\n"


@contextmanager
def live_installation(root: Path, upstream_url: str) -> Iterator[Live]:
    """An installation with the stand-in upstream's models, an organization entitled to
    them, and a key."""

    def setup(cli: Cli) -> str:
        cli(
            "models", "add", "stub-chat", "--upstream-url", upstream_url, "--upstream-model", "echo"
        )
        program = root / "models.yaml"
        program.write_text(models_program(upstream_url))
        cli("apply", "-f", str(program))
        cli("orgs", "add", "Acme Research", "--country", "US", "--reason", "test partner")
        names = ["stub-chat", *MODELS, "unreachable", "claude-stub"]
        grants = [arg for name in names for arg in ("--model", name)]
        cli("entitlements", "grant", "--org", "Acme Research", *grants)
        key = json.loads(cli("keys", "create", "--org", "Acme Research", "--output", "json"))
        return str(key["key"])

    with serving(root, setup) as live:
        yield live


def finished_usage(live: Live, request_id: str, timeout: float = 5) -> dict[str, object]:
    """A request's usage record once it is complete (a stream's outcome follows its
    last byte by up to a few milliseconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{live.base_url}/admin/v1/usage/{request_id}", headers=live.admin_headers()
        )
        if response.status_code == 200 and response.json()["latency_ms"] is not None:
            return dict(response.json())
        time.sleep(0.05)
    raise AssertionError(f"no finished usage record for {request_id}")
