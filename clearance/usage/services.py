"""Writing usage durably, with group commit; reading it back.

A request's record must be committed before its response is released (on SQLite in
WAL mode a commit survives the process being killed; only a power loss can take back
the last ones). One commit per request would make the disk the gateway's speed limit,
so concurrent requests hand their records (and streams' outcomes) to one writer task,
which commits whatever has queued up in a single transaction and then releases every
waiter: one commit serves many requests. On SQLite that commit runs inline on the
event loop when the write lock is free (~50 µs), else on the writer thread. The same
transaction notes each key's and end user's last use (at most once a minute each).
Sealing the rows into the audit log follows within a second (see ``usage.sealing``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
import structlog

from clearance.db.database import Busy, Database
from clearance.usage import writes
from clearance.usage.models import (
    UsageOutcome,
    UsageRecord,
    usage_outcomes_table,
    usage_records_table,
)

log = structlog.get_logger(__name__)

MAX_BATCH = 512

LAST_USE_RESOLUTION = timedelta(minutes=1)


class _LastUse:
    """Which last-use notes are worth writing: a thing's first use, a new address, or
    a minute since the last note — not every request."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._noted: dict[Hashable, tuple[datetime, object]] = {}

    def due(self, thing: Hashable, at: datetime, detail: object = None) -> bool:
        noted = self._noted.get(thing)
        if noted is not None and noted[1] == detail and at - noted[0] < LAST_USE_RESOLUTION:
            return False
        if len(self._noted) >= self.LIMIT:
            self._noted.clear()
        self._noted[thing] = (at, detail)
        return True


class UsageRecorderClosed(RuntimeError):
    pass


@dataclass(slots=True)
class _Item:
    row: UsageRecord | UsageOutcome
    done: asyncio.Future[None]


class UsageRecorder:
    def __init__(self, db: Database, written: Callable[[int], None] | None = None) -> None:
        """``written(n)`` is told of every ``n`` rows committed (the sealer listens)."""
        self._db = db
        self._written = written
        self._last_use = _LastUse()
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def record(self, record: UsageRecord) -> None:
        """Return once ``record`` is committed; raise if it could not be."""
        await self._submit(record)

    async def finish(self, outcome: UsageOutcome) -> None:
        """Return once a stream's ``outcome`` is committed."""
        await self._submit(outcome)

    async def _submit(self, row: UsageRecord | UsageOutcome) -> None:
        if self._closing:
            raise UsageRecorderClosed("the usage recorder is shutting down")
        self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(row, done))
        await done

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Item] = []
            item = await self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= MAX_BATCH or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            stopping = item is None
            if batch:
                await self._write(batch)

    async def _write(self, items: list[_Item]) -> None:
        batch = self._batch(items)
        try:
            if self._db.is_sqlite:
                work = partial(writes.write_sqlite, batch=batch)
                try:
                    self._db.write_inline(work)
                except Busy:  # another writer has the lock: queue on the writer thread
                    await self._db.run_sqlite(work)
            else:
                await self._db.run_sync(partial(writes.write, batch=batch))
        except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            log.error("usage_write_failed", error=str(exc), rows=len(items))
            for item in items:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        if self._written is not None:
            self._written(len(items))
        for item in items:
            if not item.done.done():
                item.done.set_result(None)

    def _batch(self, items: list[_Item]) -> writes.Batch:
        records = [item.row for item in items if isinstance(item.row, UsageRecord)]
        due = self._last_use.due
        return writes.Batch(
            records=records,
            outcomes=[item.row for item in items if isinstance(item.row, UsageOutcome)],
            keys=list(
                {
                    r.key_id: writes.KeyUse(r.key_id, r.started_at, r.source_ip)
                    for r in records
                    if due(r.key_id, r.started_at, r.source_ip)
                }.values()
            ),
            end_users={
                (r.org_id, r.end_user): r.started_at
                for r in records
                if r.end_user is not None and due((r.org_id, r.end_user), r.started_at)
            },
        )

    async def close(self) -> None:
        """Finish writing what is queued, then stop."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None


_records = usage_records_table.c
_outcomes = usage_outcomes_table.c


class UsageQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(self, org_id: str | None = None, limit: int = 100) -> list[UsageRecord]:
        """The newest records, each with its stream's outcome folded in."""
        query = (
            sa.select(
                usage_records_table, *[c.label(f"o_{c.name}") for c in usage_outcomes_table.c]
            )
            .outerjoin(usage_outcomes_table, _outcomes.request_id == _records.request_id)
            .order_by(_records.id.desc())
        )
        if org_id is not None:
            query = query.where(_records.org_id == org_id)
        async with self._db.read() as conn:
            rows = await conn.execute(query.limit(limit))
            return [_folded(row) for row in rows]

    async def get(self, request_id: str) -> UsageRecord | None:
        query = (
            sa.select(
                usage_records_table, *[c.label(f"o_{c.name}") for c in usage_outcomes_table.c]
            )
            .outerjoin(usage_outcomes_table, _outcomes.request_id == _records.request_id)
            .where(_records.request_id == request_id)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return _folded(row) if row is not None else None


def _folded(row: sa.Row[tuple[object, ...]]) -> UsageRecord:
    record = UsageRecord.from_row(row)
    m = row._mapping
    if m["o_request_id"] is not None:
        for name in (
            "status_code",
            "error_code",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "latency_ms",
        ):
            setattr(record, name, m[f"o_{name}"])
    return record
