"""The fallback journal, in process: on PostgreSQL a refusal's record the database
cannot take goes to the local journal — at once while the database is down, after
``REFUSAL_WAIT`` when it goes quiet — and is loaded exactly once when it returns, or
at the next start; a row the database refuses outright is set aside, never holding
back the rest. (``test_database_outage`` drives a whole server through an outage.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from clearance import installation
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.identity.keys import KeyScope
from clearance.identity.models import api_keys_table
from clearance.registry.models import ModelSpec
from clearance.settings import Settings, load_settings
from clearance.usage import journal
from clearance.usage.fallback import REJECTED, unreachable
from clearance.usage.groupcommit import REFUSAL_WAIT, GroupCommitRecorder
from clearance.usage.journal import Journal
from clearance.usage.models import (
    UsageOutcome,
    UsageRecord,
    usage_outcomes_table,
    usage_records_table,
)
from clearance.usage.recorder import Row
from tests.support.inprocess import FAST
from tests.support.services import drop_schema, fresh_schema_name, require_postgres
from tests.support.tcpproxy import TcpProxy

LOADED_WITHIN = 60.0
"""How long the tests wait for journaled rows to be stored (a bound, not a speed)."""


def record(
    name: str, status: int = 401, code: str | None = "key_revoked", **more: Any
) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": f"req_{name}",
        "started_at": datetime.now(UTC),
        "org_id": "org_x",
        "key_id": "key_x",
        "endpoint": "chat.completions",
        "model": "m",
        "status_code": status,
        "error_code": code,
        "latency_ms": 0.5,
        **more,
    }
    return UsageRecord(**values)


@dataclass
class Proxied:
    services: Services
    recorder: GroupCommitRecorder
    proxy: TcpProxy
    settings: Settings

    @property
    def journals(self) -> list[Path]:
        return sorted((self.settings.data_dir / "usage-journal").glob("*.journal"))

    @property
    def rejected(self) -> list[Path]:
        return sorted((self.settings.data_dir / "usage-journal").glob(f"*{REJECTED}"))


async def open_services(settings: Settings) -> Services:
    services = build_services(settings)
    await migrate.upgrade(services.db)
    return services


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[Proxied]:
    """Every service on PostgreSQL, reached through a proxy the test can cut."""
    url, schema = require_postgres(), fresh_schema_name()
    parts = urlsplit(url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
        settings = load_settings(
            tmp_path / "data",
            database_url=url.replace(parts.netloc, netloc),
            database_schema=schema,
            **FAST,
        )
        installation.create(settings, "test.invalid/audit")
        services = await open_services(settings)
        recorder = services.usage_recorder
        assert isinstance(recorder, GroupCommitRecorder)
        try:
            yield Proxied(services, recorder, proxy, settings)
        finally:
            proxy.restore()
            await services.close()
    await drop_schema(url, schema)


async def stored(services: Services, table: sa.Table = usage_records_table) -> list[str]:
    async with services.db.read() as conn:
        return list((await conn.scalars(sa.select(table.c.request_id))).all())


async def eventually_stored(services: Services, wanted: set[str]) -> list[str]:
    deadline = time.monotonic() + LOADED_WITHIN
    while True:
        found = await stored(services)
        if wanted <= set(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def count_writes(recorder: GroupCommitRecorder) -> list[int]:
    """From now on, the number of rows of each write the recorder's writer tries."""
    tried: list[int] = []
    store = recorder._store

    async def counted(rows: list[Row], replay: bool = False) -> None:
        if not replay:
            tried.append(len(rows))
        await store(rows, replay)

    recorder._store = counted  # type: ignore[method-assign]
    return tried


def test_an_absent_database_is_told_from_one_that_refuses_the_rows() -> None:
    orig = Exception("boom")
    assert unreachable(ConnectionRefusedError(111, "refused"))
    assert unreachable(TimeoutError())
    assert unreachable(sa.exc.OperationalError("SELECT 1", {}, orig))
    assert unreachable(sa.exc.InterfaceError("SELECT 1", {}, orig))
    assert unreachable(sa.exc.DBAPIError("SELECT 1", {}, orig, connection_invalidated=True))
    assert not unreachable(sa.exc.DataError("INSERT", {}, orig))
    assert not unreachable(sa.exc.IntegrityError("INSERT", {}, orig))


