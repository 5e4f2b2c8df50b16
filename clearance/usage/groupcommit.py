"""Group commit (PostgreSQL): concurrent requests hand their records to one writer
task, which commits whatever has queued up in a single transaction and then releases
every waiter: one commit serves many requests. A refusal's record the database cannot
take within ``REFUSAL_WAIT`` — it is unreachable, or too slow to answer — goes to a
local journal instead and is loaded once it answers (see ``usage.fallback``), as do
stream outcomes that failed to commit."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import structlog

from clearance.db.database import Database
from clearance.usage.fallback import Fallback, unreachable
from clearance.usage.models import UsageOutcome, UsageRecord
from clearance.usage.recorder import (
    _STORE_ERRORS,
    MAX_BATCH,
    Row,
    UsageRecorder,
    UsageRecorderClosed,
)

log = structlog.get_logger(__name__)

OUTCOME_WINDOW = 0.02
"""A stream's outcome waits at most this long to share a commit."""
REFUSAL_WAIT = 0.25
"""How long a refusal waits for its commit before its record goes to the local
journal. A commit takes milliseconds; a database that went quiet (a network
partition) would otherwise hold the refusal until it answers, however long."""


@dataclass(slots=True)
class _Item:
    row: Row | None
    """None: a marker that only waits its turn (see ``flush``)."""
    done: asyncio.Future[None] | None
    """Set when committed; None for a row no one waits for."""


class GroupCommitRecorder(UsageRecorder):
    def __init__(self, db: Database, journal_directory: Path) -> None:
        super().__init__(db)
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._outcomes: list[_Item] = []
        self._outcome_timer: asyncio.TimerHandle | None = None
        self._fallback = Fallback(journal_directory, partial(self._store, replay=True))

    async def recover(self) -> None:
        await self._fallback.recover()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def record(self, record: UsageRecord, refused: bool = False) -> None:
        if self._closing:
            raise UsageRecorderClosed("the usage recorder is shutting down")
        if refused and self._fallback.engaged:  # the database is away: no use waiting
            self._fallback.keep([record])
            return
        self.start()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(record, done))
        if not refused:
            await done
            return
        try:
            async with asyncio.timeout(REFUSAL_WAIT):
                await asyncio.shield(done)
            return
        except Exception as exc:
            if not unreachable(exc):  # TimeoutError is an OSError: unreachable too
                raise
        if not done.done():  # the commit may still come; then the journal's copy is skipped
            done.add_done_callback(_settled)
        self._fallback.keep([record])

    def finish(self, outcome: UsageOutcome) -> None:
        if self._closing:
            raise UsageRecorderClosed("the usage recorder is shutting down")
        if self._fallback.engaged:
            self._keep([outcome])
            return
        self.start()
        self._outcomes.append(_Item(outcome, None))
        if self._outcome_timer is None:
            self._outcome_timer = asyncio.get_running_loop().call_later(
                OUTCOME_WINDOW, self._release_outcomes
            )

    def _release_outcomes(self) -> None:
        """Wake the writer for the waiting outcomes (it takes them with its batch)."""
        self._outcome_timer = None
        if self._outcomes:
            self._queue.put_nowait(self._outcomes.pop())

    def _take_outcomes(self, batch: list[_Item]) -> None:
        batch.extend(self._outcomes)
        self._outcomes.clear()
        if self._outcome_timer is not None:
            self._outcome_timer.cancel()
            self._outcome_timer = None

    async def flush(self) -> None:
        if self._outcomes:
            self._release_outcomes()
        if self._task is not None:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._queue.put_nowait(_Item(None, done))
            with contextlib.suppress(*_STORE_ERRORS):
                await done
        if self._fallback.pending:
            with contextlib.suppress(*_STORE_ERRORS):
                await self._fallback.load()

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
            self._take_outcomes(batch)
            if batch:
                await self._write(batch)

    async def _write(self, items: list[_Item]) -> None:
        rows = [item.row for item in items if item.row is not None]
        try:
            if rows:
                await self._store(rows)
        except _STORE_ERRORS as exc:
            log.error("usage_write_failed", error=str(exc), rows=len(rows))
            if unreachable(exc):
                self._fallback.engage()
                # Outcomes, which nobody waits for (their streams went out already);
                # a refusal's waiter keeps its own record.
                self._keep([item.row for item in items if item.done is None and item.row])
            for item in items:
                if item.done is not None and not item.done.done():
                    item.done.set_exception(exc)
            return
        if rows:
            self._fallback.reached()
        for item in items:
            if item.done is not None and not item.done.done():
                item.done.set_result(None)

    def _keep(self, rows: list[Row]) -> None:
        """Rows nobody waits for, to the local journal; lost only if it fails too."""
        try:
            self._fallback.keep(rows)
        except OSError:
            log.exception("usage_outcome_lost", request_ids=[row.request_id for row in rows])

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None
        await self._fallback.close()


def _settled(done: asyncio.Future[None]) -> None:
    """Take a commit's result no one waits for any longer (its failure is logged)."""
    if not done.cancelled():
        done.exception()
