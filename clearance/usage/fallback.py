"""Usage the database could not take, kept in a local journal until it can.

On PostgreSQL a usage record is durable once committed. While the database cannot be
reached, a record whose response carries nothing of the model's — a refusal: revoked
key, denied, over a limit, and the 503 of a use that could not be recorded — and a
stream's outcome (its stream has gone out already) would otherwise be lost. They are
appended instead to this process's journal file under ``<data_dir>/usage-journal/``
(the SQLite journal's format and directory, ``usage.journal``: one ``write()``, which
survives the process being killed) and loaded into the database once it answers:

* by this process, trying every ``RETRY_INTERVAL`` and at once when a direct write
  succeeds again; having loaded its own, it also loads any journal a process that
  stopped meanwhile left behind;
* or, if the server stops first, at the next start (``recover``), before anything
  else — as SQLite's journals are.

Loading is idempotent (usage rows are unique by request id, and the writes skip rows
already stored), so a row stored twice — journaled after a commit whose
acknowledgement was lost, or replayed by two processes — is stored once; each file
stays locked by its owner until it is deleted, so two live processes never load the
same one. A row the database refuses outright (rather than cannot be reached for) is
set aside in a ``.rejected`` file of the same format beside the journal and logged,
so that one bad row never holds back the rest, nor a start.

While the database is known to be unreachable (``engaged``), refusals come straight
here rather than each waiting for a write to fail.

Why only rows whose responses carry nothing of the model's: a use the gateway serves
is released, on PostgreSQL, only once committed to the database the operator chose
for its records — which survives the loss of a replica's machine (and its disk, often
ephemeral), as this journal does not. A refusal's only alternative to the journal is
no record at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import sqlalchemy as sa
import structlog

from clearance.usage import journal
from clearance.usage.models import UsageOutcome, UsageRecord

log = structlog.get_logger(__name__)

Row = UsageRecord | UsageOutcome
Store = Callable[[list[Row]], Awaitable[None]]

BATCH = 512
RETRY_INTERVAL = 0.5
"""Seconds between attempts to load while the database is away: one failed connect
each, while refused requests wait a few seconds at most for their records."""
CLOSE_WAIT = 1.0
"""At shutdown, how long a last load may take; what is left waits for the next start."""
REJECTED = ".rejected"


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached — so a row kept now will
    load once it can — rather than that it answered and refused the rows."""
    if isinstance(exc, OSError | sa.exc.TimeoutError | sa.exc.InterfaceError):
        return True  # OSError includes TimeoutError: a connect or a wait that timed out
    if isinstance(exc, sa.exc.OperationalError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


class Fallback:
    """This process's fallback journal and its loader."""

    def __init__(self, directory: Path, store: Store) -> None:
        """``store`` writes rows idempotently (skipping those already stored)."""
        self.directory = directory
        self._store = store
        self._journal = journal.Journal(directory)
        self._rejected = journal.Journal(directory, suffix=REJECTED)
        self._detached: list[tuple[Path, int]] = []
        """Files no longer appended to, still open and locked, oldest first, waiting to
        be loaded: one per try (a failed try leaves it for the next) or per
        ``journal.ROTATE_BYTES`` of a long outage, so a load reads a file at a time."""
        self._lock = asyncio.Lock()
        self._waiting = asyncio.Event()
        """Set while rows wait to be loaded."""
        self._retry = asyncio.Event()
        """Set to try again without waiting out ``RETRY_INTERVAL``."""
        self._task: asyncio.Task[None] | None = None
        self.engaged = False
        """The database was last seen unreachable: refusals come straight here."""

    @property
    def pending(self) -> bool:
        return self._journal.path is not None or bool(self._detached)

    def keep(self, rows: Sequence[Row]) -> None:
        """Append ``rows`` (one ``write()``); from then on they survive this process.
        Raises ``OSError`` if they could not be written."""
        if not rows:
            return
        self._journal.append(b"".join(journal.encode(row) for row in rows))
        if self._journal.size >= journal.ROTATE_BYTES:
            self._detach()
        self.engage()
        self._waiting.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-fallback-loader")

    def engage(self) -> None:
        """The database could not take a write: refusals come here until it can."""
        if not self.engaged:
            self.engaged = True
            log.warning("usage_journaling_refusals", reason="database unreachable")

    def reached(self) -> None:
        """A write just reached the database: load what waits now."""
        self._disengage()
        if self.pending:
            self._retry.set()

    def _disengage(self) -> None:
        if self.engaged:
            self.engaged = False
            log.info("usage_journaling_refusals_ended")

    async def recover(self) -> int:
        """Load the journals processes that are gone left behind; returns the rows."""
        async with self._lock:
            return await self._orphans()

    async def load(self) -> int:
        """Move everything this process kept into the database, then anything a
        stopped process left; returns the rows. Raises if the database is unreachable
        (what was not loaded stays, for the next try)."""
        async with self._lock:
            loaded = 0
            while self._detached or self._detach():  # appends go on in a new file
                path, fd = self._detached[0]
                try:
                    rows, _ = journal.read(path.read_bytes())
                except FileNotFoundError:  # deleted by hand: nothing left to load
                    log.warning("usage_journal_missing", path=str(path))
                    rows = []
                await self._store_all(rows)
                path.unlink(missing_ok=True)
                os.close(fd)
                self._detached.pop(0)
                loaded += len(rows)
                log.info("usage_journal_loaded", path=str(path), rows=len(rows))
            loaded += await self._orphans()
            # Reached: refusals try the database again (rows kept meanwhile load next).
            self._disengage()
            return loaded

    def _detach(self) -> bool:
        detached = self._journal.detach()
        if detached is not None:
            self._detached.append(detached)
        return detached is not None

    async def _orphans(self) -> int:
        loaded = 0
        for path, rows in journal.orphans(self.directory):
            await self._store_all(rows)
            path.unlink()
            loaded += len(rows)
            log.info("usage_journal_replayed", path=str(path), rows=len(rows))
        return loaded

    async def _store_all(self, rows: list[Row]) -> None:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            try:
                await self._store(batch)
            except sa.exc.DBAPIError as exc:
                if unreachable(exc):
                    raise
                for row in batch:  # find the row it refuses; store the rest
                    await self._store_or_set_aside(row)

    async def _store_or_set_aside(self, row: Row) -> None:
        try:
            await self._store([row])
        except sa.exc.DBAPIError as exc:
            if unreachable(exc):
                raise
            self._rejected.append(journal.encode(row))
            log.error(
                "usage_journal_row_rejected",
                request_id=row.request_id,
                error=str(exc.orig),
                kept_in=str(self._rejected.path),
            )

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._waiting.wait()
            self._retry.clear()
            try:
                loaded = await self.load()
            except Exception as exc:  # a supervisor loop: the rows wait on disk, try again
                if failures == 0:
                    log.error("usage_journal_load_failed", error=str(exc))
                failures += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RETRY_INTERVAL):
                        await self._retry.wait()
                continue
            if failures:
                log.info("usage_journal_load_resumed", rows=loaded, failed_attempts=failures)
            failures = 0
            if not self.pending:
                self._waiting.clear()

    async def close(self) -> None:
        """Stop loading; try once more, briefly. What is left stays on disk (unlocked
        now) for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.pending:
            try:
                async with asyncio.timeout(CLOSE_WAIT):
                    await self.load()
            except Exception as exc:  # shutting down: the next start loads the rest
                log.warning("usage_journal_left_for_next_start", error=str(exc))
        self._journal.close()
        self._rejected.close()
        for _, fd in self._detached:
            os.close(fd)
        self._detached.clear()
