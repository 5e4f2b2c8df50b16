"""The ``clearance`` command: every operator action, scriptable."""

from __future__ import annotations

import typer

from clearance.cli.accounts import operators_app
from clearance.cli.alerts import alerts_app
from clearance.cli.audit import audit_app
from clearance.cli.cases import cases_app
from clearance.cli.enforcement import enforcement_app
from clearance.cli.identity import keys_app, orgs_app
from clearance.cli.members import end_users_app, entitlements_app, members_app, services_app
from clearance.cli.monitor import monitor_app
from clearance.cli.policy import apply_program_command, export_program_command, policy_app
from clearance.cli.registry import models_app
from clearance.cli.screening import screening_app, terms_app
from clearance.cli.setup import db_upgrade_command, demo_command, init_command, serve_command
from clearance.cli.vetting import applications_app

app = typer.Typer(
    name="clearance",
    help="Clearance: a trusted-access gateway and control plane for restricted AI models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(init_command)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.add_typer(models_app, name="models")
app.add_typer(orgs_app, name="orgs")
app.add_typer(keys_app, name="keys")
app.add_typer(members_app, name="members")
app.add_typer(services_app, name="service-accounts")
app.add_typer(end_users_app, name="end-users")
app.add_typer(entitlements_app, name="entitlements")
app.add_typer(operators_app, name="operators")
app.add_typer(cases_app, name="cases")
app.add_typer(alerts_app, name="alerts")
app.add_typer(enforcement_app, name="enforcement")
app.add_typer(monitor_app, name="monitor")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(applications_app, name="applications")
app.add_typer(screening_app, name="screening")
app.add_typer(terms_app, name="terms")
app.command("apply")(apply_program_command)
app.command("export")(export_program_command)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
db_app.command("upgrade")(db_upgrade_command)
app.add_typer(db_app, name="db")


def run() -> None:
    app()
