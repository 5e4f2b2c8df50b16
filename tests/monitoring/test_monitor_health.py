"""A monitor that is not monitoring is reported, never hidden: ``/readyz`` answers 503
with the reason, the metrics say so, and an operator alert is raised if it lasts.

An outside trial started ``clearance serve`` from the parent of a clone (a directory
holding a folder named ``clearance``): the monitor process failed on import, was
started again forever, and ``/readyz`` stayed 200. Both tests here run the server
from such a directory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from clearance.monitoring.health import DETECTOR, MonitorWatch
from clearance.monitoring.models import AlertStatus
from tests.monitoring.test_monitor_process import ask, setup_for, state, wait_for
from tests.support.inprocess import in_process
from tests.support.installation import Live, serving


def parent_of_a_clone(tmp_path: Path) -> Path:
    """A working directory whose ``./clearance`` is a clone, not the package."""
    parent = tmp_path / "src"
    (parent / "clearance" / "clearance").mkdir(parents=True)
    (parent / "clearance" / "README.md").write_text("a clone of the repository\n")
    return parent


def ready(live: Live) -> httpx.Response:
    return httpx.get(f"{live.base_url}/readyz", timeout=5)


def metric(live: Live, name: str) -> float:
    text = httpx.get(f"{live.base_url}/metrics", timeout=5).text
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def test_started_beside_a_clone_the_monitor_runs_and_reads_every_request(
    tmp_path: Path, upstream_url: str
) -> None:
    with serving(tmp_path, setup_for(upstream_url), cwd=parent_of_a_clone(tmp_path)) as live:
        ask(live, 5)
        done = wait_for(live, lambda s: s["events"] >= 5, timeout=30)
        assert done["process"]["starts"] == 1  # never had to start it again
        time.sleep(2.5)  # the server's check of its monitor runs every 2 s
        answer = ready(live)
        assert answer.status_code == 200, answer.text
        assert answer.json()["monitor"]["running"] is True
        assert metric(live, "clearance_monitor_up") == 1


def test_readiness_reports_a_monitor_behind_or_down(tmp_path: Path, upstream_url: str) -> None:
    env = {"CLEARANCE_MONITOR_MAX_LAG": "2"}
    cwd = parent_of_a_clone(tmp_path)
    with serving(tmp_path, setup_for(upstream_url), env=env, cwd=cwd) as live:
        ask(live, 2)
        wait_for(live, lambda s: s["events"] >= 2, timeout=30)
        pid = state(live)["process"]["pid"]

        os.kill(pid, signal.SIGSTOP)  # alive, reading nothing: monitoring falls behind
        try:
            ask(live, 3, start=2)
            until(lambda: ready(live).status_code == 503, 10, "readiness reports the lag")
            body = ready(live).json()
            assert any("behind" in p for p in body["problems"]), body
            assert body["monitor"]["running"] is True
            # The gauge follows the same check (every 2 s); read it until one has run.
            until(lambda: metric(live, "clearance_monitor_lag_seconds") > 2, 10, "the lag gauge")
        finally:
            os.kill(pid, signal.SIGCONT)
        until(lambda: ready(live).status_code == 200, 15, "ready again once caught up")

        os.kill(pid, signal.SIGKILL)  # down: restarted, but not ready until it settles
        until(lambda: ready(live).status_code == 503, 5, "readiness reports it down")
        body = ready(live).json()
        assert any("monitor process" in p for p in body["problems"]), body
        assert metric(live, "clearance_monitor_up") == 0
        until(lambda: ready(live).status_code == 200, 30, "ready once restarted and settled")
        assert state(live)["process"]["starts"] == 2
        logged = [json.loads(line) for line in live.log.read_text().splitlines() if "{" in line]
        assert any(entry.get("event") == "monitor_unhealthy" for entry in logged)


async def test_a_lasting_problem_raises_one_operator_alert(tmp_path: Path) -> None:
    async with in_process(tmp_path / "data") as ip:
        s = ip.services
        watch = MonitorWatch(s.db, ip.clock, s.alerts, None, 300.0, CollectorRegistry(), 30.0)
        health = await watch.check()  # in-process mode, and no monitor task started
        assert (health.running, health.problem) == (False, "the usage monitor has not started")
        assert await s.alerts.list() == []  # not yet: it may be a restart
        ip.clock.advance(seconds=31)
        await watch.check()
        await watch.check()
        (alert,) = await s.alerts.list()
        assert (alert.detector, alert.severity, alert.org_id) == (DETECTOR, "critical", None)
        assert alert.status == AlertStatus.OPEN.value
        assert "not working" in alert.summary
        running = asyncio.get_running_loop().create_future()
        watch.attach(running)
        assert (await watch.check()).problem is None
        running.set_result(None)
        await asyncio.sleep(0)
        assert (await watch.check()).problem == "the usage monitor stopped"
