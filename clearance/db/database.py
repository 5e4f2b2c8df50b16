"""Engines, transactions, and the fast write paths.

Ways to write:

* :meth:`Database.transaction` — an async transaction for the control plane, where a
  millisecond per change does not matter.
* :meth:`Database.run_sync` — a whole transaction as one synchronous function, for the
  high-volume writers (audit-tree integration, usage sealing). On SQLite it runs on a
  dedicated writer thread (see ``db.sqlite``); on PostgreSQL on the async engine
  through SQLAlchemy's ``run_sync`` (asyncpg needs no threads).
* :meth:`Database.run_sqlite` and :meth:`Database.write_inline` — SQLite only, the
  stdlib driver directly, for the usage writer whose commit is on every request's
  path (see ``db.sqlite``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from clearance.db import sqlite as lanes
from clearance.db.sqlite import Busy

__all__ = ["Busy", "Database"]

T = TypeVar("T")


class Database:
    """The engines, and the only way services reach them."""

    def __init__(self, url: str, schema: str | None = None, echo: bool = False) -> None:
        self.url = make_url(url)
        self.schema = schema
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = self._create_engine(echo)
        self._lanes = lanes.Lanes(self.url) if self.is_sqlite else None

    def _create_engine(self, echo: bool) -> AsyncEngine:
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": lanes.BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
            if self.schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": self.schema}}
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            lanes.configure(engine.sync_engine)
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
        if self._lanes is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        return await self._lanes.write(work)

    async def read_sync(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` as one read-only transaction (one consistent snapshot)."""
        if self._lanes is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        return await self._lanes.read(work)

    async def run_sqlite(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite only: ``work`` on the writer thread's stdlib connection, in
        ``BEGIN IMMEDIATE`` … ``COMMIT``."""
        assert self._lanes is not None, "run_sqlite is for SQLite"
        return await self._lanes.write_raw(work)

    def write_inline(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """SQLite only: ``work`` in a write transaction right here on the event loop's
        thread; raises :class:`Busy` at once if another writer holds the lock."""
        assert self._lanes is not None, "write_inline is for SQLite"
        return self._lanes.write_inline(work)

    async def checkpoint_forever(self, interval: float) -> None:
        """While a server runs: keep SQLite's write-ahead log short from off the write
        path (see ``db.sqlite``). Does nothing on PostgreSQL."""
        if self._lanes is not None:
            await self._lanes.checkpoint_forever(interval)

    async def create_schema_if_missing(self) -> None:
        if self.schema and not self.is_sqlite:
            async with self.engine.begin() as conn:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    async def dispose(self) -> None:
        if self._lanes is not None:
            self._lanes.close()
        await self.engine.dispose()
