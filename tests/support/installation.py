"""A real installation, bootstrapped with the CLI exactly as a script would, serving on
127.0.0.1 (``clearance serve`` as its own process)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import PYTHON, clearance, free_port, running

Cli = Callable[..., str]
Setup = Callable[[Cli], str]

# Checkpoint often, so tests see their entries published quickly.
FAST_AUDIT = {
    "CLEARANCE_AUDIT_CHECKPOINT_SECONDS": "0.2",
    "CLEARANCE_AUDIT_INTEGRATE_INTERVAL": "0.1",
}


@dataclass(frozen=True)
class Live:
    base_url: str
    api_key: str
    admin_token: str
    data_dir: Path
    log: Path

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}

    def cli(self, *args: str, check: bool = True) -> str:
        return clearance(
            *args, "--data-dir", str(self.data_dir), check=check, token=self.admin_token
        ).stdout


@contextmanager
def serving(root: Path, setup: Setup | None = None, workers: int = 1) -> Iterator[Live]:
    """``clearance init``, then ``setup(cli)`` (CLI calls, as the first admin, returning an
    API key), then ``clearance serve`` until the block ends."""
    data = root / "data"
    port = free_port()
    init = json.loads(clearance("init", "--data-dir", str(data), "--output", "json").stdout)

    def cli(*args: str) -> str:
        return clearance(*args, "--data-dir", str(data), token=init["token"]).stdout

    dd = ("--data-dir", str(data))
    key = setup(cli) if setup is not None else ""
    log = root / "serve.log"
    with running(
        [PYTHON, "-m", "clearance", "serve", *dd, "--port", str(port), "--workers", str(workers)],
        f"http://127.0.0.1:{port}/healthz",
        log,
        env=FAST_AUDIT,
    ):
        yield Live(
            base_url=f"http://127.0.0.1:{port}",
            api_key=key,
            admin_token=init["token"],
            data_dir=data,
            log=log,
        )


@contextmanager
def live_installation(root: Path, upstream_url: str) -> Iterator[Live]:
    """An installation with the stand-in upstream's models, an organization entitled to
    them, and a key."""

    def setup(cli: Cli) -> str:
        models = {
            "stub-chat": "echo",
            "stub-fixed": "stub-fixed",
            "failing": "status-500",
            "garbled": "invalid-json",
        }
        for name, upstream_model in models.items():
            cli(
                "models",
                "add",
                name,
                "--upstream-url",
                upstream_url,
                "--upstream-model",
                upstream_model,
            )
        cli("models", "add", "unreachable", "--upstream-url", f"http://127.0.0.1:{free_port()}/v1")
        cli("orgs", "add", "Acme Research", "--country", "US", "--reason", "test partner")
        for name in [*models, "unreachable"]:
            cli("entitlements", "grant", "--org", "Acme Research", "--model", name)
        key = json.loads(cli("keys", "create", "--org", "Acme Research", "--output", "json"))
        return str(key["key"])

    with serving(root, setup) as live:
        yield live
