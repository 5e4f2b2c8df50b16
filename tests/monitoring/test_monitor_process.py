"""``clearance serve`` runs the monitor in a process of its own: every request the
server serves reaches it with its text (the deep stage reads it), a monitor that
exits is started again and goes on from its position, and it never outlives the
server — not even one killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.installation import Live, serving
from tests.support.services import drop_schema, fresh_schema_name, require_postgres


def setup_for(upstream_url: str) -> Callable[[Callable[..., str]], str]:
    def setup(cli: Callable[..., str]) -> str:
        cli("models", "add", "m", "--upstream-url", upstream_url, "--upstream-model", "echo")
        cli("orgs", "add", "Org", "--country", "US", "--reason", "test")
        cli("entitlements", "grant", "--org", "Org", "--model", "m")
        return str(json.loads(cli("keys", "create", "--org", "Org", "-o", "json"))["key"])

    return setup


def ask(live: Live, count: int, start: int = 0) -> None:
    with httpx.Client(timeout=10) as client:
        for n in range(start, start + count):
            prompt = f"Summarise paragraph {n} of the quarterly report, please."
            answer = client.post(
                f"{live.v1}/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": prompt}]},
                headers={"authorization": f"Bearer {live.api_key}"},
            )
            assert answer.status_code == 200, answer.text


def state(live: Live) -> dict[str, Any]:
    found = httpx.get(f"{live.base_url}/admin/v1/monitor", headers=live.admin_headers())
    assert found.status_code == 200, found.text
    document: dict[str, Any] = found.json()
    return document


def wait_for(
    live: Live, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = state(live)
        if done(current):
            return current
        time.sleep(0.1)
    raise AssertionError(f"the monitor did not get there in {timeout} s: {state(live)}")


def parent_of(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rindex(")") + 2 :].split()[1])


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def kernel() -> tuple[int, int]:
    major, minor = os.uname().release.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def time_slice(pid: int) -> int:
    """The scheduler's time slice of ``pid``'s main thread, in nanoseconds."""
    for line in Path(f"/proc/{pid}/sched").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "se.slice":
            return int(value)
    raise AssertionError(f"no se.slice in /proc/{pid}/sched")


def gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment that puts an installation on each backend in turn."""
    if request.param == "sqlite":
        yield {}
        return
    yield request.getfixturevalue("postgres")


def test_every_request_reaches_the_monitor_process_which_restarts_after_exiting(
    tmp_path: Path, upstream_url: str, backend: dict[str, str]
) -> None:
    with serving(tmp_path, setup_for(upstream_url), env=backend) as live:
        ask(live, 20)
        first = wait_for(live, lambda s: s["events"] >= 20)
        assert (first["events"], first["deep"], first["without_text"]) == (20, 20, 0)
        assert first["backlog"] == 0
        process = first["process"]
        assert process["starts"] == 1
        assert process["texts_undelivered"] == 0
        assert parent_of(process["pid"]) == live.process.pid  # its own process, the server's
        # It makes way for the gateway: ten steps lower, in the ordinary class, and
        # (where the kernel has EEVDF's custom slices) with the longest time slice.
        server_nice = os.getpriority(os.PRIO_PROCESS, live.process.pid)
        assert os.getpriority(os.PRIO_PROCESS, process["pid"]) == min(19, server_nice + 10)
        assert os.sched_getscheduler(process["pid"]) == os.SCHED_OTHER
        if kernel() >= (6, 12):
            assert time_slice(process["pid"]) == 100_000_000
            assert time_slice(live.process.pid) < 100_000_000

        os.kill(process["pid"], signal.SIGTERM)  # it gives its lease up, and is started again
        assert gone(process["pid"], 15)
        restarted = wait_for(live, lambda s: s["process"]["starts"] == 2 and s["holder"])
        assert restarted["process"]["pid"] != process["pid"]
        ask(live, 5, start=20)
        after = wait_for(live, lambda s: s["events"] >= 25)
        # The counters went on from the saved ones; every text of the new requests arrived.
        assert (after["events"], after["deep"], after["without_text"]) == (25, 25, 0)
    log = live.log.read_text()
    assert '"monitor_process_exited"' in log
    assert '"monitor_stopped"' in log


