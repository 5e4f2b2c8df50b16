"""Authorization benchmark: one Cedar decision, uncached and cached, side by side with
a no-op baseline (a call that returns a fixed decision through the same wrapper).

    .venv/bin/python bench/authz.py [--keys 2000] [--samples 20000]

Targets (issue 5): p50 ≤ 100 µs uncached, ≤ 10 µs cached.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from clearance import installation
from clearance.container import build_services
from clearance.db import migrate
from clearance.identity.keys import KeyScope
from clearance.policy.authorizer import Question
from clearance.policy.engine import Decision
from clearance.registry.models import ModelSpec
from clearance.settings import load_settings

ACTOR = "local:bench"


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=20000)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="clearance-bench-")) / "data"
    settings = load_settings(data)
    installation.create(settings, "bench.invalid/audit")
    s = build_services(settings)
    await migrate.upgrade(s.db)
    spec = ModelSpec("http://127.0.0.1:9/v1", export_control="4E091", risk={"cyber": "OpenAI:High"})
    await s.models.add(ACTOR, "cyber-pro", spec)
    orgs = max(1, args.keys // 20)
    for n in range(orgs):
        await s.organizations.add_direct(ACTOR, f"Org {n}", "US", "bench")
        await s.entitlements.grant(ACTOR, f"Org {n}", "cyber-pro", ["cyber"])
    for n in range(args.keys):
        await s.keys.create(ACTOR, f"Org {n % orgs}", KeyScope())
    await s.watcher.check()
    authorizer = s.authorizer
    principals = [p for p in (s.key_index.principal(k.id) for k in await s.keys.list()) if p]
    model = s.catalog.get("cyber-pro")
    assert model is not None
    questions = [
        Question(
            purpose="cyber", categories=frozenset({"cyber"}), source_ip=f"8.8.{i % 250}.{i % 200}"
        )
        for i in range(64)
    ]

    uncached, cached, noop = [], [], []
    fixed = Decision(True, ("entitled-use",), None)
    for i in range(args.samples):
        principal, question = principals[i % len(principals)], questions[i % len(questions)]
        authorizer._cache.clear()
        started = time.perf_counter()
        decision = authorizer.decide(principal, model, question)
        uncached.append(time.perf_counter() - started)
        assert decision.allowed, decision.reason
        started = time.perf_counter()
        authorizer.decide(principal, model, question)
        cached.append(time.perf_counter() - started)
        started = time.perf_counter()
        _ = (principal, model, question) and fixed
        noop.append(time.perf_counter() - started)
    await s.close()

    print(
        f"authorization, {len(principals)} keys in {orgs} organizations, {args.samples} decisions"
    )
    for name, samples in (("uncached", uncached), ("cached", cached), ("no-op baseline", noop)):
        print(
            f"  {name:15} p50 {percentile(samples, 50):8.2f} µs   p99 {percentile(samples, 99):8.2f} µs"
        )
    base = statistics.median(noop)
    print(
        f"  over the baseline: uncached {(statistics.median(uncached) - base) * 1e6:.2f} µs, "
        f"cached {(statistics.median(cached) - base) * 1e6:.2f} µs   targets ≤ 100 µs / ≤ 10 µs"
    )


if __name__ == "__main__":
    asyncio.run(main())
