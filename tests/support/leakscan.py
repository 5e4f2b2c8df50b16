"""The suite-wide secret scan: every API response the tests receive, every log line any
Clearance process writes, and every CLI output are checked for key material and
password hashes.

A secret may appear only in the one response that issues it (a new key, token,
initial password, TOTP secret, session). Anywhere else — another response, a log line,
a CLI listing — is a leak, and fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

CREDENTIAL = re.compile(r"\bclro?_[0-9A-Za-z]{38}\b")
PASSWORD_HASH = re.compile(r"\$argon2(id|i|d)\$")
SECRET_FIELDS = ("key", "token", "initial_password", "totp_secret", "csrf_token", "ticket")
ISSUING = re.compile(
    r"(/keys(/[^/]+/rotate)?|/me/tokens|/operators(/[^/]+/reset)?|/members|"
    r"/auth/login|/auth/enrol)$"
)
GROUPS = {
    "models",
    "orgs",
    "keys",
    "members",
    "service-accounts",
    "end-users",
    "entitlements",
    "operators",
    "cases",
    "audit",
    "db",
}
ISSUING_COMMANDS = {
    "init",
    "demo",
    "keys create",
    "keys rotate",
    "operators create",
    "operators reset",
    "operators tokens create",
    "members add",
}


@dataclass
class LeakScanner:
    responses: list[tuple[str, str, httpx.Response]] = field(default_factory=list)
    cli_outputs: list[tuple[str, str]] = field(default_factory=list)

    def record_response(self, request: httpx.Request, response: httpx.Response) -> None:
        self.responses.append((request.method, str(request.url), response))

    def record_cli(self, args: Iterable[str], output: str) -> None:
        words = list(args)
        depth = 1 + (words[0] in GROUPS) + (words[:2] == ["operators", "tokens"])
        self.cli_outputs.append((" ".join(words[:depth]), output))

    @staticmethod
    def _text(response: httpx.Response) -> str | None:
        try:
            body = response.content.decode("utf-8", errors="replace")
        except httpx.ResponseNotRead:
            return None
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items() if k != "set-cookie")
        return headers + "\n" + body

    def _issued(self) -> set[str]:
        secrets: set[str] = set()
        for method, url, response in self.responses:
            text = self._text(response)
            if text is None:
                continue
            secrets |= set(CREDENTIAL.findall(text)) - {""}
            secrets |= {m.group(0) for m in CREDENTIAL.finditer(text)}
            if method == "POST" and ISSUING.search(httpx.URL(url).path):
                secrets |= _secret_values(response)
                cookie = response.headers.get("set-cookie", "")
                if "=" in cookie:
                    secrets.add(cookie.split("=", 1)[1].split(";", 1)[0])
        for _command, output in self.cli_outputs:
            secrets |= {m.group(0) for m in CREDENTIAL.finditer(output)}
        return {s for s in secrets if len(s) >= 12}

    def findings(self, log_files: Iterable[Path]) -> list[str]:
        secrets = self._issued()
        problems: list[str] = []

        def check(where: str, text: str, may_issue: bool) -> None:
            if PASSWORD_HASH.search(text):
                problems.append(f"{where}: contains a password hash")
            if may_issue:
                return
            for secret in secrets:
                if secret in text:
                    problems.append(f"{where}: contains a secret ({secret[:8]}…)")

        for method, url, response in self.responses:
            text = self._text(response)
            if text is None:
                continue
            path = httpx.URL(url).path
            check(f"{method} {path}", text, method == "POST" and bool(ISSUING.search(path)))
        for command, output in self.cli_outputs:
            check(f"clearance {command}", output, command in ISSUING_COMMANDS)
        for log in log_files:
            for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
                check(f"{log.name}:{number}", line, False)
        return problems


def _secret_values(response: httpx.Response) -> set[str]:
    try:
        document: Any = orjson.loads(response.content)
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return set()
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name in SECRET_FIELDS and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return found


SCANNER = LeakScanner()
"""The one scanner of a test run (filled by the httpx hooks and the CLI helper)."""
