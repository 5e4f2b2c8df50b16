"""SQLite's fast lanes: inline writes that never wait, the writer thread they fall back
to, and checkpoints that keep the write-ahead log short from off the write path."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from clearance.db import sqlite as sqlite_lanes
from clearance.db.database import Busy, Database


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lanes.db'}")
    await database.run_sync(
        lambda conn: conn.exec_driver_sql("CREATE TABLE t (n INTEGER, pad BLOB)").close()
    )
    return database


def insert(n: int, pad: int = 0):  # type: ignore[no-untyped-def]
    def work(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO t VALUES (?, ?)", (n, b"x" * pad))

    return work


async def count(db: Database) -> int:
    def work(conn):  # type: ignore[no-untyped-def]
        return conn.exec_driver_sql("SELECT count(*) FROM t").scalar()

    value: int = await db.read_sync(work)
    return value


async def test_inline_writes_commit_and_refuse_to_wait_for_the_lock(db: Database) -> None:
    db.write_inline(insert(1))
    assert await count(db) == 1
    path = db.url.database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    with pytest.raises(Busy):
        db.write_inline(insert(2))
    waiting = asyncio.ensure_future(db.run_sqlite(insert(3)))  # the writer thread waits
    await asyncio.sleep(0.1)
    assert not waiting.done()
    holder.execute("COMMIT")
    await waiting
    holder.close()
    assert await count(db) == 2  # 1 and 3; the refused inline write left nothing
    await db.dispose()


async def test_a_failed_inline_write_rolls_back(db: Database) -> None:
    def half(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO t VALUES (1, NULL)")
        raise RuntimeError("midway")

    with pytest.raises(RuntimeError):
        db.write_inline(half)
    db.write_inline(insert(2))
    assert await count(db) == 1
    await db.dispose()


def autocheckpoint(raw: sqlite3.Connection) -> int:
    value: int = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    return value


async def test_checkpoints_keep_the_log_short_from_off_the_write_path(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_lanes, "RESTART_FRAMES", 256)  # start over at 1 MiB
    wal = Path(f"{db.url.database}-wal")
    db.write_inline(insert(0))
    checkpoints = asyncio.ensure_future(db.checkpoint_forever(0.05))
    await asyncio.sleep(0.1)
    # The writers never checkpoint in their commits...
    assert db.write_inline(autocheckpoint) == 0
    assert await db.run_sqlite(autocheckpoint) == 0
    # ...yet the log stays short under a stream of commits: of all that goes through
    # it, it never holds more than a fraction. The stream is counted, not timed, and
    # leaves the checkpointer a turn every 50 commits (its interval here is 0.05 s), so
    # a machine busy with other work slows both alike instead of starving the one.
    n = 0
    while n < 400:
        n += 1
        try:
            db.write_inline(insert(n, pad=4000))
        except Busy:  # the checkpointer holds writers off for a moment
            await db.run_sqlite(insert(n, pad=4000))
        await db.run_sqlite(insert(-n, pad=4000))
        if n % 50 == 0:
            await asyncio.sleep(0.1)
    written = 2 * n * 4000
    # Unchecked, it holds ~3x that (index pages); checkpointed, well under 2x.
    assert wal.stat().st_size < 2 * written
    checkpoints.cancel()
    with pytest.raises(asyncio.CancelledError):
        await checkpoints
    assert db.write_inline(autocheckpoint) == 1000  # back to SQLite's own
    assert await db.run_sqlite(autocheckpoint) == 1000
    assert await count(db) == 2 * n + 1
    await db.dispose()


async def test_writers_opened_after_checkpoints_started_work(db: Database) -> None:
    path = db.url.database
    await db.dispose()
    fresh = Database(f"sqlite+aiosqlite:///{path}")
    checkpoints = asyncio.ensure_future(fresh.checkpoint_forever(0.05))
    await asyncio.sleep(0.1)
    await fresh.run_sqlite(insert(1))
    await fresh.run_sync(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (2, NULL)"))
    assert await fresh.run_sqlite(autocheckpoint) == 0
    checkpoints.cancel()
    with pytest.raises(asyncio.CancelledError):
        await checkpoints
    assert await count(fresh) == 2
    await fresh.dispose()