def test_asked_to_the_monitor_holding_the_lease_runs_in_the_idle_class_and_no_other(
    tmp_path: Path, upstream_url: str, postgres: dict[str, str]
) -> None:
    """``monitor_idle_priority``: the holder (every one of its threads) moves into the
    idle scheduling class; the monitor standing by, which hands texts over, does not."""
    env = {**postgres, "CLEARANCE_MONITOR_IDLE_PRIORITY": "true"}
    with serving(tmp_path, setup_for(upstream_url), workers=2, env=env) as live:
        deadline = time.monotonic() + 60
        while not (live.log.read_text().count('"monitor_started"') == 2 and state(live)["holder"]):
            assert time.monotonic() < deadline, live.log.read_text()
            time.sleep(0.1)
        holder = int(state(live)["holder"].split(":")[1])
        monitors = [m for worker in children(live.process.pid) for m in children(worker)]
        assert len(monitors) == 2
        assert holder in monitors
        deadline = time.monotonic() + 10  # the lease taken, the class follows at once
        while os.sched_getscheduler(holder) != os.SCHED_IDLE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for thread in Path(f"/proc/{holder}/task").iterdir():
            assert os.sched_getscheduler(int(thread.name)) == os.SCHED_IDLE
        (standby,) = set(monitors) - {holder}
        assert os.sched_getscheduler(standby) == os.SCHED_OTHER


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    url, schema = require_postgres(), fresh_schema_name()
    yield {"CLEARANCE_DATABASE_URL": url, "CLEARANCE_DATABASE_SCHEMA": schema}
    asyncio.run(drop_schema(url, schema))


def test_with_two_workers_the_monitor_holding_the_lease_reads_every_text(
    tmp_path: Path, upstream_url: str, postgres: dict[str, str]
) -> None:
    """Each worker of ``serve --workers 2`` feeds its own monitor process; the one
    standing by hands its texts over (sealed, through the database), so the deep stage
    reads the text of every request, whichever worker served it. (On PostgreSQL, as
    replicas would be; ``test_handoff.py`` covers the handoff on both backends.)"""
    # Every text must arrive, however loaded the machine: a late one is waited for.
    env = {**postgres, "CLEARANCE_MONITOR_TEXT_WAIT": "30"}
    with serving(tmp_path, setup_for(upstream_url), workers=2, env=env) as live:

        def ask_fresh(n: int) -> None:  # a new connection each: both workers serve
            with httpx.Client(timeout=10) as client:
                answer = client.post(
                    f"{live.v1}/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": f"Note {n}."}]},
                    headers={"authorization": f"Bearer {live.api_key}", "connection": "close"},
                )
                assert answer.status_code == 200, answer.text

        deadline = time.monotonic() + 60  # both monitor processes running
        while live.log.read_text().count('"monitor_started"') < 2:
            assert time.monotonic() < deadline, live.log.read_text()
            time.sleep(0.1)
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(ask_fresh, range(60)))
        done = wait_for(live, lambda s: s["events"] >= 60)
        assert (done["events"], done["deep"], done["without_text"]) == (60, 60, 0)
    handed = [
        json.loads(line)["texts_handed"]
        for line in live.log.read_text().splitlines()
        if '"monitor_stopped"' in line
    ]
    assert len(handed) == 2
    assert sum(handed) > 0, handed  # the one standing by handed texts over


def test_the_monitor_process_exits_when_the_server_is_killed(
    tmp_path: Path, upstream_url: str
) -> None:
    with serving(tmp_path, setup_for(upstream_url)) as live:
        ask(live, 3)
        pid = wait_for(live, lambda s: s["events"] >= 3)["process"]["pid"]
        live.process.kill()  # SIGKILL: no shutdown code runs in the server
        live.process.wait()
        assert gone(pid, 15)  # its input closed, so it finished and left
