"""The secret scan itself catches leaks (so a quiet scan means something)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.leakscan import LeakScanner

KEY = "clr_" + "A1b2C3d4" * 4 + "Zz9Yy8"


def response(method: str, url: str, body: str) -> tuple[httpx.Request, httpx.Response]:
    request = httpx.Request(method, url)
    return request, httpx.Response(200, text=body, request=request)


def test_a_key_outside_its_issuing_response_is_found(tmp_path: Path) -> None:
    scanner = LeakScanner()
    scanner.record_response(*response("POST", "https://x/admin/v1/keys", f'{{"key": "{KEY}"}}'))
    assert scanner.findings([]) == []
    scanner.record_response(*response("GET", "https://x/admin/v1/keys", f'[{{"note": "{KEY}"}}]'))
    assert scanner.findings([]) == ["GET /admin/v1/keys: contains a secret (clr_A1b2…)"]


def test_logs_and_cli_listings_are_scanned(tmp_path: Path) -> None:
    scanner = LeakScanner()
    scanner.record_cli(["keys", "create", "--org", "O"], KEY)
    scanner.record_cli(["keys", "list"], f"… {KEY} …")
    log = tmp_path / "sample-log.txt"  # not *.log: the real scan must not see it
    log.write_text('{"event": "x"}\n{"hash": "$argon2id$v=19$m=65536"}\n')
    findings = scanner.findings([log])
    assert "clearance keys list: contains a secret (clr_A1b2…)" in findings
    assert "sample-log.txt:2: contains a password hash" in findings
