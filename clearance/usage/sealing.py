"""Sealing usage into the audit log.

A usage record is committed on its own, as fast as possible, before its response goes
out, with its leaf hash. Sealing follows: every second, or sooner once 500 rows wait
(and at start and shutdown), the rows not yet sealed are gathered into one
``usage.batch`` (records) or ``usage.outcome_batch`` (stream outcomes) audit entry
holding the Merkle root of their leaf hashes, and each row takes that entry's number
as ``audit_seq`` — a few audit entries a second however busy the gateway, in place of
one per group commit. The seal commits to each row as it was written, so editing one
at any time shows; a server killed before sealing seals the rest when it next starts.

Several processes may seal at once: a row is marked only if still unsealed, and a
sealing that finds any of its rows taken rolls back and tries again, so each row is
sealed exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import sqlalchemy as sa
import structlog

from clearance.audit.events import AuditEvent
from clearance.audit.services import AuditLog
from clearance.db.database import Database
from clearance.usage import digest
from clearance.usage.models import (
    UsageOutcome,
    UsageRecord,
    usage_outcomes_table,
    usage_records_table,
)

log = structlog.get_logger(__name__)

MAX_SEAL = 5_000
"""Rows per audit entry; a backlog larger than this takes several entries."""
UPDATE_CHUNK = 500
SEAL_EVERY_ROWS = 500

_Kind = tuple[sa.Table, sa.Column[Any], Callable[[Any], Any], Callable[[Any], AuditEvent]]
KINDS: tuple[_Kind, ...] = (
    (usage_records_table, usage_records_table.c.id, UsageRecord.from_row, digest.records_entry),
    (
        usage_outcomes_table,
        usage_outcomes_table.c.request_id,
        UsageOutcome.from_row,
        digest.outcomes_entry,
    ),
)


class _Raced(Exception):
    """Another process sealed some of the same rows first."""


class UsageSealer:
    def __init__(
        self, db: Database, audit: AuditLog, flush: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """``flush`` stores what has been recorded but not yet stored (sealing seals
        stored rows)."""
        self._db = db
        self._audit = audit
        self._flush = flush
        self._pending = 0
        self._due = asyncio.Event()

    def written(self, rows: int) -> None:
        """``rows`` more are waiting: once SEAL_EVERY_ROWS are, seal without waiting
        for the interval (small, frequent seals keep each one short)."""
        self._pending += rows
        if self._pending >= SEAL_EVERY_ROWS:
            self._due.set()

    async def seal(self) -> int:
        """Seal every row not yet sealed; returns how many were.

        The rows are read and digested outside the write lock (the digest is most of
        the work); the write transaction only appends the audit entry and marks the
        rows — if any was marked meanwhile by another process, it rolls back and the
        rows are read again."""
        if self._flush is not None:
            await self._flush()
        total = 0
        for kind in KINDS:
            while True:
                claimed = await self._db.read_sync(partial(_digest, kind=kind))
                if claimed is None:
                    break
                keys, event = claimed
                try:
                    await self._db.run_sync(partial(self._mark, kind=kind, keys=keys, event=event))
                except _Raced:
                    continue
                total += len(keys)
                if len(keys) < MAX_SEAL:
                    break
        return total

    def _mark(self, conn: sa.Connection, kind: _Kind, keys: list[Any], event: AuditEvent) -> None:
        table, key, _, _ = kind
        (seq,) = self._audit.append_sync(conn, [event])
        unsealed = table.c.audit_seq.is_(None)
        if isinstance(keys[0], int):
            # Numbered rows: mark the range. A row that joined it since the digest was
            # read (possible only with concurrent writers) makes the count differ.
            ranges = [key.between(keys[0], keys[-1])]
        else:
            ranges = [
                key.in_(keys[i : i + UPDATE_CHUNK]) for i in range(0, len(keys), UPDATE_CHUNK)
            ]
        marked = 0
        for where in ranges:
            update = sa.update(table).where(where, unsealed).values(audit_seq=seq)
            marked += conn.execute(update).rowcount
        if marked != len(keys):
            raise _Raced

    async def run(self, interval: float) -> None:
        """Seal forever; a failed round is logged and retried."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._due.wait()
            self._due.clear()
            self._pending = 0
            try:
                await self.seal()
            except Exception:  # a supervisor loop: log every failure, keep sealing
                log.exception("usage_seal_failed")


def _digest(conn: sa.Connection, kind: _Kind) -> tuple[list[Any], AuditEvent] | None:
    """The next rows not yet sealed (up to MAX_SEAL), and their batch's audit event —
    from the leaf hashes stored with them (or, for a row without one, its content)."""
    table, key, from_row, entry = kind
    unsealed = table.c.audit_seq.is_(None)
    query = sa.select(key, table.c.leaf).where(unsealed).order_by(key).limit(MAX_SEAL)
    rows = sorted(tuple(row) for row in conn.execute(query))  # code-point order, any collation
    if not rows:
        return None
    missing = [k for k, leaf in rows if leaf is None]
    computed: dict[Any, bytes] = {}
    if missing:
        for row in conn.execute(sa.select(table).where(key.in_(missing))):
            computed[row._mapping[key.name]] = digest.leaf(from_row(row))
    leaves = [leaf if leaf is not None else computed[k] for k, leaf in rows]
    return [k for k, _ in rows], entry(leaves)
