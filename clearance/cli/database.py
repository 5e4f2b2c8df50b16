"""``clearance db …``: the database schema."""

from __future__ import annotations

import typer

from clearance.cli.setup import db_upgrade_command

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
db_app.command("upgrade")(db_upgrade_command)
