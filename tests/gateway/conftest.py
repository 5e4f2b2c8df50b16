"""A real installation, bootstrapped with the CLI exactly as a script would, serving on
127.0.0.1 in front of the stand-in upstream (a separate process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import PYTHON, clearance, free_port, running


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


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, upstream_url: str) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    data = root / "data"
    port = free_port()
    init = json.loads(clearance("init", "--data-dir", str(data), "--output", "json").stdout)
    dd = ("--data-dir", str(data))
    clearance(
        "models",
        "add",
        "stub-chat",
        "--upstream-url",
        upstream_url,
        "--upstream-model",
        "echo",
        *dd,
    )
    clearance("models", "add", "stub-fixed", "--upstream-url", upstream_url, *dd)
    clearance(
        "models", "add", "unreachable", "--upstream-url", f"http://127.0.0.1:{free_port()}/v1", *dd
    )
    clearance(
        "models",
        "add",
        "failing",
        "--upstream-url",
        upstream_url,
        "--upstream-model",
        "status-500",
        *dd,
    )
    clearance(
        "models",
        "add",
        "garbled",
        "--upstream-url",
        upstream_url,
        "--upstream-model",
        "invalid-json",
        *dd,
    )
    clearance("orgs", "add", "Acme Research", "--country", "US", "--reason", "test partner", *dd)
    key = json.loads(
        clearance("keys", "create", "--org", "Acme Research", "--output", "json", *dd).stdout
    )
    log = root / "serve.log"
    with running(
        [PYTHON, "-m", "clearance", "serve", *dd, "--port", str(port)],
        f"http://127.0.0.1:{port}/healthz",
        log,
    ):
        yield Live(
            base_url=f"http://127.0.0.1:{port}",
            api_key=key["key"],
            admin_token=init["token"],
            data_dir=data,
            log=log,
        )
