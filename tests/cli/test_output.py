"""What the CLI prints: tables with every id whole (piped: tab-separated), ``--output
json`` on every list command, shaped as the admin API answers the same question; and
a command loading only what it needs."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from clearance.cli import common
from clearance.cli.main import app
from clearance.container import build_services
from clearance.server import build_app
from clearance.settings import load_settings
from tests.conftest import FAST
from tests.support.processes import FAST_PASSWORDS, PYTHON, clearance

RUNNER = CliRunner()
LONG_NAME = "Acme Research Laboratories International Holdings (Europe) GmbH"

# Every command that lists things -> the admin API route answering the same question
# (None: the API has no such list). A new list command must be added here.
LISTINGS: dict[str, str | None] = {
    "models list": "/models",
    "orgs list": "/orgs",
    "keys list": "/keys",
    "members list --org Org": "/orgs/Org/members",
    "service-accounts list --org Org": "/orgs/Org/service-accounts",
    "end-users list --org Org": "/orgs/Org/end-users",
    "entitlements list": "/entitlements",
    "operators list": "/operators",
    "operators tokens list": "/me/tokens",
    "cases list": "/cases",
    "alerts list": "/monitor/alerts?status=open",
    "enforcement list": "/enforcement",
    "enforcement appeals": None,  # the list and its stats, both below
    "applications list": "/applications",
    "screening lists": None,
    "screening hits": None,
    "screening alerts": "/alerts",
    "usage list": "/usage",
}


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):
            yield from _commands(command, f"{path} ")
        else:
            yield path, command


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An installation with one of most things, made with the CLI in-process."""
    data = tmp_path_factory.mktemp("output") / "data"
    env = {f"CLEARANCE_{k.upper()}": str(v) for k, v in FAST.items()}

    def run(*args: str) -> str:
        result = RUNNER.invoke(app, [*args, "--data-dir", str(data)], env=env)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result.stdout

    env["CLEARANCE_TOKEN"] = json.loads(run("init", "-o", "json"))["token"]
    run("models", "add", "m", "--upstream-url", "http://127.0.0.1:9/v1")
    run("orgs", "add", "Org", "--country", "US", "--reason", "pilot")
    run("orgs", "add", LONG_NAME, "--country", "DE", "--reason", "pilot")
    run("members", "add", "--org", "Org", "--name", "Ada", "--email", "ada@org.example")
    run("service-accounts", "add", "--org", "Org", "pipeline")
    run("entitlements", "grant", "--org", "Org", "--model", "m", "--purposes", "cyber")
    run("keys", "create", "--org", "Org", "--models", "m")
    run("keys", "create", "--org", LONG_NAME)
    run("operators", "tokens", "create", "--label", "automation")
    return data, env["CLEARANCE_TOKEN"]


def test_every_list_command_has_json_output(populated: tuple[Path, str]) -> None:
    data, token = populated
    commands = dict(_commands(typer.main.get_command(app)))
    listing = {path.split(" --")[0] for path in LISTINGS}
    named_list = {path for path in commands if path.endswith(" list")}
    assert named_list <= listing, "a new list command: add it to LISTINGS"
    env = {"CLEARANCE_TOKEN": token}
    for path in LISTINGS:
        name = path.split(" --")[0]
        options = {p.opts[0] for p in commands[name].params if p.opts}
        assert "--output" in options, f"{name} has no --output"
        result = RUNNER.invoke(
            app, [*path.split(), "--data-dir", str(data), "--output", "json"], env=env
        )
        assert result.exit_code == 0, f"{path}: {result.output}"
        assert isinstance(json.loads(result.stdout), list | dict), path


def test_json_is_what_the_admin_api_answers(populated: tuple[Path, str]) -> None:
    data, token = populated

    def cli(path: str) -> Any:
        result = RUNNER.invoke(
            app,
            [*path.split(), "--data-dir", str(data), "-o", "json"],
            env={"CLEARANCE_TOKEN": token},
        )
        assert result.exit_code == 0, f"{path}: {result.output}"
        return json.loads(result.stdout)

    routes = {path: route for path, route in LISTINGS.items() if route is not None}
    routes["enforcement appeals"] = "/enforcement-appeals"
    printed = {path: cli(path) for path in routes}
    answered = asyncio.run(admin_api(data, token, [*routes.values(), "/enforcement-appeals/stats"]))
    for path, route in routes.items():
        if path == "enforcement appeals":
            expected = {"appeals": answered[route], "counts": answered[f"{route}/stats"]}
            assert printed[path] == expected
        else:
            assert printed[path] == answered[route], path


