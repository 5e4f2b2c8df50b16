"""Switching the country table with `clearance apply` changes decisions on a running
server within one second."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.installation import serving

STRICT = """
default_country_table: strict
country_tables:
  - name: strict
    source: "a stricter table"
    default_tier: 2
    tiers: {3: [IN]}
"""


def test_a_new_default_table_applies_within_a_second(tmp_path: Path, upstream_url: str) -> None:
    def setup(cli: Callable[..., str]) -> str:
        cli(
            "models",
            "add",
            "controlled",
            "--upstream-url",
            upstream_url,
            "--upstream-model",
            "echo",
            "--export-control",
            "4E091",
        )
        cli("orgs", "add", "Bangalore Labs", "--country", "IN", "--reason", "test")
        cli("entitlements", "grant", "--org", "Bangalore Labs", "--model", "controlled")
        return str(
            json.loads(cli("keys", "create", "--org", "Bangalore Labs", "-o", "json"))["key"]
        )

    def ask(base: str, key: str) -> httpx.Response:
        return httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "controlled", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {key}"},
        )

    with serving(tmp_path, setup) as live:
        assert ask(live.base_url, live.api_key).status_code == 200  # India is tier 2 in the preset
        program = tmp_path / "program.yaml"
        program.write_text(STRICT)
        dry = live.cli("apply", "-f", str(program), "--dry-run")
        assert "Would change (2)" in dry
        assert ask(live.base_url, live.api_key).status_code == 200
        live.cli("apply", "-f", str(program))
        applied = time.monotonic()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - applied)))
        refused = ask(live.base_url, live.api_key)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "jurisdiction_blocked"
        assert "No changes" in live.cli("apply", "-f", str(program))
