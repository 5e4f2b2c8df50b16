"""Gateway benchmark: the same fast upstream stub reached directly, through Clearance
(full pipeline: key check, Cedar authorization, limits, usage recorded before the
first byte), and through LiteLLM's proxy — side by side in one run, at several
concurrencies, streaming and not. Then Clearance's resident memory across 200,000
requests.

    .venv/bin/python bench/gateway.py [--seconds 10] [--concurrency 1,32,128]
        [--memory-requests 200000] [--json results.json] [--no-monitor]

Clearance serves as installed by default, its usage monitor included (the deep stage
and the detectors run in the server's child process, and CPU is counted over the
whole process tree, so theirs counts); ``--no-monitor`` leaves the monitor out to show
its share.

Needs wrk on PATH. LiteLLM runs from its own virtual environment (it is not a
dependency of Clearance):

    python -m venv bench/.venv-litellm
    bench/.venv-litellm/bin/pip install 'litellm[proxy]'

Targets (issue 6): overhead at concurrency 1 ≤ 1 ms at p50 and ≤ 3 ms at p99; ≤ 0.5 ms
of CPU per request; ≥ 10x LiteLLM's throughput at concurrency 32; resident memory
flat (within 10%) across 200,000 requests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import loadgen

HERE = Path(__file__).resolve().parent
LITELLM = HERE / ".venv-litellm" / "bin" / "litellm"
MASTER_KEY = "sk-bench-master"
MESSAGES = [{"role": "user", "content": "hello there, gateway"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    model: str
    token: str
    pid: int


@contextlib.contextmanager
def process(args: list[str], ready: str, log: Path, env: dict[str, str]) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            loadgen.wait_until_up(ready, proc)
            yield proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def clearance(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "clearance", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"clearance {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def install_clearance(root: Path, upstream: str, env: dict[str, str]) -> tuple[Path, str, str]:
    """An installation with one model, one organization and a key: (data directory,
    API key, the administrator's operator token)."""
    data = root / "clearance"
    init = json.loads(clearance("init", "--data-dir", str(data), "--output", "json", env=env))
    as_admin = {**env, "CLEARANCE_TOKEN": init["token"]}
    dd = ("--data-dir", str(data))
    model = ["--upstream-url", upstream, "--upstream-model", "echo"]
    clearance("models", "add", "bench", *model, *dd, env=as_admin)
    org = ["--country", "US", "--reason", "benchmark"]
    clearance("orgs", "add", "Bench Lab", *org, *dd, env=as_admin)
    # Limits on, so the limiter does its full work on every request.
    limits = ["--limit", "key.rpm=100000000", "--limit", "organization.daily_tokens=10000000000"]
    grant = ["--org", "Bench Lab", "--model", "bench", *limits]
    clearance("entitlements", "grant", *grant, *dd, env=as_admin)
    created = clearance(
        "keys", "create", "--org", "Bench Lab", "--output", "json", *dd, env=as_admin
    )
    return data, str(json.loads(created)["key"]), str(init["token"])


def measure(
    targets: list[Target], stream: bool, concurrency: int, seconds: float, scripts: Path
) -> dict[str, loadgen.Run]:
    results = {}
    for target in targets:
        body = {"model": target.model, "messages": MESSAGES, "stream": stream}
        script = loadgen.lua_script(scripts, f"{target.name}-{stream}", body, target.token)
        loadgen.wrk(target.url, script, concurrency, min(2.0, seconds), target.pid)  # warm up
        results[target.name] = loadgen.wrk(target.url, script, concurrency, seconds, target.pid)
    return results


def memory(target: Target, requests: int, scripts: Path) -> dict[str, Any]:
    """RSS after the first 10% of ``requests`` (warmed up), and at the end."""
    body = {"model": target.model, "messages": MESSAGES}
    script = loadgen.lua_script(scripts, "memory", body, target.token)
    done, samples = 0, []
    while done < requests:
        run = loadgen.wrk(target.url, script, 32, 5, target.pid)
        done += run.requests
        samples.append((done, loadgen.tree_rss_bytes(target.pid)))
    warm = next(rss for count, rss in samples if count >= requests // 10)
    end = samples[-1][1]
    return {
        "requests": done,
        "samples": [(count, round(rss / 2**20, 1)) for count, rss in samples],
        "rss_warm_mb": warm / 2**20,
        "rss_end_mb": end / 2**20,
        "rss_max_mb": max(rss for _, rss in samples) / 2**20,
        "growth_percent": (end - warm) / warm * 100,
    }


def report(results: dict[tuple[bool, int], dict[str, loadgen.Run]]) -> list[str]:
    lines = [
        f"{'mode':<10} {'conc':>4}  {'target':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'cpu ms/req':>10} {'of which server':>15} {'errors':>6}"
    ]
    for (stream, concurrency), runs in results.items():
        for name, run in runs.items():
            lines.append(
                f"{'stream' if stream else 'whole':<10} {concurrency:>4}  {name:<9} "
                f"{run.rps:>9.0f} {run.p50_ms:>8.2f} {run.p99_ms:>8.2f} "
                f"{run.cpu_per_request_ms:>10.3f} {run.own_cpu_per_request_ms:>15.3f} "
                f"{run.errors:>6}"
            )
    lines.append("")
    for (stream, concurrency), runs in results.items():
        mode = "stream" if stream else "whole"
        ours, direct = runs["clearance"], runs["direct"]
        line = (
            f"{mode:<6} c={concurrency:<3} overhead p50 {ours.p50_ms - direct.p50_ms:+.2f} ms, "
            f"p99 {ours.p99_ms - direct.p99_ms:+.2f} ms; CPU {ours.cpu_per_request_ms:.3f} "
            f"ms/request ({ours.own_cpu_per_request_ms:.3f} the server process, the rest "
            "its monitor process)"
        )
        if "litellm" in runs:
            theirs = runs["litellm"]
            line += (
                f"; {ours.rps / theirs.rps:.1f}x LiteLLM's throughput, "
                f"{theirs.cpu_per_request_ms / ours.cpu_per_request_ms:.0f}x less CPU"
            )
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", default="1,32,128")
    parser.add_argument("--memory-requests", type=int, default=200_000)
    parser.add_argument("--litellm", type=Path, default=LITELLM)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--no-monitor",
        action="store_true",
        help="Serve without the usage monitor (deep stage, detectors), to see its share.",
    )
    args = parser.parse_args()
    loadgen.require_wrk()
    levels = [int(c) for c in args.concurrency.split(",")]
    root = Path(tempfile.mkdtemp(prefix="clearance-bench-gateway-"))
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    stub_port, gateway_port, litellm_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{stub_port}/v1"
    stub_args = [sys.executable, "-m", "clearance.demo.stub_upstream", "--port", str(stub_port)]
    with contextlib.ExitStack() as stack:
        stub = stack.enter_context(process(stub_args, f"{upstream}/models", root / "stub.log", env))
        data, key, _admin = install_clearance(root, upstream, env)
        serve = [sys.executable, "-m", "clearance", "serve", "--data-dir", str(data)]
        serve += ["--port", str(gateway_port)]
        serve_env = {**env, "CLEARANCE_MONITOR_ENABLED": "false"} if args.no_monitor else env
        gateway = stack.enter_context(
            process(
                serve, f"http://127.0.0.1:{gateway_port}/healthz", root / "serve.log", serve_env
            )
        )
        targets = [
            Target("direct", f"{upstream}/chat/completions", "echo", "stub", stub),
            Target(
                "clearance",
                f"http://127.0.0.1:{gateway_port}/v1/chat/completions",
                "bench",
                key,
                gateway,
            ),
        ]
        if args.litellm.exists():
            config = root / "litellm.yaml"
            config.write_text(
                "model_list:\n  - model_name: bench\n    litellm_params:\n"
                f"      model: openai/echo\n      api_base: {upstream}\n      api_key: stub\n"
                f"general_settings:\n  master_key: {MASTER_KEY}\n"
            )
            litellm_args = [str(args.litellm), "--config", str(config), "--host", "127.0.0.1"]
            litellm_args += ["--port", str(litellm_port), "--num_workers", "1"]
            ready = f"http://127.0.0.1:{litellm_port}/health/liveliness"
            theirs = stack.enter_context(process(litellm_args, ready, root / "litellm.log", env))
            targets.append(
                Target(
                    "litellm",
                    f"http://127.0.0.1:{litellm_port}/v1/chat/completions",
                    "bench",
                    MASTER_KEY,
                    theirs,
                )
            )
        else:
            print(f"(no LiteLLM at {args.litellm}: see --help to install it; comparing without)")
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(
            f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{when}; {args.seconds:g} s a run"
        )
        results = {
            (stream, c): measure(targets, stream, c, args.seconds, root)
            for stream in (False, True)
            for c in levels
        }
        lines = report(results)
        print("\n".join(lines))
        mem = memory(targets[1], args.memory_requests, root) if args.memory_requests else {}
        if mem:
            print(
                f"\nmemory: {mem['requests']:,.0f} requests through Clearance; resident "
                f"{mem['rss_warm_mb']:.1f} MB once warm, {mem['rss_end_mb']:.1f} MB at the end "
                f"(max {mem['rss_max_mb']:.1f} MB): {mem['growth_percent']:+.1f}%"
            )
    if args.json:
        document = {
            "runs": [
                {"stream": s, "concurrency": c, "target": name, **asdict(run), "rps": run.rps}
                for (s, c), runs in results.items()
                for name, run in runs.items()
            ],
            "memory": mem,
        }
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
