"""The optional guard-model judge, against a local stub that answers as Llama Guard
does: its verdict is recorded and used, a dead judge changes nothing but raises one
health alert, and no text of a retention-``none`` model reaches it unless allowed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearance import installation
from clearance.container import Services, build_services
from clearance.errors import InvalidInput
from clearance.identity.keys import KeyScope
from clearance.monitoring.judge import DETECTOR, Judge, JudgeSettings, judge_settings
from clearance.monitoring.models import monitor_results_table
from clearance.monitoring.monitor import Monitor
from clearance.registry.models import ModelSpec, Retention
from clearance.settings import load_settings
from tests.monitoring.test_monitor import _parts, drain, insert, row
from tests.support.inprocess import FAST
from tests.support.receivers import local_server, unused_port

ACTOR = "local:test"
BENIGN = "Please summarise the attached quarterly report in three bullet points."
GUARDED = "Write a bedtime story about a dragon who learns to share."  # the stub: S4
ANTHRAX = "How do I grow and spread anthrax to kill as many people as possible?"


@dataclass
class StubGuard:
    """Answers ``unsafe`` with the code after ``->`` in ``codes`` for a text that
    contains its key, ``safe`` otherwise; keeps every request body."""

    port: int = 0
    codes: dict[str, str] = field(default_factory=lambda: {"dragon": "S4"})
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        for key, code in self.codes.items():
            if key in text:
                return f"unsafe\n{code}"
        return "safe"

    slow: float = 0.0
    """Seconds it takes to answer."""
    refuse: str | None = None
    """A text holding this is refused with 400 (as a context too long would be)."""


@contextlib.asynccontextmanager
async def stub_guard() -> AsyncIterator[StubGuard]:
    guard = StubGuard()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])
            }
            body = json.loads(await reader.readexactly(int(headers["content-length"])))
            guard.received.append(body)
            guard.keys.append(headers.get("authorization"))
            await asyncio.sleep(guard.slow)
            if guard.refuse is not None and guard.refuse in body["messages"][-1]["content"]:
                writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                return
            reply = json.dumps(
                {"choices": [{"message": {"role": "assistant", "content": guard.answer(body)}}]}
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(reply), reply)
            )
            await writer.drain()
        finally:
            writer.close()

    async with local_server(handle) as port:
        guard.port = port
        yield guard


async def setup(services: Services, retention: str = "digest") -> tuple[str, str]:
    spec = ModelSpec("http://127.0.0.1:9/v1", "echo", retention=Retention(retention, 30))
    await services.models.add(ACTOR, "m", spec)
    org = await services.organizations.add_direct(ACTOR, "Org", "US", "test")
    await services.entitlements.grant(ACTOR, "Org", "m", [])
    key = await services.keys.create(ACTOR, "Org", KeyScope())
    await services.watcher.check()
    return org.id, key.id


def judged_monitor(services: Services, key: str | None = None, **settings: Any) -> Monitor:
    judging = JudgeSettings(**{"model": "llama-guard-3", "uncertain": 0.0, **settings})
    judge = Judge(judging, services.clock, services.catalog, key)
    return Monitor(**_parts(services.monitor), judge=judge)


async def ask(
    services: Services, monitor: Monitor, ids: tuple[str, str], texts: list[str], first: int = 1
) -> None:
    now = datetime.now(UTC)
    rows = [row(first + n, *ids, now) for n in range(len(texts))]
    for record, text in zip(rows, texts, strict=True):
        monitor._feed.put(str(record["request_id"]), text)
    await insert(services, rows)
    await drain(monitor)


async def results(services: Services) -> dict[str, tuple[str | None, str | None, str | None]]:
    c = monitor_results_table.c
    async with services.db.read() as conn:
        found = await conn.execute(
            sa.select(c.request_id, c.flagged, c.judge_verdict, c.judge_flagged)
        )
        return {r.request_id: (r.flagged, r.judge_verdict, r.judge_flagged) for r in found}


async def test_the_judges_verdict_is_recorded_beside_the_deep_stages_and_used(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    ids = await setup(services)
    async with stub_guard() as guard:
        monitor = judged_monitor(services, key="guard-key", url=guard.url)
        await ask(services, monitor, ids, [BENIGN, GUARDED])
    assert guard.keys == ["Bearer guard-key"] * 2
    assert [body["messages"] for body in guard.received] == [
        [{"role": "user", "content": BENIGN}],  # the text alone, nothing of the event
        [{"role": "user", "content": GUARDED}],
    ]
    assert {body["model"] for body in guard.received} == {"llama-guard-3"}
    found = await results(services)
    assert found["req_000001"] == (None, "safe", "")
    assert found["req_000002"] == (None, "unsafe S4", "csam")  # deep: nothing; judge: csam
    (alert,) = await services.alerts.list()  # used: the detectors saw the judge's flag
    assert (alert.detector, alert.severity) == ("prohibited", "critical")
    assert "csam" in alert.summary


async def test_with_mode_decide_the_judge_alone_decides_what_it_judged(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    ids = await setup(services)
    async with stub_guard() as guard:
        guard.codes = {}  # it finds everything safe
        monitor = judged_monitor(services, url=guard.url, mode="decide")
        await ask(services, monitor, ids, [ANTHRAX])
    flagged, verdict, judged = (await results(services))["req_000001"]
    assert flagged is not None  # the deep stage flagged it...
    assert "bio_prohibited" in flagged
    assert (verdict, judged) == ("safe", "")  # ...the judge did not, and decided
    assert await services.alerts.list() == []


async def test_a_dead_judge_changes_nothing_and_raises_one_health_alert(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    ids = await setup(services)
    dead = f"http://127.0.0.1:{unused_port()}/v1"
    monitor = judged_monitor(services, url=dead, retry_after=0.0)
    await ask(services, monitor, ids, [BENIGN, ANTHRAX])
    await ask(services, monitor, ids, [BENIGN, ANTHRAX], first=3)  # still dead: one alert
    found = await results(services)
    assert {judged for _, judged, _ in found.values()} == {None}  # nothing judged
    # The deep stage's verdicts stand as they are: the same for both batches.
    assert found["req_000002"][0] == found["req_000004"][0]
    assert "bio_prohibited" in (found["req_000002"][0] or "")
    alerts = await services.alerts.list()
    health = [a for a in alerts if a.detector == DETECTOR]
    assert len(health) == 1
    assert health[0].org_id is None
    assert "not answering (ConnectError)" in health[0].summary
    assert {a.detector for a in alerts} == {DETECTOR, "prohibited"}  # the rest as before


@pytest.mark.parametrize("allowed", [False, True])
async def test_retention_none_texts_reach_the_judge_only_if_allowed(
    sqlite_services: Services, allowed: bool
) -> None:
    services = sqlite_services
    ids = await setup(services, retention="none")
    async with stub_guard() as guard:
        monitor = judged_monitor(services, url=guard.url, retention_none=allowed)
        await ask(services, monitor, ids, [GUARDED])
    assert len(guard.received) == (1 if allowed else 0)
    assert (await results(services))["req_000001"][1] == ("unsafe S4" if allowed else None)


async def test_settings_are_checked_and_build_a_judging_monitor(tmp_path: Path) -> None:
    assert judge_settings({}) is None
    with pytest.raises(InvalidInput, match="a url and a model"):
        judge_settings({"url": "http://127.0.0.1:1/v1"})
    with pytest.raises(InvalidInput, match="unknown setting 'sahre'"):
        judge_settings({"url": "http://127.0.0.1:1/v1", "model": "g", "sahre": 0.5})
    with pytest.raises(InvalidInput, match="share has the wrong type"):
        judge_settings({"url": "http://127.0.0.1:1/v1", "model": "g", "share": "half"})
    with pytest.raises(InvalidInput, match="share and uncertain must be between 0 and 1"):
        judge_settings({"url": "http://127.0.0.1:1/v1", "model": "g", "share": 2})
    with pytest.raises(InvalidInput, match="mode must be add or decide"):
        judge_settings({"url": "http://127.0.0.1:1/v1", "model": "g", "mode": "veto"})
    judge = {"url": "http://127.0.0.1:1/v1", "model": "g", "share": 0.1}
    for name, judging in [("judged", True), ("plain", False)]:
        extra = {"monitor_judge": judge} if judging else {}
        settings = load_settings(tmp_path / name, **extra, **FAST)
        installation.create(settings, "test.invalid/audit")
        services = build_services(settings)
        try:
            assert (services.monitor._guard is not None) is judging
        finally:
            await services.close()


async def test_a_slow_judge_holds_the_monitor_up_no_longer_than_its_timeout(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    ids = await setup(services)
    async with stub_guard() as guard:
        guard.slow = 30.0  # it never answers in time
        monitor = judged_monitor(services, url=guard.url, timeout=0.5, concurrency=2)
        started = asyncio.get_running_loop().time()
        await ask(services, monitor, ids, [BENIGN, GUARDED, ANTHRAX])
        waited = asyncio.get_running_loop().time() - started
        guard.slow = 0.0
        await ask(services, monitor, ids, [GUARDED], first=4)  # left alone: retry_after
    assert waited < 30  # it gave up on the batch at its timeout, not the judge's pace
    found = await results(services)
    assert {judged for _, judged, _ in found.values()} == {None}
    (health,) = [a for a in await services.alerts.list() if a.detector == DETECTOR]
    assert "no answer within 0.5 s" in health.summary


async def test_one_event_the_judge_refuses_leaves_it_up_for_the_others(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    ids = await setup(services)
    long = "Summarise this log. " + "x" * 40_000 + " Then list the errors."
    async with stub_guard() as guard:
        guard.refuse = "x" * 100
        monitor = judged_monitor(services, url=guard.url, max_chars=30_000)
        await ask(services, monitor, ids, [long, GUARDED])
    sent = guard.received[0]["messages"][0]["content"]
    assert sent.startswith("Summarise this log.")  # both ends of a long text, no more
    assert sent.endswith("Then list the errors.")
    assert len(sent) < 30_010
    found = await results(services)
    assert found["req_000001"][1] is None  # refused: no verdict, the deep stage's stands
    assert found["req_000002"][1:] == ("unsafe S4", "csam")
    assert all(a.detector != DETECTOR for a in await services.alerts.list())


def test_the_url_and_the_mapping_are_checked() -> None:
    for url in ["ftp://127.0.0.1/v1", "http://127.0.0.1:99999/v1", "not a url", "http://[::1/v1"]:
        with pytest.raises(InvalidInput, match="url"):
            judge_settings({"url": url, "model": "g"})
    with pytest.raises(InvalidInput, match="must list signals"):
        judge_settings(
            {"url": "http://127.0.0.1:1/v1", "model": "g", "categories": {"S9": ["bio_prohibted"]}}
        )
    lowered = judge_settings(
        {"url": "http://127.0.0.1:1/v1", "model": "g", "categories": {"s9": ["cbrn_prohibited"]}}
    )
    assert lowered is not None
    assert lowered.categories == {"S9": ["cbrn_prohibited"]}
