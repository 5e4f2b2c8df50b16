"""Every state-changing admin API call and CLI command leaves exactly one audit entry —
and a refused one leaves none. New routes and commands must be listed here."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import typer.main
import yaml
from typer.testing import CliRunner

from clearance.accounts.models import Caller
from clearance.cli.main import app as cli_app
from clearance.container import build_services
from clearance.monitoring.detectors.base import Finding, Severity
from clearance.settings import load_settings
from tests.conftest import FAST
from tests.vetting.test_vetting_flow import form

FIXTURES = Path(__file__).parents[1] / "screening" / "fixtures"

# CLI commands that change state -> the audit kind they record
AUDITED_COMMANDS = {
    "init": "operator.created",
    "models add": "model.registered",
    "orgs add": "organization.admitted",
    "orgs suspend": "organization.status_changed",
    "orgs reinstate": "organization.status_changed",
    "orgs revoke": "organization.status_changed",
    "members add": "member.added",
    "members verify": "member.changed",
    "members suspend": "member.changed",
    "members reinstate": "member.changed",
    "members remove": "member.changed",
    "service-accounts add": "service_account.added",
    "end-users suspend": "end_user.status_changed",
    "end-users reinstate": "end_user.status_changed",
    "entitlements grant": "entitlement.granted",
    "entitlements revoke": "entitlement.revoked",
    "keys create": "api_key.issued",
    "keys rotate": "api_key.rotated",
    "keys revoke": "api_key.revoked",
    "operators create": "operator.created",
    "operators disable": "operator.status_changed",
    "operators enable": "operator.status_changed",
    "operators reset": "operator.credentials_reset",
    "operators tokens create": "operator.token_issued",
    "operators tokens revoke": "operator.token_revoked",
    "cases open": "case.opened",
    "cases close": "case.closed",
    "cases view-content": "content.viewed",
    "alerts dismiss": "monitor.alert_reviewed",
    "alerts to-case": "monitor.alert_reviewed",
    "orgs webhook": "org.webhook_set",
    "enforcement appeal": "appeal.filed",
    "enforcement decide": "appeal.decided",  # denied; upheld first reverses the action
    "policy apply": "policy.changed",
    "apply": "country_table.changed",  # one entry per change; the walk applies one
    "applications submit": "application.submitted",
    "applications domain-challenge": "application.step",
    "applications verify-domain": "application.step",
    "applications email-link": "application.step",
    "applications approve": "application.step",
    "applications reject": "application.step",
    "applications revet": "application.step",
    "applications appeal": "application.step",
    "screening adjudicate": "screening.hit_adjudicated",
    "terms publish": "terms.published",
}
# Commands that make several changes at once, each its own entry -> the first one's kind
COMPOUND_COMMANDS = {
    "screening import": "screening.list_imported",  # then a hit and an alert per new hit
    "applications screen": "application.step",  # screen, hits raised, screened
    "applications provision": "organization.admitted",  # the officer, the step
    "applications activate": "entitlement.granted",  # one per model, the step
    "applications suspend": "application.step",  # then the organization's status
    "applications reinstate": "application.step",
    "applications revoke": "application.step",
    "applications decide-appeal": "application.step",
    "applications revetting": "application.step",  # none when nothing is due
    "enforcement take": "enforcement.taken",  # then the notifications sent
    "enforcement reverse": "enforcement.reversed",  # the reinstatement first, if any
    # Signs in (after enrolling TOTP the first time), issues the CLI's token, ends the
    # session; logout revokes the token (both run in tests/cli/test_login.py).
    "login": "account.signed_in",
    "logout": "operator.token_revoked",
}
# Commands that change no audited state: reads, serving, the throwaway demo, schema
# upgrades, and `audit checkpoint`, which signs what the log already holds.
UNAUDITED_COMMANDS = {
    "serve",
    "demo",
    "db upgrade",
    "monitor classify",
    "monitor status",
    "monitor topics",
    "monitor purge",  # deletes content past its retention, as the server does hourly
    "alerts list",
    "alerts show",
    "enforcement list",
    "enforcement appeals",
    "models list",
    "orgs list",
    "members list",
    "service-accounts list",
    "end-users list",
    "entitlements list",
    "keys list",
    "operators list",
    "operators tokens list",
    "cases list",
    "audit key",
    "audit verify",
    "audit prove",
    "audit show",
    "audit checkpoint",
    "audit check-usage",
    "policy validate",
    "policy defaults",
    "policy export",
    "policy test",
    "policy explain",
    "export",
    "applications list",
    "applications show",
    "screening check",
    "screening lists",
    "screening hits",
    "screening alerts",
    "usage list",
    "usage show",
}


def _commands(group: Any, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        names |= _commands(command, f"{full} ") if hasattr(command, "commands") else {full}
    return names


def test_every_cli_command_is_classified() -> None:
    classified = set(AUDITED_COMMANDS) | set(COMPOUND_COMMANDS) | UNAUDITED_COMMANDS
    assert _commands(typer.main.get_command(cli_app)) == classified


class Cli:
    """The CLI run in-process, as a script would type it, watching the audit table."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.runner = CliRunner()
        self.token = ""

    def entries(self) -> list[tuple[str, str]]:
        if not (self.data / "clearance.db").exists():
            return []
        with sqlite3.connect(self.data / "clearance.db") as db:
            return list(db.execute("SELECT kind, actor FROM audit_entries ORDER BY seq"))

    def run(self, command: str, *args: str, token: str | None = None, ok: bool = True) -> str:
        env = {"CLEARANCE_TOKEN": token or self.token} | {
            f"CLEARANCE_{k.upper()}": str(v) for k, v in FAST.items()
        }
        before = len(self.entries())
        result = self.runner.invoke(
            cli_app, [*command.split(), *args, "--data-dir", str(self.data)], env=env
        )
        after = self.entries()
        if not ok:
            assert result.exit_code != 0, result.output
            assert len(after) == before, f"refused {command} wrote to the audit log"
            return result.output
        assert result.exit_code == 0, f"{command}: {result.output}"
        if command in AUDITED_COMMANDS:
            assert len(after) == before + 1, f"{command} wrote {after[before:]}"
            assert after[-1][0] == AUDITED_COMMANDS[command], command
        elif command in COMPOUND_COMMANDS:
            assert len(after) > before, f"{command} wrote nothing"
            assert after[before][0] == COMPOUND_COMMANDS[command], after[before:]
        else:
            assert len(after) == before, f"{command} should not write audit entries"
        return result.output


