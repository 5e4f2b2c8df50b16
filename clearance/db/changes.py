"""Change notification for the in-memory state on the hot path.

Every transaction that changes state the gateway keeps in memory (keys, models,
organizations) bumps a version counter for that topic in the same transaction. Each
server process checks the counters a few times a second — one tiny query, never one
per request — and reloads the topics whose version moved. That is how a key revoked
from the CLI, another worker or another replica stops working within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.db.database import Database
from clearance.db.schema import metadata

log = structlog.get_logger(__name__)

state_versions = sa.Table(
    "state_versions",
    metadata,
    sa.Column("topic", sa.String(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

_BUMP = sa.text(
    "INSERT INTO state_versions (topic, version) VALUES (:topic, 1) "
    "ON CONFLICT (topic) DO UPDATE SET version = state_versions.version + 1"
)

Reload = Callable[[], Awaitable[None]]


async def bump(conn: AsyncConnection, *topics: str) -> None:
    """Mark ``topics`` changed, inside the caller's transaction."""
    for topic in topics:
        await conn.execute(_BUMP, {"topic": topic})


class ChangeWatcher:
    """Calls each topic's reload function when its version moves."""

    def __init__(self, db: Database, interval: float) -> None:
        self._db = db
        self._interval = interval
        self._subscriptions: list[tuple[str, Reload]] = []
        self._seen: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._last_ok = time.monotonic()

    def subscribe(self, topic: str, reload: Reload) -> None:
        """Call ``reload`` when ``topic`` changes. Reloads run in subscription order,
        once per check however many of their topics changed — so a view built from
        others (the authorizer's entities) is subscribed after them."""
        self._subscriptions.append((topic, reload))

    def poke(self) -> None:
        """Check now rather than at the next tick (after a write in this process)."""
        self._wake.set()

    async def check(self) -> list[str]:
        """Reload every topic whose version changed since the last check."""
        async with self._db.read() as conn:
            rows = (await conn.execute(sa.select(state_versions))).all()
        current = {row.topic: row.version for row in rows}
        topics = dict.fromkeys(topic for topic, _ in self._subscriptions)
        changed = [
            topic
            for topic in topics
            if topic not in self._seen or current.get(topic, 0) != self._seen[topic]
        ]
        pending = dict.fromkeys(r for topic, r in self._subscriptions if topic in changed)
        for reload in pending:
            await reload()
        for topic in changed:
            self._seen[topic] = current.get(topic, 0)
        self._last_ok = time.monotonic()
        return changed

    def stale_for(self) -> float:
        """Seconds since the state was last known current (the gateway fails closed
        when this grows, since a revocation might be waiting unseen)."""
        return time.monotonic() - self._last_ok

    async def run(self) -> None:
        """Check forever; a failed check is logged and retried at the next tick."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
            try:
                await self.check()
            except Exception:  # a supervisor loop: log, stay stale, let the gateway refuse
                log.exception("state_check_failed")
