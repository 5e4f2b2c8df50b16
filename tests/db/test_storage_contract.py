"""The storage contract: the same behaviour on SQLite and on PostgreSQL.

Every test here runs once per backend (the ``services`` fixture is parametrized).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clearance.accounts.models import OperatorRole
from clearance.container import Services
from clearance.db import changes, migrate
from clearance.db.schema import metadata
from clearance.errors import AlreadyExists, InvalidInput, NotFound
from clearance.identity.keys import KeyScope
from clearance.registry.models import ModelSpec
from clearance.usage.models import UsageRecord
from tests.support import services as support

ACTOR = "local:test"


async def test_migrations_produce_exactly_the_declared_schema(services: Services) -> None:
    async with services.db.read() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []
    assert not await migrate.pending(services.db)


async def test_upgrade_is_idempotent(services: Services) -> None:
    await migrate.upgrade(services.db)
    await migrate.upgrade(services.db)
    assert not await migrate.pending(services.db)


async def test_models_organizations_and_keys_round_trip(services: Services) -> None:
    model = await services.models.add(
        ACTOR, "m1", ModelSpec("http://127.0.0.1:9/v1/", "up-1", upstream_key_env="UP_KEY")
    )
    assert model.upstream_url == "http://127.0.0.1:9/v1"
    assert await services.models.get("m1") == model
    assert await services.models.get(model.id) == model

    org = await services.organizations.add_direct(ACTOR, "Лаборатория «Север»", "de", "pilot")
    assert org.country == "DE"
    assert await services.organizations.get(org.name) == org

    expires = datetime.now(UTC) + timedelta(days=3)
    issued = await services.keys.create(ACTOR, org.name, KeyScope(["m1"], expires_at=expires))
    (key,) = await services.keys.list(org.id)
    assert key.id == issued.id
    assert key.models == ("m1",)
    assert key.lookup == issued.lookup
    assert issued.secret.startswith(key.lookup)
    assert key.expires_at is not None
    assert key.expires_at.tzinfo is not None
    assert abs((key.expires_at - expires).total_seconds()) < 0.001
    assert issued.secret.encode() not in key.secret_hash


async def test_unique_names_are_enforced(services: Services) -> None:
    await services.models.add(ACTOR, "dup", ModelSpec("http://127.0.0.1:9/v1"))
    with pytest.raises(AlreadyExists):
        await services.models.add(ACTOR, "dup", ModelSpec("http://127.0.0.1:9/v1"))
    await services.organizations.add_direct(ACTOR, "Org", "US", "r")
    with pytest.raises(AlreadyExists):
        await services.organizations.add_direct(ACTOR, "Org", "FR", "r")


async def test_a_refused_write_leaves_nothing_behind(services: Services) -> None:
    await services.organizations.add_direct(ACTOR, "Org", "US", "r")
    before = await services.audit.count()
    with pytest.raises(InvalidInput):
        await services.keys.create(ACTOR, "Org", KeyScope(["no-such-model"]))
    with pytest.raises(NotFound):
        await services.keys.create(ACTOR, "no-such-org", KeyScope())
    assert await services.keys.list() == []
    assert await services.audit.count() == before


async def test_operator_tokens_authenticate(services: Services) -> None:
    operator, _, token = await services.operators.create(
        ACTOR, "alice", OperatorRole.ADMIN, with_token=True
    )
    assert token is not None
    caller = await services.operators.authenticate(token.secret)
    assert caller is not None
    assert caller.operator == operator
    flipped = token.secret[:-1] + ("A" if token.secret[-1] != "A" else "B")
    assert await services.operators.authenticate(flipped) is None
    assert await services.operators.authenticate("clro_" + "A" * 38) is None
    assert await services.operators.authenticate("nonsense") is None


async def test_change_watcher_reloads_only_changed_topics(services: Services) -> None:
    seen: list[str] = []

    async def on_models() -> None:
        seen.append("models")

    services.watcher.subscribe("models", on_models)
    await services.watcher.check()
    assert seen == ["models"]  # first check loads everything
    await services.watcher.check()
    assert seen == ["models"]
    async with services.db.transaction() as conn:
        await changes.bump(conn, "models", "other")
    assert "models" in await services.watcher.check()
    assert seen == ["models", "models"]


async def test_recorded_usage_reads_back_in_full(services: Services) -> None:
    now = datetime.now(UTC)
    records = [
        UsageRecord(
            request_id=f"req_{i}",
            started_at=now,
            org_id="org_x",
            key_id="key_x",
            endpoint="chat.completions",
            model="m",
            status_code=200,
            total_tokens=i,
        )
        for i in range(300)
    ]
    services.usage_recorder.start()
    await asyncio.gather(*(services.usage_recorder.record(r) for r in records))
    stored = await services.usage.recent(limit=1000)
    assert sorted(r.total_tokens or 0 for r in stored) == list(range(300))


async def test_audit_entries_are_sequenced_in_order(services: Services) -> None:
    for index in range(5):
        await services.models.add(ACTOR, f"model-{index}", ModelSpec("http://127.0.0.1:9/v1"))
    entries = await services.audit.entries()
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert [e.fields()["name"] for e in entries] == [f"model-{i}" for i in range(5)]
    assert all(e.kind == "model.registered" and e.actor == ACTOR for e in entries)


def test_a_missing_postgres_fails_the_run_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(support, "POSTGRES_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        support.require_postgres()
    monkeypatch.setattr(support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        support.require_postgres()
