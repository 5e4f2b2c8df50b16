"""Every state-changing admin API call and CLI command leaves exactly one audit entry
— and a refused one leaves none. New routes and commands must be listed here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import typer.main
from fastapi import FastAPI

from clearance.admin.app import build_admin_app
from clearance.cli.main import app as cli_app
from clearance.container import Services
from clearance.identity.models import OperatorRole
from clearance.server import build_app
from tests.support.processes import clearance

# (method, path template) -> the audit kind a successful call records
AUDITED_ROUTES = {
    ("POST", "/v1/models"): "model.registered",
    ("POST", "/v1/orgs"): "organization.admitted",
    ("POST", "/v1/keys"): "api_key.issued",
}
# CLI commands that change state -> the audit kind they record
AUDITED_COMMANDS = {
    "init": "operator.created",
    "models add": "model.registered",
    "orgs add": "organization.admitted",
    "keys create": "api_key.issued",
}
# Commands that change no audited state (reads, serving, the throwaway demo, schema
# upgrades, and `audit checkpoint`, which signs what the log already holds).
UNAUDITED_COMMANDS = {
    "serve",
    "demo",
    "db upgrade",
    "models list",
    "orgs list",
    "keys list",
    "audit key",
    "audit verify",
    "audit prove",
    "audit show",
    "audit checkpoint",
    "audit check-usage",
}


def _cli_commands() -> set[str]:
    click_app = typer.main.get_command(cli_app)
    names: set[str] = set()
    for name, command in click_app.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names |= {f"{name} {s}" for s in sub} if sub else {name}
    return names


def test_every_cli_command_is_classified() -> None:
    assert _cli_commands() == set(AUDITED_COMMANDS) | UNAUDITED_COMMANDS


async def test_every_state_changing_route_is_listed(sqlite_services: Services) -> None:
    admin: FastAPI = build_admin_app(sqlite_services)
    changing = {
        (method.upper(), path)
        for path, operations in admin.openapi()["paths"].items()
        for method in operations
        if method not in {"get", "head"}
    }
    assert changing == set(AUDITED_ROUTES)


def _entries(data: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data / "clearance.db") as db:
        return list(db.execute("SELECT kind, actor FROM audit_entries ORDER BY seq"))


def test_each_cli_command_leaves_exactly_one_entry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dd = ("--data-dir", str(data))
    steps = [
        ("init", ("init", *dd)),
        ("models add", ("models", "add", "m", "--upstream-url", "http://127.0.0.1:9/v1", *dd)),
        ("orgs add", ("orgs", "add", "Org", "--country", "US", "--reason", "r", *dd)),
        ("keys create", ("keys", "create", "--org", "Org", *dd)),
    ]
    for command, args in steps:
        before = _entries(data) if data.exists() else []
        clearance(*args)
        after = _entries(data)
        assert len(after) == len(before) + 1, command
        kind, actor = after[-1]
        assert kind == AUDITED_COMMANDS[command]
        assert actor.startswith("local:")
    refused = clearance("orgs", "add", "Org", "--country", "US", "--reason", "r", *dd, check=False)
    assert refused.returncode == 1
    assert len(_entries(data)) == len(steps)
    assert (
        json.loads(clearance("audit", "show", "3", *dd).stdout)["event"]["kind"] == "api_key.issued"
    )


@pytest.fixture
async def admin(sqlite_services: Services) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    operator, token = await sqlite_services.operators.create(
        "local:test", "root", OperatorRole.ADMIN
    )
    transport = httpx.ASGITransport(app=build_app(sqlite_services))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver/admin",
        headers={"authorization": f"Bearer {token.secret}"},
    ) as client:
        yield client, operator.id


async def test_each_admin_call_leaves_exactly_one_entry(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, operator_id = admin
    bodies = {
        "/v1/models": {"name": "m", "upstream_url": "http://127.0.0.1:9/v1"},
        "/v1/orgs": {"name": "Org", "country": "US", "reason": "r"},
        "/v1/keys": {"org": "Org"},
    }
    for (method, path), kind in AUDITED_ROUTES.items():
        before = (await client.get("/v1/audit", params={"limit": 1000})).json()
        response = await client.request(method, path, json=bodies[path])
        assert response.status_code == 201, response.text
        after = (await client.get("/v1/audit", params={"limit": 1000})).json()
        assert len(after) == len(before) + 1
        assert after[-1]["kind"] == kind
        assert after[-1]["actor"] == f"operator:{operator_id}"
        again = await client.request(
            method,
            path,
            json=bodies[path] | {"org": "nobody"} if path == "/v1/keys" else bodies[path],
        )
        assert again.status_code >= 400
        assert len((await client.get("/v1/audit", params={"limit": 1000})).json()) == len(after)
