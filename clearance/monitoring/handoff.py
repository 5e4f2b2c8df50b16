"""Texts served by one server process, for the monitor another process runs.

One monitor holds the lease at a time (``progress.py``). Every other server process —
the other workers of ``serve --workers N``, other replicas — feeds the texts it serves
to its own monitor process, which stands by. A standby monitor hands them over here:
each sealed with AES-256-GCM (bound to its request id) under a key derived from the
content key and a salt that changes every ``SALT_EVERY`` (so no key sees enough random
nonces to risk a repeat), into the ``monitor_handoff`` table, every ``HAND_EVERY``.
The monitor holding the lease takes from the table the texts of the records its own
feed lacks, and deletes each in the transaction that stores its verdict — so the
deep stage and each model's retention rule see every request's text, whichever
process served it. A text no monitor took within ``MAX_AGE`` (the monitor far behind)
is purged (by the monitor, the hourly purge and ``clearance monitor purge``); its
event is judged by the inline verdict, as a text pushed out of the feed is. On
PostgreSQL the table is unlogged: its rows never reach the write-ahead log or replicas.
A failure here never stops the monitor: the texts concerned are judged inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects import postgresql, sqlite

from clearance.clock import Clock
from clearance.db.database import Database
from clearance.db.schema import UTCDateTime, metadata
from clearance.monitoring.feed import ContentFeed

log = structlog.get_logger(__name__)

handoff_table = sa.Table(
    "monitor_handoff",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("handed_at", UTCDateTime, nullable=False, index=True),
)
_handoff = handoff_table.c

HAND_EVERY = 0.05
RETRY_MAX = 5.0
SALT_EVERY = 3600.0
MAX_AGE = timedelta(minutes=10)
PURGE_EVERY = 60.0
MAX_WAITING_CHARS = 64 * 2**20
"""Texts a standby monitor holds while the database refuses them; beyond, the oldest
are dropped (``dropped``)."""
CHUNK = 500
_NONCE = 12
_SALT = 16


def _key(content_key: bytes, salt: bytes) -> AESGCM:
    label = b"clearance monitor handoff " + salt
    return AESGCM(hmac.new(content_key, label, hashlib.sha256).digest())


class Handoff:
    def __init__(self, db: Database, content_key: bytes, clock: Clock) -> None:
        self._db = db
        self._content_key = content_key
        self._clock = clock
        self._sealing: tuple[float, bytes, AESGCM] | None = None
        self._opening: dict[bytes, AESGCM] = {}
        self._waiting: deque[tuple[str, str]] = deque()
        self._chars = 0
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._taken: set[str] = set()
        """Request ids whose texts came from the table, deleted once monitored."""
        self._purged_at = float("-inf")
        self.handed = 0
        self.dropped = 0

    # The standby side.

    def hand(self, texts: Iterable[tuple[str, str]]) -> None:
        """Texts for the monitor holding the lease (stored within ``HAND_EVERY``)."""
        for request_id, text in texts:
            self._waiting.append((request_id, text))
            self._chars += len(text)
        while self._chars > MAX_WAITING_CHARS and self._waiting:
            self._chars -= len(self._waiting.popleft()[1])
            self.dropped += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="monitor-handoff")

    async def _run(self) -> None:
        delay = HAND_EVERY
        while self._waiting and not self._closing:
            await asyncio.sleep(delay)
            try:
                await self.flush()
                delay = HAND_EVERY
            except Exception as exc:  # kept, and tried again less often
                log.error("monitor_handoff_failed", error=str(exc), waiting=len(self._waiting))
                delay = min(RETRY_MAX, delay * 2)

    async def flush(self) -> None:
        """Store the waiting texts, ``CHUNK`` to a transaction."""
        while self._waiting:
            batch = [self._waiting.popleft() for _ in range(min(CHUNK, len(self._waiting)))]
            chars = sum(len(text) for _, text in batch)
            self._chars -= chars
            now = self._clock.now()
            rows = [
                {"request_id": request_id, "data": self._seal(request_id, text), "handed_at": now}
                for request_id, text in batch
            ]
            try:
                await self._db.run_sync(partial(_insert, rows=rows))
            except BaseException:
                self._waiting.extendleft(reversed(batch))
                self._chars += chars
                raise
            self.handed += len(rows)

    async def close(self) -> None:
        """Hand over what waits (stopping): the loop's own flush finishes first."""
        self._closing = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        try:
            await self.flush()
        except Exception:
            log.exception("monitor_handoff_lost", texts=len(self._waiting))

    def stand_by(self, feed: ContentFeed) -> None:
        """This monitor lost the lease or never had it: its feed's texts are for the
        holder — but not those it took from the table (they are still there)."""
        texts = [(i, t) for i, t in feed.drain() if i not in self._taken]
        self._taken.clear()
        if texts:
            self.hand(texts)

    # The side holding the lease.

    async def fill(self, feed: ContentFeed, rows: Sequence[Any]) -> None:
        """Into ``feed``: the texts other processes handed over for ``rows``. A failure
        leaves them out (judged by the inline verdict); it never stops the monitor."""
        try:
            await self._purge_if_due()
            missing = [row.request_id for row in rows if feed.peek(row.request_id) is None]
            if not missing:
                return
            found = await self._db.read_sync(partial(_read, request_ids=missing))
        except Exception as exc:
            log.error("monitor_handoff_unread", error=str(exc))
            return
        for request_id, data in found:
            text = self._open(request_id, bytes(data))
            if text is not None:
                feed.put(request_id, text)
                self._taken.add(request_id)

    def monitored(self, conn: sa.Connection, request_ids: Iterable[str]) -> list[str]:
        """In the transaction storing their verdicts: delete the texts taken for
        ``request_ids``; returns their ids (for :meth:`forget` once committed)."""
        done = [i for i in request_ids if i in self._taken]
        for start in range(0, len(done), CHUNK):
            chunk = done[start : start + CHUNK]
            conn.execute(handoff_table.delete().where(_handoff.request_id.in_(chunk)))
        return done

    def forget(self, request_ids: Iterable[str]) -> None:
        self._taken.difference_update(request_ids)

    async def purge(self) -> int:
        """Delete texts older than ``MAX_AGE``; returns how many."""
        where = _handoff.handed_at < self._clock.now() - MAX_AGE
        done = await self._db.run_sync(lambda c: c.execute(handoff_table.delete().where(where)))
        return int(done.rowcount or 0)

    async def _purge_if_due(self) -> None:
        if time.monotonic() - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = time.monotonic()
        await self.purge()

    def _seal(self, request_id: str, text: str) -> bytes:
        now = time.monotonic()
        if self._sealing is None or now - self._sealing[0] > SALT_EVERY:
            salt = os.urandom(_SALT)
            self._sealing = (now, salt, _key(self._content_key, salt))
        _, salt, aead = self._sealing
        nonce = os.urandom(_NONCE)
        return salt + nonce + aead.encrypt(nonce, text.encode(), request_id.encode())

    def _open(self, request_id: str, data: bytes) -> str | None:
        salt, nonce, sealed = data[:_SALT], data[_SALT : _SALT + _NONCE], data[_SALT + _NONCE :]
        aead = self._opening.get(salt)
        if aead is None:
            if len(self._opening) > 100:
                self._opening.clear()
            aead = self._opening[salt] = _key(self._content_key, salt)
        try:
            return aead.decrypt(nonce, sealed, request_id.encode()).decode()
        except (InvalidTag, ValueError):  # another key, cut short, not UTF-8
            log.error("monitor_handoff_unreadable", request_id=request_id)
            return None


def _insert(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Rows handed over twice (a retry after a commit whose answer was lost) are kept
    once."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(handoff_table).on_conflict_do_nothing(), rows)


def _read(conn: sa.Connection, request_ids: list[str]) -> list[tuple[str, bytes]]:
    found: list[tuple[str, bytes]] = []
    for start in range(0, len(request_ids), CHUNK):
        chunk = request_ids[start : start + CHUNK]
        query = sa.select(_handoff.request_id, _handoff.data).where(_handoff.request_id.in_(chunk))
        found += [(row.request_id, row.data) for row in conn.execute(query)]
    return found
