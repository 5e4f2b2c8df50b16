"""The ``clearance`` command: every operator action, scriptable."""

from __future__ import annotations

import typer

from clearance.cli.audit import audit_app
from clearance.cli.identity import keys_app, orgs_app
from clearance.cli.registry import models_app
from clearance.cli.setup import db_upgrade_command, demo_command, init_command, serve_command

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
app.add_typer(audit_app, name="audit")

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
db_app.command("upgrade")(db_upgrade_command)
app.add_typer(db_app, name="db")


def run() -> None:
    app()
