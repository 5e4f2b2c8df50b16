"""The async engine and transactions.

Every write goes through :meth:`Database.transaction`, which on SQLite starts with
``BEGIN IMMEDIATE``: taking the write lock up front means two writers queue on the busy
timeout instead of one failing with "database is locked" when it tries to upgrade a
read lock mid-transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """One engine, and the only way services reach it."""

    def __init__(self, url: str, schema: str | None = None, echo: bool = False) -> None:
        self.url = make_url(url)
        self.schema = schema
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = self._create_engine(echo)

    def _create_engine(self, echo: bool) -> AsyncEngine:
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        elif self.schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": self.schema}}
            kwargs["pool_pre_ping"] = True
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(engine)
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

    async def create_schema_if_missing(self) -> None:
        if self.schema and not self.is_sqlite:
            async with self.engine.begin() as conn:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

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
