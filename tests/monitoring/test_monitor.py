"""The monitor reads every usage event exactly once — in order, across holes in the
ids, with one process holding the lease at a time — on both backends; detectors see
real usage records (a key used from five countries in ten minutes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from clearance.container import Services
from clearance.identity.keys import KeyScope
from clearance.monitoring import monitor as monitor_module
from clearance.monitoring.models import alerts_table, monitor_results_table
from clearance.monitoring.monitor import Monitor
from clearance.monitoring.progress import monitor_state
from clearance.registry.models import ModelSpec
from clearance.usage.models import usage_records_table
from tests.support.clock import FakeClock

ACTOR = "local:test"
# Addresses registered in five countries (the offline GeoIP data ships with Clearance).
ABROAD = ["8.8.8.8", "81.2.69.160", "133.242.0.1", "200.160.2.3", "41.77.136.1"]


async def setup(services: Services) -> tuple[str, str]:
    await services.models.add(ACTOR, "m", ModelSpec("http://127.0.0.1:9/v1", "echo"))
    org = await services.organizations.add_direct(ACTOR, "Org", "US", "test")
    await services.entitlements.grant(ACTOR, "Org", "m", [])
    key = await services.keys.create(ACTOR, "Org", KeyScope())
    await services.watcher.check()
    return org.id, key.id


def row(n: int, org_id: str, key_id: str, at: datetime, ip: str = "127.0.0.1") -> dict[str, object]:
    return {
        "id": n,
        "request_id": f"req_{n:06d}",
        "started_at": at,
        "org_id": org_id,
        "key_id": key_id,
        "source_ip": ip,
        "model": "m",
        "endpoint": "chat.completions",
        "status_code": 200,
        "streamed": False,
    }


async def insert(services: Services, rows: list[dict[str, object]]) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(usage_records_table.insert(), rows)


async def monitored(services: Services) -> list[str]:
    async with services.db.read() as conn:
        found = await conn.execute(
            sa.select(monitor_results_table.c.request_id).order_by(
                monitor_results_table.c.request_id
            )
        )
        return [r.request_id for r in found]


async def drain(monitor: Monitor) -> None:
    while await monitor.step():
        pass


async def test_every_event_once_across_holes_and_late_commits(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, key = await setup(services)
    now = datetime.now(UTC)
    monitor = services.monitor
    await insert(services, [row(n, org, key, now) for n in (1, 2, 4, 5)])
    await drain(monitor)
    assert await monitored(services) == ["req_000001", "req_000002"]  # stopped at the hole
    monkeypatch.setattr(monitor_module, "GAP_WAIT", 0.0)
    await drain(monitor)  # the hole is old now: passed over, still looked for
    assert await monitored(services) == ["req_000001", "req_000002", "req_000004", "req_000005"]
    await insert(services, [row(3, org, key, now)])  # the late commit
    await drain(monitor)
    assert len(await monitored(services)) == 5
    assert monitor.stats.events == 5
    state = await monitor_state(services.db)
    assert (state["backlog"], state["events"], state["position"]) == (0, 5, 5)


async def test_one_monitor_at_a_time_and_a_lapsed_lease_is_taken_over(
    services: Services,
) -> None:
    org, key = await setup(services)
    now = datetime.now(UTC)
    clock = FakeClock(now)
    first = services.monitor
    second = Monitor(
        **{**_parts(first), "clock": clock}  # another process's monitor
    )
    await insert(services, [row(n, org, key, now) for n in range(1, 11)])
    await first.step()
    assert await second.step() == 0  # the first holds the lease
    clock.advance(seconds=60)  # the first process died: its lease lapses
    await insert(services, [row(n, org, key, now) for n in range(11, 21)])
    await drain(second)
    assert first.stats.events == 10
    assert second.stats.events == 20  # the counters go on from where the first left them
    assert len(set(await monitored(services))) == 20


async def test_a_released_lease_is_taken_at_once_with_the_counters(services: Services) -> None:
    org, key = await setup(services)
    now = datetime.now(UTC)
    first = services.monitor
    second = Monitor(**_parts(first))
    await insert(services, [row(n, org, key, now) for n in range(1, 6)])
    await drain(first)
    await first.release()  # shutting down
    state = await monitor_state(services.db)
    assert (state["holder"], state["events"]) == (None, 5)
    await insert(services, [row(n, org, key, now) for n in range(6, 9)])
    await drain(second)  # no wait for a lapse
    assert second.stats.events == 8
    assert (await monitor_state(services.db))["holder"] is not None


def _parts(monitor: Monitor) -> dict[str, object]:
    names = [
        "db", "clock", "classifier", "feed", "detectors", "alerts", "rules",
        "enforcement", "catalog", "jurisdictions", "entitlements", "content",
    ]  # fmt: skip
    return {name: getattr(monitor, f"_{name}") for name in names}


async def test_a_key_used_from_five_countries_in_ten_minutes_raises_an_alert(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    org, key = await setup(services)
    start = datetime.now(UTC)
    await insert(
        services,
        [row(n + 1, org, key, start + timedelta(minutes=2 * n), ip) for n, ip in enumerate(ABROAD)],
    )
    await drain(services.monitor)
    async with services.db.read() as conn:
        (alert,) = (await conn.execute(sa.select(alerts_table))).all()
    assert (alert.detector, alert.severity, alert.key_id) == ("credential_sharing", "high", key)
    assert len(alert.evidence["countries"]) == 5


async def test_a_record_waits_a_moment_for_its_text_from_the_server(services: Services) -> None:
    """Fed by the server's process, a recent record whose text has not arrived yet is
    held back (the texts come every few milliseconds); one still without it after
    the wait is judged from the inline verdict. The wait is on the monitor's clock,
    frozen here, so a slow step on a loaded machine does not end it early."""
    org, key = await setup(services)
    clock = FakeClock(datetime.now(UTC), frozen=True)
    monitor = Monitor(
        **{**_parts(services.monitor), "clock": clock}, text_wait=timedelta(seconds=1)
    )
    assert await monitor.step() == 0  # the lease taken; nothing to read yet
    clock.advance(seconds=1.5)  # past the hold that follows taking the lease
    feed = services.content_feed
    feed.put("req_000001", "What is the boiling point of water?")
    await insert(services, [row(n, org, key, clock.now()) for n in (1, 2, 3)])
    await drain(monitor)
    assert await monitored(services) == ["req_000001"]  # the second's text may still come
    feed.put("req_000002", "And at altitude?")
    await drain(monitor)
    assert await monitored(services) == ["req_000001", "req_000002"]
    clock.advance(seconds=2)  # the third's never came
    await drain(monitor)
    assert len(await monitored(services)) == 3
    assert (monitor.stats.deep, monitor.stats.without_text) == (2, 1)


async def test_a_record_from_a_clock_ahead_waits_no_longer_than_the_wait(
    services: Services,
) -> None:
    """The wait counts from when this monitor first read the record, by its own clock:
    a host whose clock runs ahead cannot hold the monitor up."""
    org, key = await setup(services)
    ahead = datetime.now(UTC) + timedelta(hours=1)
    wait = timedelta(seconds=0.2)
    monitor = Monitor(**_parts(services.monitor), text_wait=wait)
    await insert(services, [row(n, org, key, ahead) for n in (1, 2)])
    assert await monitor.step() == 0  # held: their texts may still come
    await asyncio.sleep(wait.total_seconds())
    await drain(monitor)
    assert len(await monitored(services)) == 2