def _token_for(data: Path, operator_name: str) -> str:
    """A token for another operator, as they would make one after signing in."""

    async def issue() -> str:
        services = build_services(load_settings(data, **FAST))
        try:
            operator = await services.operators.get(operator_name)
            caller = Caller(operator=operator, role=operator.role, via="test")
            _, issued = await services.operators.issue_token(caller)
            return issued.secret
        finally:
            await services.close()

    return asyncio.run(issue())


def _alerts_for(data: Path, count: int) -> list[str]:
    """Alerts as the monitor raises them from what it detects."""

    async def raise_them() -> list[str]:
        services = build_services(load_settings(data, **FAST))
        try:
            org = (await services.organizations.get("Org")).id
            findings = [
                Finding("volume", Severity.MEDIUM, org, "volume anomaly", key_id=f"key_{n}")
                for n in range(count)
            ]
            return await services.alerts.raise_all(findings)
        finally:
            await services.close()

    return asyncio.run(raise_them())


def test_each_cli_command_leaves_exactly_one_entry(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    init = json.loads(cli.run("init", "--output", "json"))
    cli.token = init["token"]
    assert cli.entries()[0][1].startswith("local:")
    cli.run("models add", "m", "--upstream-url", "http://127.0.0.1:9/v1")
    cli.run("orgs add", "Org", "--country", "US", "--reason", "pilot")
    cli.run("orgs add", "Org", "--country", "US", "--reason", "again", ok=False)
    member = json.loads(
        cli.run(
            "members add",
            "--org",
            "Org",
            "--name",
            "Ada",
            "--email",
            "ada@org.example",
            "--role",
            "officer",
            "--output",
            "json",
        )
    )["id"]
    cli.run("members verify", member, "--level", "email_verified", ok=False)  # not an admin's
    cli.run("operators create", "rita", "--role", "reviewer")
    cli.run(
        "members verify", member, "--level", "email_verified", token=_token_for(cli.data, "rita")
    )
    cli.run("service-accounts add", "--org", "Org", "pipeline")
    cli.run("entitlements grant", "--org", "Org", "--model", "m", "--purposes", "cyber")
    entitlement = json.loads(
        cli.run("entitlements grant", "--org", "Org", "--model", "m", "-o", "json")
    )[0]["id"]
    key = json.loads(cli.run("keys create", "--org", "Org", "--models", "m", "--output", "json"))[
        "id"
    ]
    new_key = json.loads(cli.run("keys rotate", key, "--grace", "60", "--output", "json"))["id"]
    cli.run("keys revoke", new_key, "--reason", "test")
    cli.run("end-users suspend", "--org", "Org", "user-1", "--reason", "probing")
    cli.run("end-users reinstate", "--org", "Org", "user-1", "--reason", "appeal upheld")
    cli.run("members suspend", member, "--reason", "investigation")
    cli.run("members reinstate", member, "--reason", "cleared")
    cli.run("members remove", member, "--reason", "left the organization")
    cli.run("orgs suspend", "Org", "--reason", "investigation")
    cli.run("orgs reinstate", "Org", "--reason", "cleared")
    cli.run("entitlements revoke", entitlement)
    cli.run("operators create", "bob", "--role", "investigator")
    cli.run("operators disable", "bob")
    cli.run("operators enable", "bob")
    cli.run("operators reset", "bob")
    token = json.loads(cli.run("operators tokens create", "--role", "auditor", "--output", "json"))
    cli.run("operators tokens revoke", token["id"])

    investigator = _token_for(cli.data, "bob")
    cli.run("cases open", "Probing from one key", "--org", "Org", ok=False)  # admins cannot
    case = json.loads(
        cli.run(
            "cases open", "Probing from one key", "--org", "Org", "-o", "json", token=investigator
        )
    )["id"]
    cli.run(
        "cases view-content",
        case,
        "req_x",
        "--justification",
        "short",
        token=investigator,
        ok=False,
    )
    cli.run(
        "cases view-content",
        case,
        "req_x",
        "--justification",
        "checking whether the flagged request was a real attack",
        token=investigator,
    )
    into_case, dismissed = _alerts_for(cli.data, 2)
    cli.run("alerts to-case", into_case, case, token=investigator)
    cli.run("alerts dismiss", dismissed, "--reason", "expected launch traffic", token=investigator)
    cli.run("orgs webhook", "Org", "--url", "http://127.0.0.1:9/hook")
    action = json.loads(
        cli.run(
            "enforcement take",
            "warn",
            "organization",
            "Org",
            "--reason",
            "off-purpose traffic",
            "-o",
            "json",
            token=investigator,
        )
    )["id"]
    appeal = cli.run(
        "enforcement appeal",
        action,
        "--statement",
        "it was a sanctioned exercise",
        token=investigator,
    ).split()[1]
    cli.run(
        "enforcement decide", appeal, "denied", "--reason", "not sanctioned", token=investigator
    )
    cli.run("enforcement reverse", action, "--reason", "warning served", token=investigator)
    cli.run("cases close", case, "--resolution", "false positive", token=investigator)
    cli.run("orgs revoke", "Org", "--reason", "terms breached")
    policies = cli.data.parent / "policies"
    cli.run("policy defaults", str(policies))
    (policies / "50-no-embeddings.cedar").write_text(  # a change: the defaults are in force
        '@id("no-embeddings")\n@code("access_denied")\n'
        'forbid (principal, action == Clearance::Action::"embed", resource);\n'
    )
    cli.run("policy validate", str(policies))
    cli.run("policy apply", str(policies))
    cli.run("policy export", str(cli.data.parent / "exported"))
    program = cli.data.parent / "program.yaml"
    program.write_text("country_tables: [{name: extra, source: test, tiers: {3: [KP]}}]\n")
    cli.run("apply", "-f", str(program))
    cli.run("export")
    cases = cli.data.parent / "cases.yaml"
    cases.write_text("cases: [{name: entitled, expect: allow}]\n")
    cli.run("policy test", str(cases))
    cli.run("policy explain", "--key", key, "--model", "m")

    terms = cli.data.parent / "terms.txt"
    terms.write_text("Use the model only as approved.\n")
    cli.run("terms publish", "v1", str(terms))
    cli.run("screening import", str(FIXTURES / "csl.csv"), "--format", "csl")
    application = cli.data.parent / "application.yaml"
    application.write_text(yaml.safe_dump(form(requested_models=["m"]), allow_unicode=True))
    app_id = json.loads(cli.run("applications submit", str(application), "-o", "json"))["id"]
    cli.run("applications screen", app_id)
    [hit] = json.loads(cli.run("screening hits", "-o", "json"))
    cli.run("screening adjudicate", hit["id"], "--decision", "false_positive", "--reason", "other")
    cli.run("applications domain-challenge", app_id)
    cli.run("applications approve", app_id, ok=False)  # admins cannot approve
    cli.run("applications reject", app_id, "--reason", "no documents")
    cli.run("applications appeal", app_id, "--grounds", "documents attached")
    skip = {"serve", "demo", "audit verify", "audit prove", "audit show"}
    skip |= {"monitor classify"}  # reads a file, needs no installation (tests/content)
    skip |= {"usage show"}  # needs a request id (tests/cli/test_usage.py)
    skip |= {c for c in UNAUDITED_COMMANDS if c.startswith("policy ")} | {"export"}
    for read_only in sorted(UNAUDITED_COMMANDS - skip):
        args = {
            "members list": ["--org", "Org"],
            "service-accounts list": ["--org", "Org"],
            "end-users list": ["--org", "Org"],
            "applications show": [app_id],
            "screening check": ["--name", "Romashka Trading OOO"],
            "alerts show": [dismissed],
            "monitor topics": ["Org"],
        }
        cli.run(read_only, *args.get(read_only, []))
    kinds = {kind for kind, _ in cli.entries()}
    assert set(AUDITED_COMMANDS.values()) <= kinds
    assert "screening.hit_raised" in kinds
