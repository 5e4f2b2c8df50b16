"""No unlogged use through a PostgreSQL outage: a request refused while the database
is unreachable still leaves its usage record — kept in the server's local journal,
loaded into the database once it is back (or at the next start, if the server was
stopped meanwhile), exactly once, and sealed into the audit log like every record.

The server runs as its own process on PostgreSQL through a TCP proxy the test cuts
and restores (``tests.support.tcpproxy``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.support.installation import Cli, Installed, Live, install, serve
from tests.support.services import drop_schema, fresh_schema_name, require_postgres
from tests.support.tcpproxy import TcpProxy

PROMPT = {"messages": [{"role": "user", "content": "Summarise the quarterly report."}]}


@dataclass(frozen=True)
class Database:
    url: str
    """PostgreSQL itself, for the test's own checks."""
    schema: str
    proxy: TcpProxy
    env: dict[str, str]
    """What puts the installation on PostgreSQL through the proxy."""


@pytest.fixture
def database() -> Iterator[Database]:
    url, schema = require_postgres(), fresh_schema_name()
    parts = urlsplit(url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        proxied = url.replace(
            parts.netloc, f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"
        )
        env = {"CLEARANCE_DATABASE_URL": proxied, "CLEARANCE_DATABASE_SCHEMA": schema}
        yield Database(url, schema, proxy, env)
    asyncio.run(drop_schema(url, schema))


@dataclass(frozen=True)
class Keys:
    good: str
    limited: str
    """Entitled with ``key.rpm=1``: its second request in a minute is over the limit."""
    revoked: str


def install_with_keys(root: Path, upstream_url: str, env: dict[str, str]) -> tuple[Installed, Keys]:
    keys: dict[str, str] = {}

    def setup(cli: Cli) -> str:
        cli("models", "add", "m", "--upstream-url", upstream_url, "--upstream-model", "echo")
        cli("orgs", "add", "Acme", "--country", "US", "--reason", "test partner")
        cli("entitlements", "grant", "--org", "Acme", "--model", "m", "--limit", "key.rpm=1")
        for name in ("good", "limited", "revoked"):
            made = json.loads(cli("keys", "create", "--org", "Acme", "--output", "json"))
            keys[name] = str(made["key"])
            if name == "revoked":
                cli("keys", "revoke", str(made["id"]), "--reason", "leaked")
        return keys["good"]

    installed = install(root, setup, env)
    return installed, Keys(**keys)


def ask(live: Live, key: str, model: str = "m") -> httpx.Response:
    return httpx.post(
        f"{live.v1}/chat/completions",
        json={"model": model, **PROMPT},
        headers={"authorization": f"Bearer {key}", "connection": "close"},
        timeout=30,
    )


def refuse_during_outage(live: Live, keys: Keys) -> dict[str, tuple[int, str]]:
    """Refused requests of several kinds, sent while the database is cut (several at
    a time, each on a connection of its own, so every worker gets some); returns each
    request id with its status and code."""
    asked = [(keys.revoked, "m"), (keys.good, "no-such-model"), (keys.limited, "m")] * 6
    asked.append((keys.good, "m"))  # allowed, but its use cannot be recorded: 503
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda asking: ask(live, *asking), asked))
    sent: dict[str, tuple[int, str]] = {}
    for response in answers:
        code = response.json()["error"]["code"]
        assert response.status_code in (401, 404, 429, 503), response.text
        # From 5 s stale the gateway refuses everything with state_unavailable before
        # it looks at the key (the requests go out right after the cut).
        assert code != "state_unavailable", "sent too late after the cut"
        sent[response.headers["x-request-id"]] = (response.status_code, code)
    assert sorted({code for _, code in sent.values()}) == [
        "key_revoked",
        "model_not_found",
        "rate_limited",
        "usage_unrecorded",
    ]
    return sent


async def stored(db: Database, request_ids: list[str]) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'SET search_path TO "{db.schema}"')
        return list(
            await conn.fetch(
                "SELECT request_id, status_code, error_code, audit_seq FROM usage_records"
                " WHERE request_id = ANY($1::text[])",
                request_ids,
            )
        )
    finally:
        await conn.close()


def wait_for_records(
    db: Database, sent: dict[str, tuple[int, str]], timeout: float
) -> list[asyncpg.Record]:
    """Once every request in ``sent`` has its record, sealed: the records."""
    deadline = time.monotonic() + timeout
    while True:
        rows = asyncio.run(stored(db, list(sent)))
        if len(rows) >= len(sent) and all(row["audit_seq"] is not None for row in rows):
            return rows
        if time.monotonic() > deadline:
            missing = sorted(set(sent) - {row["request_id"] for row in rows})
            raise AssertionError(f"{len(missing)} of {len(sent)} refusals unrecorded: {missing}")
        time.sleep(0.1)


def check_records(rows: list[asyncpg.Record], sent: dict[str, tuple[int, str]]) -> None:
    ids = [row["request_id"] for row in rows]
    assert sorted(ids) == sorted(sent)  # each once
    for row in rows:
        assert (row["status_code"], row["error_code"]) == sent[row["request_id"]]


def prime(live: Live, keys: Keys) -> None:
    """Before the cut: the limited key's one request this minute, and the revoked key
    refused (so the state is settled)."""
    response = ask(live, keys.limited)
    assert response.status_code == 200, response.text
    response = ask(live, keys.revoked)
    assert response.json()["error"]["code"] == "key_revoked"


@pytest.mark.parametrize("workers", [1, 2])
def test_refusals_during_an_outage_are_recorded_once_the_database_returns(
    tmp_path: Path, upstream_url: str, database: Database, workers: int
) -> None:
    """With two workers, whichever serves a refusal keeps it in its own journal file."""
    installed, keys = install_with_keys(tmp_path, upstream_url, database.env)
    with serve(installed, tmp_path / "serve.log", workers, database.env) as live:
        prime(live, keys)
        database.proxy.cut()
        sent = refuse_during_outage(live, keys)
        database.proxy.restore()
        rows = wait_for_records(database, sent, timeout=60)
        check_records(rows, sent)
        left = list((installed.data_dir / "usage-journal").iterdir())
        assert left == [], "the journal is deleted once loaded, and nothing was set aside"
        report = live.cli("audit", "check-usage")
    assert report.startswith("OK:"), report


def test_refusals_journaled_by_a_server_stopped_during_the_outage_load_at_its_next_start(
    tmp_path: Path, upstream_url: str, database: Database
) -> None:
    installed, keys = install_with_keys(tmp_path, upstream_url, database.env)
    with serve(installed, tmp_path / "first.log", env=database.env) as live:
        prime(live, keys)
        database.proxy.cut()
        sent = refuse_during_outage(live, keys)
    journals = list((installed.data_dir / "usage-journal").glob("*.journal"))
    assert journals, "the refusals wait in the journal while the database is away"
    database.proxy.restore()
    assert asyncio.run(stored(database, list(sent))) == []
    with serve(installed, tmp_path / "second.log", env=database.env) as live:
        rows = wait_for_records(database, sent, timeout=10)
        check_records(rows, sent)
        report = live.cli("audit", "check-usage")
    assert report.startswith("OK:"), report
    assert not any(path.exists() for path in journals)
