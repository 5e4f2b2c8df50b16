"""The usage journal: records survive the process that wrote them, frame by frame,
and are moved into the database exactly once — after a crash, on the next start."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearance import installation
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.settings import load_settings
from clearance.usage import journal
from clearance.usage.journal import Journal
from clearance.usage.models import UsageOutcome, UsageRecord, usage_records_table
from clearance.usage.recorder import JournalRecorder
from tests.support.inprocess import FAST


@asynccontextmanager
async def sqlite_services_at(data_dir: Path) -> AsyncIterator[Services]:
    """Every service on SQLite in ``data_dir`` (made if new), closed at the end."""
    settings = load_settings(data_dir, **FAST)
    if not data_dir.exists():
        installation.create(settings, "test.invalid/audit")
    services = build_services(settings)
    await migrate.upgrade(services.db)
    try:
        yield services
    finally:
        await services.close()


def record(n: int) -> UsageRecord:
    return UsageRecord(
        request_id=f"req_{n:04d}",
        started_at=datetime(2026, 11, 27, 12, 0, 0, n, tzinfo=UTC),
        org_id="org_x",
        key_id="key_x",
        endpoint="chat.completions",
        model="m",
        status_code=200,
        prompt_tokens=n,
        latency_ms=0.1 + n / 3,
        streamed=n % 2 == 0,
        source_ip="2001:db8::1" if n % 3 else None,
    )


def test_frames_round_trip_and_a_torn_tail_is_dropped() -> None:
    outcome = UsageOutcome("req_0001", datetime.now(UTC), 200, None, 1, 2, 3, 45.678)
    rows = [record(1), outcome, record(2)]
    data = b"".join(journal.encode(row) for row in rows)
    assert journal.read(data) == (rows, 0)
    assert journal.read(data[:-3]) == (rows[:2], len(journal.encode(rows[2])) - 3)
    corrupt = bytearray(data)
    corrupt[-1] ^= 0xFF  # a flipped bit in the last payload fails its CRC
    assert journal.read(bytes(corrupt))[0] == rows[:2]


async def test_a_dead_processs_journal_is_replayed_once_and_a_live_one_left(
    tmp_path: Path,
) -> None:
    async with sqlite_services_at(tmp_path / "data"):
        pass  # an installation
    directory = tmp_path / "data" / "usage-journal"
    dead = Journal(directory)
    dead.append(b"".join(journal.encode(record(n)) for n in range(50)))
    dead.close()  # the process died: nothing was stored, the lock is gone
    live = Journal(directory)
    live.append(journal.encode(record(99)))  # another process, still running
    async with sqlite_services_at(tmp_path / "data") as services:
        await services.usage_recorder.recover()
        await services.usage_recorder.recover()  # nothing left the second time
        stored = await services.usage.recent(limit=100)
        assert sorted(r.request_id for r in stored) == [f"req_{n:04d}" for n in range(50)]
        assert stored[-1] == record(0)
    assert [p.name for p in directory.iterdir()] == [live.path.name if live.path else ""]
    live.close()


async def test_journal_files_rotate_and_are_deleted_once_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "ROTATE_BYTES", 2000)
    async with sqlite_services_at(tmp_path / "data") as services:
        recorder = services.usage_recorder
        assert isinstance(recorder, JournalRecorder)
        directory = tmp_path / "data" / "usage-journal"
        for n in range(40):
            await recorder.record(record(n))
            if n % 10 == 9:
                await recorder.flush()
                assert len(list(directory.iterdir())) == 1  # the old ones are gone
        await asyncio.sleep(0)
        assert len(await services.usage.recent(limit=100)) == 40
    assert list(directory.iterdir()) == []  # closed cleanly: everything stored


async def test_a_load_that_failed_is_tried_again_with_no_more_usage_arriving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loader sleeps while nothing waits, but not while a failed load's rows do."""
    async with sqlite_services_at(tmp_path / "data") as services:
        recorder = services.usage_recorder
        assert isinstance(recorder, JournalRecorder)
        store, failed = recorder._store, []

        async def fails_once(rows: list[UsageRecord | UsageOutcome]) -> None:
            if not failed:
                failed.append(len(rows))
                raise sqlite3.OperationalError("disk I/O error")
            await store(rows)

        monkeypatch.setattr(recorder, "_store", fails_once)
        await recorder.record(record(1))
        stored = 0
        for _ in range(500):
            async with services.db.read() as conn:
                stored = await conn.scalar(
                    sa.select(sa.func.count()).select_from(usage_records_table)
                )
            if stored:
                break
            await asyncio.sleep(0.01)
        assert (failed, stored) == ([1], 1)
