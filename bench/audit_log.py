"""Audit-log benchmark: append rate, inclusion-proof time, full verification time.

    .venv/bin/python bench/audit_log.py [--entries 1000000] [--batch 100]

Measured side by side in one run, each against a baseline on the same machine:

* append: entries sequenced *and* integrated into the Merkle tree per second (SQLite,
  ``--batch`` entries a transaction, as bulk writers such as usage digests and list
  imports append) vs. plain inserts of the same bytes into a bare table;
* inclusion proof: one proof in the ``--entries`` log (one indexed lookup + RFC 9162
  verification) vs. a no-op read through the same database path;
* verification: ``clearance audit verify``'s code over HTTP against ``clearance serve``
  vs. merely downloading the same tiles.

Targets (issue 3): ≥ 10,000 entries/s, ≤ 1 ms per proof, ≤ 30 s to verify 1,000,000.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from clearance import installation
from clearance.audit.events import ModelRegistered
from clearance.audit.tlog import merkle, tiles
from clearance.audit.verify import verify_url
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def events(count: int, start: int) -> list[ModelRegistered]:
    return [
        ModelRegistered(
            actor="local:bench",
            model_id=f"mdl_{start + i:012d}",
            name=f"model-{start + i}",
            spec={"upstream_url": "http://127.0.0.1:9/v1", "upstream_model": "bench"},
        )
        for i in range(count)
    ]


async def bench_append(services: Services, entries: int, batch: int) -> tuple[float, float]:
    """(log entries/s, bare-insert rows/s)."""
    db = services.db
    scratch = sa.Table("bench_scratch", sa.MetaData(), sa.Column("body", sa.LargeBinary))
    await db.run_sync(scratch.create)
    sample = [e.encode(services.clock.now()) for e in events(batch, 0)]
    rounds = max(1, min(entries, 200_000) // batch)
    started = time.perf_counter()
    for _ in range(rounds):
        await db.run_sync(
            lambda conn: conn.execute(scratch.insert(), [{"body": b} for b in sample])
        )
    bare = rounds * batch / (time.perf_counter() - started)

    started = time.perf_counter()
    written = 0
    while written < entries:
        chunk = events(min(batch, entries - written), written)
        await db.run_sync(lambda conn, chunk=chunk: services.audit.append_sync(conn, chunk))
        written += len(chunk)
        if written % 20_000 < batch:
            await services.tree.integrate()
    while (await services.tree.integrate()).size < entries:
        pass
    logged = entries / (time.perf_counter() - started)
    return logged, bare


async def bench_proofs(
    services: Services, size: int, samples: int
) -> tuple[list[float], list[float]]:
    checkpoint = await services.checkpoints.latest()
    assert checkpoint is not None
    rng = random.Random(7)
    proof_times, noop_times = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        entry = await services.audit.entry(index)
        assert entry is not None
        started = time.perf_counter()
        proof = await services.tree.inclusion_proof(index, checkpoint.size)
        merkle.verify_inclusion(
            merkle.leaf_hash(entry.body), index, checkpoint.size, proof, checkpoint.root
        )
        proof_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        await services.db.read_sync(lambda conn: conn.scalar(sa.text("SELECT 1")))
        noop_times.append(time.perf_counter() - started)
    return proof_times, noop_times


async def bench_verify(data_dir: Path, vkey: str, size: int) -> tuple[float, float]:
    with socket_port() as port:
        pass  # the port is free again for the server to take
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clearance",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        started = time.perf_counter()
        result = await verify_url(f"{base}/log", vkey)
        verified = time.perf_counter() - started
        assert result.checkpoint.size == size
        started = time.perf_counter()
        await download_only(f"{base}/log", size)
        downloaded = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    return verified, downloaded


async def download_only(base: str, size: int) -> None:
    paths = []
    level, count = 0, size
    while count:
        full, rest = divmod(count, 256)
        layout = [(i, 256) for i in range(full)] + ([(full, rest)] if rest else [])
        paths += [tiles.tile_path(level, i, w) for i, w in layout]
        if level == 0:
            paths += [tiles.tile_path(tiles.ENTRIES, i, w) for i, w in layout]
        level, count = level + 1, count >> 8
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(path: str) -> None:
            async with limit:
                (await client.get(f"{base}/{path}")).raise_for_status()

        await asyncio.gather(*(one(p) for p in paths))


class socket_port:
    def __enter__(self) -> int:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--proofs", type=int, default=2000)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="clearance-bench-")) / "data"
    settings = load_settings(data_dir)
    installation.create(settings, "bench.clearance.invalid/audit")
    services = build_services(settings)
    await migrate.upgrade(services.db)
    print(f"audit-log benchmark: {args.entries:,} entries, SQLite in {data_dir}")

    logged, bare = await bench_append(services, args.entries, args.batch)
    print(f"append ({args.batch}/transaction, sequenced + integrated): {logged:,.0f} entries/s")
    print(f"  baseline bare inserts of the same bytes:        {bare:,.0f} rows/s")
    print(f"  ratio log/bare: {logged / bare:.2f}   target ≥ 10,000 entries/s")

    await services.checkpoints.update(force=True)
    proofs, noops = await bench_proofs(services, args.entries, args.proofs)
    p50, p99 = statistics.median(proofs), statistics.quantiles(proofs, n=100)[98]
    print(f"inclusion proof in a {args.entries:,}-entry log: p50 {ms(p50)}, p99 {ms(p99)}")
    print(f"  baseline no-op database read: p50 {ms(statistics.median(noops))}")
    print(f"  ratio proof/no-op: {p50 / statistics.median(noops):.2f}   target ≤ 1 ms")
    vkey = installation.read_log_signer(settings).verifier().to_vkey()
    await services.close()

    verified, downloaded = await bench_verify(data_dir, vkey, args.entries)
    print(f"full verification over HTTP: {verified:.1f} s")
    print(f"  baseline download of the same tiles: {downloaded:.1f} s")
    print(f"  ratio verify/download: {verified / downloaded:.2f}   target ≤ 30 s for 1,000,000")


if __name__ == "__main__":
    asyncio.run(main())
