"""A key revoked while requests are in flight is refused on the next request in every
worker of ``clearance serve --workers 2`` within one second."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.installation import serving

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def fresh_request(base: str, key: str, model: str = "fast") -> httpx.Response:
    # A new connection each time, so the kernel spreads requests across both workers.
    with httpx.Client(timeout=10) as client:
        return client.post(
            f"{base}/v1/chat/completions",
            json={"model": model, **CHAT},
            headers={"authorization": f"Bearer {key}", "connection": "close"},
        )


def test_revocation_reaches_every_worker_within_a_second(tmp_path: Path, upstream_url: str) -> None:
    def setup(cli: Callable[..., str]) -> str:
        cli("models", "add", "fast", "--upstream-url", upstream_url, "--upstream-model", "echo")
        cli(
            "models",
            "add",
            "slow",
            "--upstream-url",
            upstream_url,
            "--upstream-model",
            "echo+delay-1500",
        )
        cli("orgs", "add", "Org", "--country", "US", "--reason", "test")
        for model in ("fast", "slow"):
            cli("entitlements", "grant", "--org", "Org", "--model", model)
        return str(json.loads(cli("keys", "create", "--org", "Org", "-o", "json"))["key"])

    with serving(tmp_path, setup, workers=2) as live:
        for _ in range(10):
            assert fresh_request(live.base_url, live.api_key).status_code == 200
        in_flight: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: in_flight.append(fresh_request(live.base_url, live.api_key, "slow"))
        )
        slow.start()
        time.sleep(0.3)
        key_id = json.loads(live.cli("keys", "list", "-o", "json"))[0]["id"]
        live.cli("keys", "revoke", key_id, "--reason", "leaked")
        revoked_at = time.monotonic()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - revoked_at)))
        after = [fresh_request(live.base_url, live.api_key) for _ in range(20)]
        assert {(r.status_code, r.json()["error"]["code"]) for r in after} == {(401, "key_revoked")}
        refusals = [
            json.loads(line)
            for line in live.log.read_text().splitlines()
            if line.startswith("{") and '"key_revoked"' in line
        ]
        assert len({entry["pid"] for entry in refusals}) == 2  # both workers refused it
        slow.join()
        assert in_flight[0].status_code == 200  # what was already running finished