async def admin_api(data: Path, token: str, routes: list[str]) -> dict[str, Any]:
    """What the admin API answers to ``GET`` each of ``routes``, as this operator."""
    services = build_services(load_settings(data, **FAST))
    transport = httpx.ASGITransport(app=build_app(services))
    answers = {}
    try:
        async with httpx.AsyncClient(
            transport=transport,
            base_url="https://clearance.test/admin/v1",
            headers={"authorization": f"Bearer {token}"},
        ) as api:
            for route in routes:
                response = await api.get(route)
                assert response.status_code == 200, f"{route}: {response.text}"
                answers[route] = response.json()
    finally:
        await services.close()
    return answers


def test_piped_tables_print_every_id_whole(populated: tuple[Path, str]) -> None:
    data, token = populated
    dd = ("--data-dir", str(data))
    keys = json.loads(clearance("keys", "list", *dd, "-o", "json", token=token).stdout)
    orgs = json.loads(clearance("orgs", "list", *dd, "-o", "json", token=token).stdout)

    piped = clearance("keys", "list", *dd, token=token).stdout  # stdout is a pipe
    header, *rows = [line.split("\t") for line in piped.splitlines()]
    assert header == ["id", "org", "key starts", "models", "expires", "revoked", "last used"]
    assert sorted((row[0], row[1]) for row in rows) == sorted((k["id"], k["org_id"]) for k in keys)
    piped = clearance("orgs", "list", *dd, token=token).stdout
    header, *rows = [line.split("\t") for line in piped.splitlines()]
    assert header == ["id", "name", "country", "status", "admission"]
    assert sorted(row[:2] for row in rows) == sorted([o["id"], o["name"]] for o in orgs)
    assert [row[1] for row in rows if len(row[1]) > 60] == [LONG_NAME]


def test_a_narrow_terminal_wraps_values_but_never_cuts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(
        common, "console", Console(file=screen, force_terminal=True, width=50, color_system=None)
    )
    ids = ["key_Jd93kfLq0Pz7xWv2", "org_Qm2Lx8RtYb4Nc6Vh"]
    common.print_table(
        ("id", "org", "name", "status"),
        [(ids[0], ids[1], LONG_NAME + " [bracketed, not markup]", "active")],
    )
    shown = screen.getvalue()
    assert "…" not in shown
    for value in (*ids, "active"):
        assert value in shown  # one-word columns stay whole, on one line
    assert "[bracketed," in shown  # not markup
    assert max(len(line) for line in shown.splitlines()) > 50  # for the terminal to wrap


def test_a_command_loads_only_what_it_needs(populated: tuple[Path, str]) -> None:
    """``orgs list`` (and its help) load neither the web server nor NumPy, the
    screening lists' name matching, the SMTP client or the other commands."""
    data, token = populated
    script = f"""
import json, sys
from typer.testing import CliRunner
from clearance.cli.main import app
runner = CliRunner()
loaded = []
for args in (["orgs", "list", "--help"], ["orgs", "list", "--data-dir", {str(data)!r}]):
    result = runner.invoke(app, args, env={{"CLEARANCE_TOKEN": {token!r}}})
    assert result.exit_code == 0, result.output
    loaded.append(sorted(sys.modules))
print(json.dumps(loaded))
"""
    run = subprocess.run(
        [PYTHON, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **FAST_PASSWORDS},
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    help_modules, command_modules = (set(m) for m in json.loads(run.stdout))
    heavy = {
        "fastapi",
        "uvicorn",
        "numpy",
        "rigour",
        "smtplib",
        "clearance.server",
        "clearance.cli.setup",
        "clearance.cli.vetting",
        "clearance.screening.matcher",
        "clearance.monitoring.monitor",
        "clearance.content.classifier",
        "alembic",  # the schema is up to date: only checked, never upgraded
    }
    assert heavy & command_modules == set()
    assert (heavy | {"clearance.container", "clearance.db.migrate"}) & help_modules == set()
