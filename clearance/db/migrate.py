"""Running the Alembic migrations programmatically, on SQLite or PostgreSQL.

Every CLI command first asks whether the schema is behind (``pending``); that check
reads the revisions' own files and the ``alembic_version`` table directly, so a
command on an up-to-date database never imports Alembic (a tenth of a second: it
brings Mako and Pygments along). Alembic itself runs the upgrades.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clearance.db.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: serialises concurrent upgrades (several replicas starting at once).
_PG_LOCK_ID = 0x434C5231


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415 (see the module's docstring)

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
        await conn.run_sync(lambda sync: _upgrade_to_head(alembic_config(sync)))


def _upgrade_to_head(config: Config) -> None:
    from alembic import command  # noqa: PLC0415

    command.upgrade(config, "head")


_REVISION = re.compile(r'^revision: str = "([^"]+)"$', re.MULTILINE)
_REVISES = re.compile(r'^down_revision: str \| None = (?:"([^"]+)"|None)$', re.MULTILINE)


@cache
def head_revision() -> str:
    """The newest revision, read from the files in ``migrations/versions``: the one no
    other revises (the history is one line; a file that breaks the pattern, or a
    second head, is an error here and in ``tests/db/test_migrations.py``)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, revises = _REVISION.search(text), _REVISES.search(text)
        if revision is None or revises is None:
            raise RuntimeError(f"{path.name}: no revision and down_revision lines")
        revisions[revision[1]] = revises[1]
    heads = set(revisions) - set(revisions.values())
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


async def pending(db: Database) -> bool:
    """Whether the database is behind the newest revision (or has no schema yet)."""
    async with db.read() as conn:
        current = await conn.run_sync(_current_revision)
    return current != head_revision()


def _current_revision(sync: sa.Connection) -> str | None:
    """What ``alembic_version`` holds (as Alembic's own ``get_current_revision``)."""
    if not sa.inspect(sync).has_table("alembic_version"):
        return None
    return sync.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
