"""Recording usage durably before a response is released.

Two ways, one contract (:class:`UsageRecorder`):

* **Journal** (SQLite, the embedded default): a record is durable once appended to
  this process's usage journal (one ``write()``, see ``usage.journal``); a loader
  moves the journal into the database every 5 ms while records arrive, in one
  transaction per batch. At start, journals left by processes that died are replayed
  first.
* **Group commit** (PostgreSQL, ``usage.groupcommit``): concurrent requests hand
  their records to one writer task, which commits whatever has queued up in one
  transaction; a refusal's record the database cannot take in time goes to a local
  journal instead (see ``usage.fallback``).

Either way, the transaction that stores records also notes each key's and end
user's last use (at most once a minute each), and sealing into the audit log follows
within a second (see ``usage.sealing``). A stream's outcome is written when the
stream ends, without holding anything up: a server killed within a few tens of
milliseconds of that loses the outcome (the stream's token counts), never the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import sqlalchemy as sa
import structlog

from clearance.db.database import Busy, Database
from clearance.usage import journal, writes
from clearance.usage.models import UsageOutcome, UsageRecord

log = structlog.get_logger(__name__)

MAX_BATCH = 512
LOAD_INTERVAL = 0.005
"""Seconds between moves of the journal into the database. A move runs on the event
loop (~13 µs a row, ~40 µs a transaction here), and a request arriving meanwhile waits
for it, so small frequent moves keep the latency tail short: on the benchmark machine,
the gateway's p99 overhead at concurrency 1 (its monitor off) was ~8 ms at 0.1 s,
~2.5 ms at 0.02 s and ~1.3 ms at 0.005 s, for the same CPU."""
LOAD_ROWS = 2000
"""…or sooner, once this many rows wait."""
INLINE_ATTEMPTS = 200
INLINE_RETRY = 0.0005
LAST_USE_RESOLUTION = timedelta(minutes=1)

Row = UsageRecord | UsageOutcome


class UsageRecorderClosed(RuntimeError):
    pass


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


class UsageRecorder:
    """Stores batches of rows; subclasses decide when."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._last_use = _LastUse()
        self.written: Callable[[int], None] | None = None
        """Told of every ``n`` rows stored (the sealer listens)."""
        self._closing = False

    async def recover(self) -> None:
        """Before serving: store what a previous process left unstored."""

    def start(self) -> None:
        """Start the background work (idempotent)."""

    async def record(self, record: UsageRecord, refused: bool = False) -> None:
        """Return once ``record`` is durable; raise if it could not be made so.

        ``refused``: the response will carry nothing of the model's, so the record may
        be made durable in the local journal when the database cannot take it."""
        raise NotImplementedError

    def finish(self, outcome: UsageOutcome) -> None:
        """A stream's ``outcome``, written without holding anything up."""
        raise NotImplementedError

    async def flush(self) -> None:
        """Store everything recorded so far in the database now."""

    async def close(self) -> None:
        """Store what is pending, then stop."""

    async def _store(self, rows: list[Row], replay: bool = False) -> None:
        """``replay``: the rows were kept elsewhere first (some may be stored already;
        their keys' last uses may never have been written)."""
        batch = self._batch(rows, replay)
        if self._db.is_sqlite:
            await self._store_sqlite(partial(writes.write_sqlite, batch=batch))
        else:
            await self._db.run_sync(partial(writes.write, batch=batch))
        if self.written is not None:
            self.written(len(rows))

    async def _store_sqlite(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """Inline on the event loop; while another writer holds the lock (the sealer,
        a checkpoint starting the log over: milliseconds), try again every half
        millisecond — SQLite's own busy wait sleeps in steps of up to 100 ms — and
        after a while queue on the writer thread instead."""
        for _ in range(INLINE_ATTEMPTS):
            try:
                self._db.write_inline(work)
                return
            except Busy:
                await asyncio.sleep(INLINE_RETRY)
        await self._db.run_sqlite(work)

    def _batch(self, rows: list[Row], replay: bool = False) -> writes.Batch:
        records = [row for row in rows if isinstance(row, UsageRecord)]
        due = _always if replay else self._last_use.due
        return writes.Batch(
            records=records,
            outcomes=[row for row in rows if isinstance(row, UsageOutcome)],
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


def _always(thing: Hashable, at: datetime, detail: object = None) -> bool:
    return True


_STORE_ERRORS = (sa.exc.SQLAlchemyError, sqlite3.Error, OSError)


class JournalRecorder(UsageRecorder):
    def __init__(self, db: Database, directory: Path) -> None:
        super().__init__(db)
        self._journal = journal.Journal(directory)
        self._pending: list[Row] = []
        self._retired: list[Path] = []
        """Journal files whose rows are all stored or pending."""
        self._due = asyncio.Event()
        self._waiting = asyncio.Event()
        """Set while rows wait to be loaded: an idle server's loader sleeps."""
        self._task: asyncio.Task[None] | None = None
        self._loading = asyncio.Lock()

    async def recover(self) -> None:
        for path, rows in journal.orphans(self._journal.directory):
            for start in range(0, len(rows), MAX_BATCH):
                await self._store(rows[start : start + MAX_BATCH])
            path.unlink()
            log.info("usage_journal_replayed", path=str(path), rows=len(rows))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-loader")

    async def record(self, record: UsageRecord, refused: bool = False) -> None:
        self._append(record)  # the journal is this backend's durability, refused or not

    def finish(self, outcome: UsageOutcome) -> None:
        try:
            self._append(outcome)
        except OSError:
            log.exception("usage_outcome_lost", request_id=outcome.request_id)

    def _append(self, row: Row) -> None:
        if self._closing:
            raise UsageRecorderClosed("the usage recorder is shutting down")
        self._journal.append(journal.encode(row))
        self._pending.append(row)
        self._waiting.set()
        if len(self._pending) >= LOAD_ROWS:
            self._due.set()
        self.start()

    async def _run(self) -> None:
        while True:
            await self._waiting.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOAD_INTERVAL):
                    await self._due.wait()
            self._due.clear()
            try:
                await self.flush()
            except _STORE_ERRORS as exc:  # kept in the journal: the next round retries
                log.error("usage_load_failed", error=str(exc), rows=len(self._pending))
            if not self._pending:
                self._waiting.clear()

    async def flush(self) -> None:
        async with self._loading:
            while self._pending:
                rows, self._pending = self._pending[:LOAD_ROWS], self._pending[LOAD_ROWS:]
                if not self._pending and self._journal.size > journal.ROTATE_BYTES:
                    retired = self._journal.rotate()
                    if retired is not None:
                        self._retired.append(retired)
                done = list(self._retired) if not self._pending else []
                try:
                    await self._store(rows)
                except BaseException:
                    self._pending[:0] = rows
                    raise
                for path in done:
                    path.unlink(missing_ok=True)
                    self._retired.remove(path)

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        path = self._journal.path
        self._journal.close()
        if path is not None:
            path.unlink(missing_ok=True)  # everything in it is stored


def usage_recorder(db: Database, journal_directory: Path) -> UsageRecorder:
    """The journal on SQLite, group commit on PostgreSQL (falling back to the journal
    for refusals while the database is away)."""
    if db.is_sqlite:
        return JournalRecorder(db, journal_directory)
    from clearance.usage.groupcommit import GroupCommitRecorder  # noqa: PLC0415 (a cycle)

    return GroupCommitRecorder(db, journal_directory)
