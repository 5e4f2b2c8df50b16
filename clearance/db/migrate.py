"""Running the Alembic migrations programmatically, on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from clearance.db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: serialises concurrent upgrades (several replicas starting at once).
_PG_LOCK_ID = 0x434C5231


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision."""
    await db.create_schema_if_missing()
    async with db.transaction() as conn:
        if not db.is_sqlite:
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))


async def pending(db: Database) -> bool:
    """Whether the database is behind the newest revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with db.read() as conn:
        current = await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    return bool(current != head)
