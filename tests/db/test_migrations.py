"""Upgrading an installation made by an earlier version keeps its data meaningful."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from clearance.audit.tlog import merkle
from clearance.container import build_services
from clearance.db.migrate import alembic_config, head_revision, pending, upgrade
from clearance.settings import Settings


async def test_audit_entries_from_0001_are_renumbered_and_integrated(
    backend_settings: Settings,
) -> None:
    services = build_services(backend_settings)
    db = services.db
    try:
        await db.create_schema_if_missing()
        async with db.transaction() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0001"))
            for seq in (1, 2, 3):
                await conn.execute(
                    sa.text(
                        "INSERT INTO audit_entries (seq, recorded_at, kind, actor, body) "
                        "VALUES (:seq, :at, 'model.registered', 'local:old', :body)"
                    ).bindparams(sa.bindparam("at", type_=sa.DateTime())),
                    {
                        "seq": seq,
                        "at": datetime.now(UTC).replace(tzinfo=None),
                        "body": b"old-%d" % seq,
                    },
                )
        await upgrade(db)
        entries = await services.audit.entries()
        assert [(e.seq, e.body) for e in entries] == [(0, b"old-1"), (1, b"old-2"), (2, b"old-3")]
        assert await services.audit.count() == 3
        state = await services.tree.integrate()
        assert state.size == 3
        assert state.root == merkle.root_of([merkle.leaf_hash(b"old-%d" % i) for i in (1, 2, 3)])
    finally:
        await services.close()


def test_the_head_read_from_the_files_is_alembics() -> None:
    """``pending`` reads the newest revision from the files without Alembic: it must be
    the head Alembic itself finds."""
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_pending_until_upgraded_and_at_every_earlier_revision(
    backend_settings: Settings,
) -> None:
    services = build_services(backend_settings)
    db = services.db
    try:
        await db.create_schema_if_missing()
        assert await pending(db)  # no schema at all
        async with db.transaction() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0013"))
        assert await pending(db)  # one behind
        await upgrade(db)
        assert not await pending(db)
    finally:
        await services.close()
