"""Engines, transactions, and the fast write path.

Two ways to write:

* :meth:`Database.transaction` — an async transaction for the control plane, where a
  millisecond per change does not matter.
* :meth:`Database.run_sync` — a whole transaction as one synchronous function, for the
  high-volume writers (usage records, audit-tree integration). On SQLite it runs on a
  dedicated writer thread with the stdlib driver: one thread hop per transaction
  instead of one per statement, which is what makes aiosqlite cost ~1 ms a transaction
  on this hardware. On PostgreSQL it runs on the async engine through SQLAlchemy's
  ``run_sync`` (asyncpg needs no threads).

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: taking the write
lock up front makes concurrent writers queue on the busy timeout instead of failing
with "database is locked" when one tries to upgrade a read lock mid-transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
READER_THREADS = 2
T = TypeVar("T")


class Database:
    """The engines, and the only way services reach them."""

    def __init__(self, url: str, schema: str | None = None, echo: bool = False) -> None:
        self.url = make_url(url)
        self.schema = schema
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = self._create_engine(echo)
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._sync_engine: sa.Engine | None = None

    def _create_engine(self, echo: bool) -> AsyncEngine:
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
            if self.schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": self.schema}}
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(engine.sync_engine)
        return engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction, committed when the block ends without error."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection (its reads see one consistent snapshot)."""
        async with self.engine.connect() as raw:
            conn = await raw.execution_options(clearance_readonly=True)
            async with conn.begin():
                yield conn

    async def run_sync(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` as one read-write transaction; commit unless it raises."""
        if not self.is_sqlite:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._on_thread, work, False)

    async def read_sync(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` as one read-only transaction (one consistent snapshot)."""
        if not self.is_sqlite:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        if self._readers is None:
            self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._on_thread, work, True)

    def _on_thread(self, work: Callable[[sa.Connection], T], readonly: bool) -> T:
        engine = self._sync_engine
        if engine is None:
            engine = sa.create_engine(
                self.url.set(drivername="sqlite+pysqlite"),
                connect_args={
                    "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                    "check_same_thread": False,
                },
                pool_size=READER_THREADS + 1,
            )
            _configure_sqlite(engine)
            self._sync_engine = engine
        options = {"clearance_readonly": True} if readonly else {}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            return work(conn)

    async def create_schema_if_missing(self) -> None:
        if self.schema and not self.is_sqlite:
            async with self.engine.begin() as conn:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    async def dispose(self) -> None:
        for pool in (self._writer, self._readers):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._readers = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
        await self.engine.dispose()


def _configure_sqlite(sync_engine: sa.Engine) -> None:
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
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("clearance_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
