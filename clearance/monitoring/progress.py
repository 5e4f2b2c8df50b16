"""The monitor's saved position in the usage records, the lease that lets one process
read on at a time, and its counters — one row of ``monitor_progress``.

The lease is taken or renewed once half of it has run (``LEASE``), and every write
of the position checks it is still held. The counters are written with the position
and on each renewal, and a process that takes the lease over starts from them, so
they count every event since the installation began, across restarts and holders.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clearance.clock import Clock
from clearance.db.database import Database
from clearance.ids import new_id
from clearance.monitoring.models import monitor_progress_table
from clearance.usage.models import usage_records_table

NAME = "monitor"
LEASE = timedelta(seconds=15)
_progress = monitor_progress_table.c


@dataclass
class MonitorStats:
    events: int = 0
    deep: int = 0
    """Events the deep stage read."""
    without_text: int = 0
    """Events whose text did not reach the monitor (served by another process, pushed
    out of the feed, or with no text at all)."""
    texts_dropped: int = 0
    """Texts pushed out of the monitor's feed before their record was read."""
    findings: int = 0
    actions: int = 0
    findings_lost: int = 0
    """Findings dropped because alerts could not be stored for too long."""
    holes_skipped: int = 0
    """Ids never seen within ``HOLE_WATCH`` (rolled-back inserts, normally)."""

    @classmethod
    def from_document(cls, document: Any) -> MonitorStats:
        known = {f.name for f in fields(cls)}
        if not isinstance(document, dict):
            return cls()
        return cls(**{k: int(v) for k, v in document.items() if k in known})


@dataclass(frozen=True)
class Lease:
    position: int
    taken: bool
    """Newly taken (first step, or after another holder): the position and counters
    were read from the row."""
    stats: MonitorStats


class Progress:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self.me = f"{socket.gethostname()[:40]}:{os.getpid()}:{new_id('m', 6)}"
        self._held_until = datetime.min.replace(tzinfo=UTC)

    def forget(self) -> None:
        """Take the lease afresh at the next step (after an error, or losing it)."""
        self._held_until = datetime.min.replace(tzinfo=UTC)

    async def acquire(self, position: int | None, stats: MonitorStats) -> Lease | None:
        """Take or renew the lease (writing ``stats``); None when another process
        holds it."""
        now = self._clock.now()
        if position is not None and self._held_until - now > LEASE / 2:
            return Lease(position, False, stats)  # each write checks it still holds
        mine = (_progress.holder == self.me) | _progress.holder.is_(None)
        mine = mine | (_progress.lease_until < now)
        held = {"holder": self.me, "lease_until": now + LEASE}
        async with self._db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(_progress.last_usage_id, _progress.holder, _progress.stats)
                    .where(_progress.name == NAME)
                    .with_for_update()  # PostgreSQL: no other process moves it meanwhile
                )
            ).first()
            if row is None:
                await conn.execute(
                    monitor_progress_table.insert().values(name=NAME, last_usage_id=0, **held)
                )
                row_position, holder, saved = 0, None, None
            else:
                row_position, holder, saved = row
            renewed = holder == self.me and position == int(row_position or 0)
            if row is not None:
                values = {**held, "stats": asdict(stats)} if renewed else held
                done = await conn.execute(
                    monitor_progress_table.update()
                    .where((_progress.name == NAME) & mine)
                    .values(**values)
                )
                if done.rowcount != 1:
                    return None
        self._held_until = now + LEASE
        if renewed:
            return Lease(int(row_position or 0), False, stats)
        # Taken (or retaken after losing track): the row's position and counters hold.
        return Lease(int(row_position or 0), True, MonitorStats.from_document(saved))

    def save(self, conn: sa.Connection, start: int, end: int, stats: MonitorStats) -> bool:
        """Move the position from ``start`` to ``end`` in the caller's transaction, if
        the lease still holds."""
        done = conn.execute(
            monitor_progress_table.update()
            .where(
                (_progress.name == NAME)
                & (_progress.last_usage_id == start)
                & (_progress.holder == self.me)
            )
            .values(last_usage_id=end, stats=asdict(stats))
        )
        return bool(done.rowcount == 1)

    async def release(self, stats: MonitorStats) -> None:
        """Give the lease up (shutting down), so another process need not wait for it
        to lapse."""
        async with self._db.transaction() as conn:
            await conn.execute(
                monitor_progress_table.update()
                .where((_progress.name == NAME) & (_progress.holder == self.me))
                .values(holder=None, lease_until=None, stats=asdict(stats))
            )
        self.forget()


async def monitor_state(db: Database) -> dict[str, Any]:
    """What ``GET /admin/v1/monitor`` and ``clearance monitor status`` show: the
    backlog, the counters, and which process holds the lease until when."""
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(
                    _progress.last_usage_id,
                    _progress.holder,
                    _progress.lease_until,
                    _progress.stats,
                ).where(_progress.name == NAME)
            )
        ).first()
        position = int(row.last_usage_id) if row is not None else 0
        backlog = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(usage_records_table)
            .where(usage_records_table.c.id > position)
        )
    return {
        "backlog": int(backlog or 0),
        "position": position,
        "holder": row.holder if row is not None else None,
        "lease_until": row.lease_until.isoformat() if row and row.lease_until else None,
        **asdict(MonitorStats.from_document(row.stats if row is not None else None)),
    }
