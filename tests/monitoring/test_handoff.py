"""Texts another server process served reach the monitor holding the lease through the
handoff table, sealed, on both backends: the deep stage reads them, the model's
retention rule keeps them, and each is deleted once monitored; a text that does not
open, or waited past its age, is judged by the inline verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from clearance.container import Services
from clearance.monitoring import handoff as handoff_module
from clearance.monitoring.feed import ContentFeed
from clearance.monitoring.handoff import MAX_AGE, Handoff, handoff_table
from clearance.monitoring.monitor import Monitor
from clearance.monitoring.retention import content_table
from clearance.registry.models import ModelSpec, Retention
from tests.monitoring.test_monitor import ACTOR, _parts, drain, insert, row, setup
from tests.support.clock import FakeClock

KEY = bytes(range(32))
TEXTS = [("req_000001", "What is the boiling point of water?"), ("req_000002", "And at altitude?")]


def holder(services: Services, text_wait: timedelta = timedelta(0)) -> Monitor:
    """The monitor of the process holding the lease, with a feed of its own."""
    parts = {**_parts(services.monitor), "feed": ContentFeed()}
    return Monitor(**parts, text_wait=text_wait, handoff=Handoff(services.db, KEY, services.clock))


async def handed(services: Services) -> list[bytes]:
    async with services.db.read() as conn:
        return [bytes(r.data) for r in await conn.execute(sa.select(handoff_table.c.data))]


async def test_a_standby_process_hands_its_texts_to_the_monitor_holding_the_lease(
    services: Services,
) -> None:
    org, key = await setup(services)
    spec = ModelSpec("http://127.0.0.1:9/v1", "echo", retention=Retention("encrypted", 30))
    await services.models.add(ACTOR, "kept", spec)
    await services.watcher.check()
    now = datetime.now(UTC)
    await insert(services, [{**row(n, org, key, now), "model": "kept"} for n in (1, 2, 3)])
    standby = Handoff(services.db, KEY, services.clock)
    standby.hand(TEXTS)
    await standby.flush()
    stored = await handed(services)
    assert len(stored) == 2
    assert not any(text.encode() in data for _, text in TEXTS for data in stored)  # sealed

    monitor = holder(services)
    await drain(monitor)
    assert (monitor.stats.deep, monitor.stats.without_text) == (2, 1)  # the third had none
    assert await handed(services) == []  # each deleted with its verdict
    for request_id, text in TEXTS:  # kept per the model's retention rule
        assert await services.content_store.lookup(request_id) == text.encode()
    async with services.db.read() as conn:
        assert len((await conn.execute(sa.select(content_table))).all()) == 2


async def test_a_monitor_that_just_took_the_lease_waits_for_texts_being_handed_over(
    services: Services,
) -> None:
    """Records older than the wait are held too, right after the lease is taken: the
    processes now standing by hand over the texts they were fed meanwhile."""
    org, key = await setup(services)
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    await insert(services, [row(n, org, key, earlier) for n in (1, 2)])
    monitor = holder(services, text_wait=timedelta(seconds=30))
    assert await monitor.step() == 0  # held
    standby = Handoff(services.db, KEY, services.clock)
    standby.hand(TEXTS)
    await standby.flush()
    await drain(monitor)
    assert (monitor.stats.events, monitor.stats.deep) == (2, 2)


async def test_texts_that_do_not_open_or_waited_too_long_leave_the_inline_verdict(
    services: Services,
) -> None:
    org, key = await setup(services)
    now = datetime.now(UTC)
    await insert(services, [row(n, org, key, now) for n in (1, 2)])
    forged = Handoff(services.db, bytes(32), services.clock)  # another key
    forged.hand(TEXTS[:1])
    await forged.flush()
    stale = Handoff(services.db, KEY, FakeClock(now - MAX_AGE - timedelta(seconds=1)))
    stale.hand(TEXTS[1:])
    await stale.flush()
    monitor = holder(services)
    await drain(monitor)
    assert (monitor.stats.deep, monitor.stats.without_text) == (0, 2)
    assert len(await handed(services)) == 1  # the stale one purged; the forged one ages out


async def test_a_holder_that_loses_the_lease_hands_over_the_texts_it_was_fed(
    services: Services,
) -> None:
    """…but not those it took from the table: they are still there for the next."""
    org, key = await setup(services)
    now = datetime.now(UTC)
    await insert(services, [row(n, org, key, now) for n in (1, 2)])
    other = Handoff(services.db, KEY, services.clock)
    other.hand(TEXTS[:1])
    await other.flush()
    first = holder(services, text_wait=timedelta(seconds=30))
    first._feed.put(*TEXTS[1])
    await first._handoff.fill(first._feed, [SimpleNamespace(request_id=TEXTS[0][0])])
    assert len(first._feed) == 2  # one fed, one taken from the table
    first._handoff.stand_by(first._feed)
    await first._handoff.flush()
    assert len(first._feed) == 0
    assert len(await handed(services)) == 2  # the fed one joined the taken one
    second = holder(services)
    await drain(second)
    assert (second.stats.deep, second.stats.without_text) == (2, 0)
    assert await handed(services) == []


async def test_texts_a_failed_insert_kept_go_in_the_next(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    standby = Handoff(services.db, KEY, services.clock)
    standby.hand(TEXTS)

    def refused(conn: sa.Connection, rows: list[dict[str, object]]) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    with monkeypatch.context() as patch:
        patch.setattr(handoff_module, "_insert", refused)
        with pytest.raises(sa.exc.OperationalError):
            await standby.flush()
    assert standby.handed == 0
    await standby.flush()
    assert (standby.handed, standby.dropped) == (2, 0)
    assert len(await handed(services)) == 2