async def test_while_the_database_is_down_refusals_are_journaled_and_loaded_once_it_returns(
    proxied: Proxied,
) -> None:
    recorder = proxied.recorder
    recorder.start()
    await recorder.record(record("before", 200, None, streamed=True))
    proxied.proxy.cut()

    await recorder.record(record("revoked"), refused=True)  # the write failed: journaled
    assert len(proxied.journals) == 1
    # A use to serve still needs the database.
    with pytest.raises(OSError, match=r"refused|Connect call failed"):
        await recorder.record(record("allowed", 200, None))
    writes = count_writes(recorder)
    await recorder.record(record("allowed-503", 503, "usage_unrecorded"), refused=True)
    await recorder.record(record("limited", 429, "rate_limited"), refused=True)
    assert writes == [], "known down: no write is tried"
    recorder.finish(UsageOutcome("req_before", datetime.now(UTC), 200, None, 1, 2, 3, 4.5))
    # A server that stopped during the outage left its journal: this one loads it too.
    dead = Journal(proxied.journals[0].parent)
    dead.append(journal.encode(record("dead-process", 403, "access_denied")))
    dead.close()

    proxied.proxy.restore()
    wanted = {"req_before", "req_revoked", "req_allowed-503", "req_limited", "req_dead-process"}
    found = await eventually_stored(proxied.services, wanted)
    assert sorted(found) == sorted(wanted)  # each once; the allowed one never
    assert await stored(proxied.services, usage_outcomes_table) == ["req_before"]
    assert (proxied.journals, proxied.rejected) == ([], [])
    assert not recorder._fallback.engaged
    assert await proxied.services.usage_sealer.seal() == len(wanted) + 1  # and sealed


async def test_when_the_database_goes_quiet_a_refusal_waits_at_most_the_refusal_wait(
    proxied: Proxied,
) -> None:
    recorder = proxied.recorder
    recorder.start()
    await recorder.record(record("before", 200, None))
    proxied.proxy.cut(silently=True)

    started = time.monotonic()
    async with asyncio.timeout(60):  # a refusal is never held until the database answers
        await recorder.record(record("first"), refused=True)
    assert time.monotonic() - started >= REFUSAL_WAIT  # it waited for its commit first
    writes = count_writes(recorder)
    await recorder.record(record("second"), refused=True)
    assert writes == [], "known quiet: no write is tried, the refusal goes to the journal"

    proxied.proxy.restore()  # the held commit now lands too, with "first" in it
    wanted = {"req_before", "req_first", "req_second"}
    found = await eventually_stored(proxied.services, wanted)
    assert sorted(found) == sorted(wanted)  # once each, though "first" came both ways
    assert (proxied.journals, proxied.rejected) == ([], [])


async def test_a_journal_left_by_a_server_stopped_during_the_outage_loads_at_its_next_start(
    proxied: Proxied,
) -> None:
    proxied.proxy.cut()
    await proxied.recorder.record(record("refused"), refused=True)
    await proxied.recorder.close()  # tries once more, briefly, and leaves the file
    (left,) = proxied.journals
    proxied.proxy.restore()

    services = await open_services(proxied.settings)
    try:
        await services.usage_recorder.recover()
        assert await stored(services) == ["req_refused"]
    finally:
        await services.close()
    assert not left.exists()


async def test_a_row_the_database_refuses_is_set_aside_and_the_rest_load(
    proxied: Proxied,
) -> None:
    directory = proxied.settings.data_dir / "usage-journal"
    rows = [record("one"), record("too-long", model="m" * 200), record("three")]
    dead = Journal(directory)
    dead.append(b"".join(journal.encode(row) for row in rows))
    dead.close()

    await proxied.recorder.recover()  # a start is not held back by it

    assert sorted(await stored(proxied.services)) == ["req_one", "req_three"]
    assert proxied.journals == []
    (rejected,) = proxied.rejected
    assert journal.read(rejected.read_bytes()) == ([rows[1]], 0)


async def test_a_row_replayed_twice_is_stored_once_and_a_keys_last_use_only_moves_forward(
    services: Services,
) -> None:
    """Both backends' writers: journals replay idempotently, and an older row replayed
    after a newer one leaves the key's last use at the newer."""
    await services.models.add("local:test", "m", ModelSpec("http://127.0.0.1:9/v1", "echo"))
    org = await services.organizations.add_direct("local:test", "Org", "US", "test")
    key = await services.keys.create("local:test", "Org", KeyScope())
    later = datetime.now(UTC).replace(microsecond=0)
    newer = record("newer", org_id=org.id, key_id=key.id, started_at=later, source_ip="10.0.0.2")
    older = record(
        "older",
        org_id=org.id,
        key_id=key.id,
        started_at=later - timedelta(minutes=5),
        source_ip="10.0.0.1",
    )
    directory = services.settings.data_dir / "usage-journal"
    for rows in ([newer], [newer, older]):
        dead = Journal(directory)
        dead.append(b"".join(journal.encode(row) for row in rows))
        dead.close()
        await services.usage_recorder.recover()

    assert sorted(await stored(services)) == ["req_newer", "req_older"]
    async with services.db.read() as conn:
        used = (
            await conn.execute(
                sa.select(api_keys_table.c.last_used_at, api_keys_table.c.last_used_ip).where(
                    api_keys_table.c.id == key.id
                )
            )
        ).one()
    assert tuple(used) == (later, "10.0.0.2")
