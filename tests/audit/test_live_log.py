"""A running server's log, checked from the outside: by an independent implementation
of the specs, and by ``clearance audit verify`` as an auditor types it."""

from __future__ import annotations

import json
import shlex
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai

from tests.audit_independent import spec_verifier
from tests.support.installation import Live, install, serve, serving
from tests.support.processes import clearance


def wait_for_checkpoint(live: Live, timeout: float = 15) -> int:
    """Wait until the published checkpoint covers every entry; return its size."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = httpx.get(
            f"{live.base_url}/admin/v1/audit?limit=1000", headers=live.admin_headers()
        ).json()
        note = httpx.get(f"{live.base_url}/log/checkpoint")
        if note.status_code == 200 and int(note.text.splitlines()[1]) == len(entries):
            return len(entries)
        time.sleep(0.1)
    raise AssertionError("the checkpoint never caught up with the log")


def http_fetch(live: Live) -> spec_verifier.Fetch:
    def fetch(path: str) -> bytes:
        response = httpx.get(f"{live.base_url}/log/{path}")
        response.raise_for_status()
        return response.content

    return fetch


def wait_for_seal(live: Live, after: int, timeout: float = 15) -> None:
    """Wait until usage recorded after entry ``after`` is sealed into the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sealed = httpx.get(
            f"{live.base_url}/admin/v1/audit?after={after}&kind=usage.batch",
            headers=live.admin_headers(),
        ).json()
        if sealed:
            return
        time.sleep(0.05)
    raise AssertionError("the usage was never sealed")


def test_independent_verifier_accepts_the_running_servers_log(live: Live) -> None:
    before = wait_for_checkpoint(live)
    with openai.OpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0) as client:
        client.chat.completions.create(
            model="stub-chat", messages=[{"role": "user", "content": "hi"}]
        )
    wait_for_seal(live, before - 1)
    size = wait_for_checkpoint(live)
    vkey = live.cli("audit", "key").strip()
    log = spec_verifier.verify_log(http_fetch(live), vkey)
    assert log.size == size
    kinds = [json.loads(entry)["kind"] for entry in log.entries]
    assert kinds[0] == "operator.created"
    assert {"model.registered", "organization.admitted", "api_key.issued", "usage.batch"} <= set(
        kinds
    )


def test_audit_prove_and_show(live: Live) -> None:
    wait_for_checkpoint(live)
    vkey = live.cli("audit", "key").strip()
    proof = json.loads(live.cli("audit", "prove", "1", "--output", "json"))
    checkpoint = spec_verifier.verify_checkpoint(proof["checkpoint"].encode(), vkey)
    assert checkpoint.size == proof["tree_size"]
    shown = json.loads(live.cli("audit", "show", "1"))
    assert shown["leaf_hash"] == proof["leaf_hash"]
    assert shown["event"]["kind"] == "model.registered"
    missing = clearance(
        "audit",
        "show",
        "999999",
        "--data-dir",
        str(live.data_dir),
        check=False,
        token=live.admin_token,
    )
    assert missing.returncode == 1
    assert "no audit entry 999999" in missing.stderr


def test_audit_verify_command_passes_then_catches_tampering(tmp_path: Path) -> None:
    def setup(cli: Callable[..., str]) -> str:
        cli("orgs", "add", "Acme", "--country", "US", "--reason", "r")
        return ""

    with serving(tmp_path, setup) as live:
        wait_for_checkpoint(live)
        vkey = live.cli("audit", "key").strip()
        state = tmp_path / "auditor-state.json"
        verify = (
            "audit",
            "verify",
            "--url",
            f"{live.base_url}/log",
            "--vkey",
            vkey,
            "--state",
            str(state),
        )
        ok = clearance(*verify)  # an auditor needs no token: only the URL and the key
        assert ok.stdout.startswith("OK:")
        assert json.loads(state.read_text())["size"] > 0
        again = clearance(*verify)
        assert "consistent with the" in again.stdout

        with sqlite3.connect(live.data_dir / "clearance.db") as db:
            db.execute(
                'UPDATE audit_entries SET body = CAST(replace(body, \'"country":"US"\', '
                "'\"country\":\"CH\"') AS BLOB) WHERE kind = 'organization.admitted'"
            )
        failed = clearance(*verify, check=False)
        assert failed.returncode == 1
        assert "verification FAILED" in failed.stderr
        assert "was altered" in failed.stderr


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, even while a server writes to it."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_audit_verify_pins_the_first_checkpoint_and_catches_a_rollback(tmp_path: Path) -> None:
    """A database restored to an earlier copy, served and signed again, verifies on its
    own; only an auditor who kept state sees it was rolled back — and one who kept none
    is told so."""

    def setup(cli: Callable[..., str]) -> str:
        cli("orgs", "add", "Acme", "--country", "US", "--reason", "r")
        return ""

    installed = install(tmp_path, setup)
    database = installed.data_dir / "clearance.db"
    state = tmp_path / "auditor-state.json"
    with serve(installed, tmp_path / "first.log") as live:
        url = f"{live.base_url}/log"
        vkey = live.cli("audit", "key").strip()
        verify = ("audit", "verify", "--url", url, "--vkey", vkey)
        first_size = wait_for_checkpoint(live)
        sqlite_copy(database, tmp_path / "earlier.db")

        first = clearance(*verify, "--state", str(state))
        assert first.stdout.startswith("OK:")
        assert f"first run: pinned this checkpoint (size {first_size}, root" in first.stdout
        assert f"in {state}, created now" in first.stdout
        assert json.loads(state.read_text())["size"] == first_size

        live.cli("orgs", "add", "Beta", "--country", "US", "--reason", "r")
        grown = wait_for_checkpoint(live)
        assert grown > first_size
        again = clearance(*verify, "--state", str(state))
        assert f"consistent with the {first_size} entries verified before" in again.stdout
        assert json.loads(state.read_text())["size"] == grown

    sqlite_copy(tmp_path / "earlier.db", database)  # the rollback, with the server down
    with serve(installed, tmp_path / "second.log") as live:
        url = f"{live.base_url}/log"
        verify = ("audit", "verify", "--url", url, "--vkey", vkey)
        rolled = wait_for_checkpoint(live)
        assert rolled < grown

        caught = clearance(*verify, "--state", str(state), check=False)
        assert caught.returncode == 1
        assert caught.stderr.startswith("error: verification FAILED: rollback: the log now has")
        assert f"fewer than the {grown} verified before" in caught.stderr
        assert json.loads(state.read_text())["size"] == grown  # the evidence is kept

        unpinned = clearance(*verify)  # no state: the rolled-back log verifies…
        assert unpinned.returncode == 0
        assert unpinned.stdout.startswith("OK:")
        root = unpinned.stdout.split("root ", 1)[1].split()[0]
        assert f"verified checkpoint: size {rolled}, root {root}" in unpinned.stdout
        assert f"--vkey {shlex.quote(vkey)} --state auditor-state.json" in unpinned.stdout
        # …but the auditor is told, loudly, what went unchecked.
        assert unpinned.stderr.startswith("WARNING: no --state kept")
        assert "rolled back" in unpinned.stderr
        assert "forked" in unpinned.stderr
