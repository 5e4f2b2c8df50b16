"""SQLite's fast lanes: the threads and connections the high-volume work uses.

* **The writer thread** runs whole write transactions as synchronous functions —
  through SQLAlchemy (:meth:`Lanes.write`) or the stdlib driver directly
  (:meth:`Lanes.write_raw`, for the usage writer, where SQLAlchemy's own cost would be
  four times the write). One thread hop per transaction instead of aiosqlite's one per
  statement.
* **Inline writes** (:meth:`Lanes.write_inline`) run a short transaction right on the
  event loop's thread, on a connection that never waits for the write lock: if
  another writer holds it, :class:`Busy` is raised at once and the caller takes the
  writer thread instead. With checkpoints off the write path, a commit is a few
  buffered writes to the log (~50 µs) — cheaper than the thread hop it saves.
* **Reader threads** run read-only snapshots.
* **The checkpointer** copies the write-ahead log into the database every second on
  a connection of its own: first without blocking anyone (a passive checkpoint,
  during which SQLite releases the GIL), and once the log is long (64 MiB), the few
  pages written meanwhile with writers held off for a moment, so it starts over. Left to itself, SQLite
  would do all of it inside whichever commit filled the log past 1000 pages — a stall
  of tens of milliseconds for every request waiting on that commit.

Each thread keeps one long-lived stdlib connection, reopened after any error. Write transactions start with ``BEGIN IMMEDIATE``: taking the write
lock up front makes concurrent writers queue on the busy timeout instead of failing
when one tries to upgrade a read lock mid-transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.engine import URL

log = structlog.get_logger(__name__)

BUSY_TIMEOUT_MS = 30_000
READER_THREADS = 2
AUTOCHECKPOINT_PAGES = 1000
RESTART_FRAMES = 16_384
"""Once the log holds this many pages (64 MiB), start it over. The file keeps its
size and is written over (cutting it back would cost the next commit a truncate)."""
RESTART_ATTEMPTS = 20
RESTART_PAUSE = 0.002
T = TypeVar("T")


class Busy(Exception):
    """Another connection holds the write lock (an inline write does not wait)."""


class Lanes:
    def __init__(self, url: URL) -> None:
        self._url = url.set(drivername="sqlite+pysqlite")
        self._engine: sa.Engine | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sa.Connection] = []
        self._inline: Any = None
        self._checkpoint_conn: Any = None
        self._checkpointing = False

    def _sync_engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(
                self._url,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                pool_size=READER_THREADS + 3,
            )
            configure(self._engine)
        return self._engine

    # The writer and reader threads.

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._on_thread, work, False)

    async def read(self, work: Callable[[sa.Connection], T]) -> T:
        if self._readers is None:
            self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._on_thread, work, True)

    async def write_raw(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._raw_on_thread, work)

    def _thread_connection(self, readonly: bool) -> sa.Connection:
        conn: sa.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            options = {"clearance_readonly": True} if readonly else {}
            conn = self._sync_engine().connect().execution_options(**options)
            if not readonly and self._checkpointing:
                # On the driver's connection: through SQLAlchemy this would autobegin.
                driver: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
                driver.execute("PRAGMA wal_autocheckpoint=0")
            self._local.conn = conn
            self._connections.append(conn)
        return conn

    def _drop_thread_connection(self, conn: sa.Connection) -> None:
        self._local.conn = None
        self._connections.remove(conn)
        conn.close()

    def _on_thread(self, work: Callable[[sa.Connection], T], readonly: bool) -> T:
        conn = self._thread_connection(readonly)
        try:
            with conn.begin():
                return work(conn)
        except BaseException:
            self._drop_thread_connection(conn)
            raise

    def _raw_on_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._thread_connection(readonly=False)
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        try:
            return _transaction(raw, work)
        except BaseException:
            self._drop_thread_connection(conn)
            raise

    # Inline writes.

    def write_inline(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction on the calling (event loop) thread;
        raises :class:`Busy` without waiting if another connection is writing."""
        if self._inline is None:
            self._inline = self._sync_engine().raw_connection()
            raw = self._inline.driver_connection
            raw.execute("PRAGMA busy_timeout=0")
            if self._checkpointing:
                raw.execute("PRAGMA wal_autocheckpoint=0")
        raw = self._inline.driver_connection
        try:
            return _transaction(raw, work)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise Busy from exc
            raise

    # Checkpoints.

    async def checkpoint_forever(self, interval: float) -> None:
        self._checkpointing = True
        await self.write(_set_autocheckpoint(0))
        if self._inline is not None:
            self._inline.driver_connection.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await loop.run_in_executor(self._checkpointer, self._checkpoint_once)
                except Exception:  # a supervisor loop: log every failure, keep going
                    log.exception("sqlite_checkpoint_failed")
        finally:
            self._checkpointing = False
            with contextlib.suppress(sa.exc.SQLAlchemyError, sqlite3.Error):
                await self.write(_set_autocheckpoint(AUTOCHECKPOINT_PAGES))
                if self._inline is not None:
                    self._inline.driver_connection.execute(
                        f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}"
                    )

    def _checkpoint_once(self) -> None:
        """Copy the log into the database without blocking anyone; once the log is
        long, finish the job — the few pages written meanwhile — holding writers off
        for a moment, so that it starts over. (Passive checkpoints alone never catch up
        with a steady stream of commits: the log would grow without end.)"""
        if self._checkpoint_conn is None:
            self._checkpoint_conn = self._sync_engine().raw_connection()
            # Never wait for the lock: a waiting RESTART holds new writers off too.
            self._checkpoint_conn.driver_connection.execute("PRAGMA busy_timeout=0")
        raw = self._checkpoint_conn.driver_connection
        _, frames, _ = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames < RESTART_FRAMES:
            return  # not worth holding writers off for (that costs an fsync, ~10 ms) yet
        for _ in range(RESTART_ATTEMPTS):
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            if not busy:
                return
            time.sleep(RESTART_PAUSE)  # a writer or reader was busy: in a moment

    def close(self) -> None:
        for pool in (self._writer, self._readers, self._checkpointer):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._readers = self._checkpointer = None
        for conn in self._connections:
            conn.close()
        self._connections.clear()
        self._local = threading.local()
        for raw in (self._inline, self._checkpoint_conn):
            if raw is not None:
                raw.close()
        self._inline = self._checkpoint_conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _transaction(raw: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = work(raw)
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    return result


def _set_autocheckpoint(pages: int) -> Callable[[sa.Connection], None]:
    def work(conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(pages)}").close()

    return work


def configure(sync_engine: sa.Engine) -> None:
    """Every SQLite connection: WAL, NORMAL sync, foreign keys, a busy timeout, and
    ``BEGIN IMMEDIATE`` for write transactions."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide when transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed; only a power
        # loss can take back the last transactions.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("clearance_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
