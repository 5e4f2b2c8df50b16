"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from clearance import installation
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.settings import Settings, load_settings
from tests.support.installation import Live, live_installation
from tests.support.processes import stub_upstream
from tests.support.services import fresh_schema_name, require_postgres


async def _drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend_settings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Settings]:
    """An initialized installation on each storage backend in turn."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        settings = load_settings(data_dir)
        installation.create(settings, "test.invalid/audit")
        yield settings
        return
    url = require_postgres()
    schema = fresh_schema_name()
    settings = load_settings(data_dir, database_url=url, database_schema=schema)
    installation.create(settings, "test.invalid/audit")
    try:
        yield settings
    finally:
        await _drop_schema(url, schema)


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
    settings = load_settings(tmp_path / "data")
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
