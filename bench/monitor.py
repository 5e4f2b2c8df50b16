"""Monitoring keeps up: requests through the gateway at a steady rate (500/s by
default) for a minute, while the monitor reads every usage event — deep stage
(MiniLM embeddings and trained heads on worker threads), retention, detectors — in
the server's monitor process. Prints the backlog as the load runs and drains, and checks
that every usage record was monitored: none dropped, none read twice.

    .venv/bin/python bench/monitor.py [--rate 500] [--seconds 60] [--json out.json]

Needs wrk on PATH. The prompts are the project's own written examples (mostly benign,
some dual-use, so refusals and alerts happen too), each request made distinct.
Target (issue 8): at 500 requests/s for 60 s the backlog drains and no usage event is
dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import loadgen
from gateway import free_port, install_clearance, process

HERE = Path(__file__).resolve().parent
WRITTEN = HERE.parent / "data" / "classifier" / "written"
CONNECTIONS = 12
DRAIN_LIMIT = 1800.0
LATENCY_MS = 5.0
"""Allowed for in the pacing: a request takes about this long under this load here."""


def prompts() -> list[str]:
    texts = []
    for name in ("benign.jsonl", "benign_cbrn.jsonl", "benign_cyber_other.jsonl", "harmful.jsonl"):
        with (WRITTEN / name).open(encoding="utf-8") as lines:
            texts += [json.loads(line)["text"] for line in lines if line.strip()]
    return texts


def lua(directory: Path, key: str, rate: float, texts: list[str]) -> Path:
    """wrk script: each connection sends a request every CONNECTIONS/rate seconds
    (less the time the request took), cycling through distinct bodies."""
    bodies = [
        json.dumps(
            {
                "model": "bench",
                "messages": [{"role": "user", "content": f"{text} (ticket {n})"}],
                "user": f"user-{n % 50}",
            }
        )
        for n, text in enumerate(texts * 2)
    ]
    table = ",\n".join(json.dumps(body) for body in bodies)
    pause = max(0.0, CONNECTIONS / rate * 1000 - LATENCY_MS)
    path = directory / "monitor.lua"
    path.write_text(
        f"local bodies = {{\n{table}\n}}\n"
        "local n = 0\n"
        "function setup(thread) thread:set('offset', math.random(1, #bodies)) end\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        "function request()\n"
        "  n = n + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])\n"
        "end\n"
        f"function delay() return {pause:.1f} end\n"
    )
    return path


def monitor_state(base: str, token: str) -> dict[str, int]:
    request = urllib.request.Request(
        f"{base}/admin/v1/monitor", headers={"authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        state: dict[str, int] = json.loads(response.read())
        return state


def counts(data: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(data / "clearance.db")) as db:
        found = {}
        for table in ("usage_records", "monitor_results", "monitor_alerts"):
            found[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        found["distinct_monitored"] = db.execute(
            "SELECT count(DISTINCT request_id) FROM monitor_results"
        ).fetchone()[0]
        found["deep"] = db.execute(
            "SELECT count(*) FROM monitor_results WHERE stage = 'deep'"
        ).fetchone()[0]
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    loadgen.require_wrk()
    root = Path(tempfile.mkdtemp(prefix="clearance-bench-monitor-"))
    env = dict(os.environ)
    stub_port, gateway_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{stub_port}/v1"
    base = f"http://127.0.0.1:{gateway_port}"
    stub_args = [sys.executable, "-m", "clearance.demo.stub_upstream", "--port", str(stub_port)]
    with contextlib.ExitStack() as stack:
        stack.enter_context(process(stub_args, f"{upstream}/models", root / "stub.log", env))
        data, key, token = install_clearance(root, upstream, env)
        serve = [sys.executable, "-m", "clearance", "serve", "--data-dir", str(data)]
        serve += ["--port", str(gateway_port)]
        server = stack.enter_context(process(serve, f"{base}/healthz", root / "serve.log", env))
        script = lua(root, key, args.rate, prompts())
        print(
            f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"{args.rate:g} requests/s asked for {args.seconds:g} s"
        )
        command = [
            loadgen.require_wrk(),
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{round(args.seconds)}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            f"{base}/v1/chat/completions",
        ]
        cpu_before = loadgen.tree_cpu_seconds(server)
        started = time.monotonic()
        load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        trace: list[tuple[float, int, int]] = []
        while load.poll() is None:
            time.sleep(5)
            state = monitor_state(base, token)
            trace.append((time.monotonic() - started, state["backlog"], state["deep"]))
            print(f"  {trace[-1][0]:5.0f} s  backlog {state['backlog']:6d}  deep {state['deep']}")
        output = load.stdout.read() if load.stdout else ""
        load_end = time.monotonic()
        peak = max([b for _, b, _ in trace] + [monitor_state(base, token)["backlog"]])
        while (state := monitor_state(base, token))["backlog"] > 0:
            if time.monotonic() - load_end > DRAIN_LIMIT:
                raise SystemExit(f"the backlog did not drain in {DRAIN_LIMIT:g} s: {state}")
            time.sleep(2)
        drained = time.monotonic() - load_end
        cpu = loadgen.tree_cpu_seconds(server) - cpu_before
        time.sleep(1)
        found = counts(data)
    sent = int(output.split(" requests in ")[0].split()[-1])
    result: dict[str, Any] = {
        "requests_sent": sent,
        "rate": sent / args.seconds,
        "peak_backlog": peak,
        "drain_seconds_after_load": round(drained, 1),
        "cpu_seconds": round(cpu, 1),
        **found,
        "monitor": state,
    }
    lost = found["usage_records"] - found["distinct_monitored"]
    twice = found["monitor_results"] - found["distinct_monitored"]
    print(
        f"sent {sent} requests ({sent / args.seconds:.0f}/s); usage records {found['usage_records']}; "
        f"monitored {found['distinct_monitored']} (deep stage {found['deep']}); "
        f"dropped {lost}; read twice {twice}\n"
        f"peak backlog {peak}; drained {drained:.0f} s after the load ended; "
        f"server CPU {cpu:.0f} s ({cpu / max(1, sent) * 1000:.1f} ms a request, deep stage included); "
        f"alerts {found['monitor_alerts']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if lost or twice:
        raise SystemExit("FAILED: usage events were dropped or read twice")


if __name__ == "__main__":
    main()
