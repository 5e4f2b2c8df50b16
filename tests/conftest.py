"""Fixtures shared by the whole suite."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest

from clearance import installation
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.logs import configure_logging
from clearance.settings import Settings, load_settings
from tests.support.inprocess import IN_PROCESS
from tests.support.installation import Live, live_installation
from tests.support.leakscan import SCANNER
from tests.support.processes import stub_upstream
from tests.support.services import drop_schema, fresh_schema_name, require_postgres

# Cheap argon2id: the suite creates many accounts (production keeps the defaults). And
# the monitor stepped by the tests in this process, reading texts from its feed here.
FAST = {
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "password_parallelism": 1,
    **IN_PROCESS,
}


_ORIGINAL_SEND = (httpx.Client.send, httpx.AsyncClient.send)
_LOG_FILE = pytest.StashKey[TextIO]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Watch every HTTP response the tests receive and send every log line Clearance
    writes in-process to a file, for the secret scan at the end of the run."""
    sync_send, async_send = _ORIGINAL_SEND

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = sync_send(self, request, **kwargs)
        SCANNER.record_response(request, response)
        return response

    async def asend(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await async_send(self, request, **kwargs)
        SCANNER.record_response(request, response)
        return response

    httpx.Client.send = send  # type: ignore[method-assign]
    httpx.AsyncClient.send = asend  # type: ignore[method-assign]
    base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    log = (base / "in-process.log").open("a")
    session.config.stash[_LOG_FILE] = log
    configure_logging(Settings(), stream=log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    httpx.Client.send, httpx.AsyncClient.send = _ORIGINAL_SEND  # type: ignore[method-assign]
    if _LOG_FILE in session.config.stash:
        session.config.stash[_LOG_FILE].close()
    base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    problems = SCANNER.findings(Path(base).rglob("*.log"))
    if problems:
        report = "\n".join(sorted(set(problems))[:50])
        sys.stderr.write(f"\nSECRET SCAN FAILED ({len(problems)} findings):\n{report}\n")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        sys.stderr.write(
            f"\nsecret scan: {len(SCANNER.responses)} responses, "
            f"{len(SCANNER.cli_outputs)} CLI outputs and the logs hold no key material\n"
        )


@pytest.fixture(params=["sqlite", "postgres"])
async def backend_settings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Settings]:
    """An initialized installation on each storage backend in turn."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        settings = load_settings(data_dir, **FAST)
        installation.create(settings, "test.invalid/audit")
        yield settings
        return
    url = require_postgres()
    schema = fresh_schema_name()
    settings = load_settings(data_dir, database_url=url, database_schema=schema, **FAST)
    installation.create(settings, "test.invalid/audit")
    try:
        yield settings
    finally:
        await drop_schema(url, schema)


@pytest.fixture
async def services(backend_settings: Settings) -> AsyncIterator[Services]:
    """Every service, on a migrated database of each backend."""
    built = build_services(backend_settings)
    await migrate.upgrade(built.db)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def sqlite_services(tmp_path: Path) -> AsyncIterator[Services]:
    """Every service on SQLite only, for tests about behaviour rather than storage."""
    settings = load_settings(tmp_path / "data", **FAST)
    installation.create(settings, "test.invalid/audit")
    built = build_services(settings)
    await migrate.upgrade(built.db)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, upstream_url: str) -> Iterator[Live]:
    """One installation serving on 127.0.0.1, shared by the tests that only read or add."""
    with live_installation(tmp_path_factory.mktemp("live"), upstream_url) as installation:
        yield installation


@pytest.fixture(scope="session")
def upstream_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A stand-in OpenAI-compatible upstream running as a separate process."""
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    with stub_upstream(log) as url:
        yield url
