"""``clearance orgs …`` and ``clearance keys …``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    local_actor,
    print_json,
    settings_for,
    with_services,
)
from clearance.errors import InvalidInput

orgs_app = typer.Typer(help="Organizations in the program.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys organizations call the gateway with.", no_args_is_help=True)


@orgs_app.command("add")
def orgs_add(
    name: Annotated[str, typer.Argument(help="Legal name, in any script.")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country code.")],
    reason: Annotated[
        str, typer.Option(help="Why vetting is bypassed (required; kept in the audit log).")
    ],
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Admit an organization directly, bypassing vetting (recorded with its reason)."""
    settings = settings_for(data_dir)
    org = with_services(
        settings, lambda s: s.organizations.add_direct(local_actor(), name, country, reason)
    )
    if output is Output.JSON:
        print_json({"id": org.id, "name": org.name, "country": org.country})
    else:
        console.print(f"Added organization [bold]{org.name}[/bold] ({org.id}), {org.country}.")


@orgs_app.command("list")
def orgs_list(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List organizations."""
    orgs = with_services(settings_for(data_dir), lambda s: s.organizations.list())
    if output is Output.JSON:
        print_json(
            [{"id": o.id, "name": o.name, "country": o.country, "status": o.status} for o in orgs]
        )
        return
    table = Table("id", "name", "country", "status", "admission")
    for org in orgs:
        table.add_row(org.id, org.name, org.country, org.status.value, org.admission)
    console.print(table)


def _models_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise InvalidInput("--models needs at least one model name", "models")
    return names


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option(help="Organization name or id.")],
    models: Annotated[
        str | None, typer.Option(help="Comma-separated model names the key may call.")
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(help="When the key stops working (ISO 8601, UTC if no zone)."),
    ] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Issue an API key. The key is shown once: store it now."""
    settings = settings_for(data_dir)
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.astimezone()

    issued = with_services(
        settings,
        lambda s: s.keys.create(local_actor(), org, _models_option(models), expires_at),
    )
    if output is Output.JSON:
        print_json({"key": issued.secret, "id": issued.id})
        return
    console.print(f"Created key [bold]{issued.id}[/bold]. It is shown only once:\n")
    console.print(issued.secret, highlight=False)


@keys_app.command("list")
def keys_list(
    org: Annotated[str | None, typer.Option(help="Only this organization's keys.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List API keys (never their secrets)."""
    keys = with_services(settings_for(data_dir), lambda s: s.keys.list(org))
    if output is Output.JSON:
        print_json(
            [
                {
                    "id": key.id,
                    "org_id": key.org_id,
                    "lookup": key.lookup,
                    "models": list(key.models) if key.models is not None else None,
                    "expires_at": key.expires_at.isoformat() if key.expires_at else None,
                    "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                }
                for key in keys
            ]
        )
        return
    table = Table("id", "org", "key starts", "models", "expires", "revoked")
    for key in keys:
        table.add_row(
            key.id,
            key.org_id,
            f"{key.lookup}…",
            ",".join(key.models) if key.models is not None else "(all)",
            key.expires_at.isoformat() if key.expires_at else "never",
            key.revoked_at.isoformat() if key.revoked_at else "no",
        )
    console.print(table)
