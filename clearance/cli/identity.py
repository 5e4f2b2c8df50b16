"""``clearance orgs …`` and ``clearance keys …``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    print_json,
    print_models,
    print_table,
    settings_for,
    when,
    with_caller,
)
from clearance.identity.keys import KeyScope
from clearance.identity.models import OrgStatus

orgs_app = typer.Typer(help="Organizations in the program.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys organizations call the gateway with.", no_args_is_help=True)

Reason = Annotated[str, typer.Option(help="Why (required; kept in the audit log).")]


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


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
    org = with_caller(
        settings_for(data_dir),
        P.ORGS_WRITE,
        lambda s, c: s.organizations.add_direct(c.actor, name, country, reason),
    )
    if output is Output.JSON:
        print_json({"id": org.id, "name": org.name, "country": org.country})
    else:
        console.print(f"Added organization [bold]{org.name}[/bold] ({org.id}), {org.country}.")


def _status_command(status: OrgStatus, verb: str) -> None:
    def command(
        org: Annotated[str, typer.Argument(help="Organization name or id.")],
        reason: Reason,
        data_dir: DataDir = None,
    ) -> None:
        changed = with_caller(
            settings_for(data_dir),
            P.ORGS_SUSPEND,
            lambda s, c: s.organizations.set_status(c.actor, org, status, reason),
        )
        console.print(f"{changed.name} is now {changed.status.value}.")

    command.__doc__ = f"{verb.capitalize()} an organization (its keys stop within a second)."
    orgs_app.command(verb)(command)


_status_command(OrgStatus.SUSPENDED, "suspend")
_status_command(OrgStatus.ACTIVE, "reinstate")
_status_command(OrgStatus.REVOKED, "revoke")


@orgs_app.command("webhook")
def orgs_webhook(
    org: Annotated[str, typer.Argument(help="Organization name or id.")],
    url: Annotated[
        str | None, typer.Option(help="Where enforcement notices are POSTed; omit to remove.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Set (or remove) the organization's webhook; prints its signing secret once."""
    secret = with_caller(
        settings_for(data_dir),
        P.ORGS_WRITE,
        lambda s, c: s.notifier.set_webhook(c.actor, org, url),
    )
    if secret is None:
        console.print("Webhook removed.")
    else:
        console.print(f"Webhook set. Signing secret (shown once): {secret}")


@orgs_app.command("list")
def orgs_list(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List organizations."""
    orgs = with_caller(settings_for(data_dir), P.ORGS_READ, lambda s, c: s.organizations.list())
    if output is Output.JSON:
        from clearance.identity.views import OrganizationOut  # noqa: PLC0415

        print_models(OrganizationOut.model_validate(org) for org in orgs)
        return
    print_table(
        ("id", "name", "country", "status", "admission"),
        [(o.id, o.name, o.country, o.status.value, o.admission) for o in orgs],
    )


@keys_app.command("create")
def keys_create(
    org: Annotated[str, typer.Option(help="Organization name or id.")],
    member: Annotated[str | None, typer.Option(help="Owning member id.")] = None,
    service_account: Annotated[
        str | None, typer.Option(help="Owning service account [default: 'default'].")
    ] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated model names the key may call.")
    ] = None,
    purposes: Annotated[
        str | None, typer.Option(help="Comma-separated dual-use purposes (cyber,bio,…).")
    ] = None,
    networks: Annotated[
        str | None, typer.Option(help="Comma-separated CIDR blocks the key may be used from.")
    ] = None,
    expires_at: Annotated[
        datetime | None,
        typer.Option(help="When the key stops working (ISO 8601, local time if no zone)."),
    ] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Issue an API key. The key is shown once: store it now."""
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.astimezone()
    scope = KeyScope(_csv(models), _csv(purposes), _csv(networks), expires_at)
    issued = with_caller(
        settings_for(data_dir),
        P.KEYS_WRITE,
        lambda s, c: s.keys.create(c.actor, org, scope, member, service_account),
    )
    if output is Output.JSON:
        print_json({"key": issued.secret, "id": issued.id})
        return
    console.print(f"Created key [bold]{issued.id}[/bold]. It is shown only once:\n")
    console.print(issued.secret, highlight=False)


@keys_app.command("rotate")
def keys_rotate(
    key: Annotated[str, typer.Argument(help="Key id (or its lookup, clr_…).")],
    grace: Annotated[
        int, typer.Option(help="Seconds the old key keeps working.", min=0, max=30 * 86400)
    ] = 3600,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Replace a key: a new key with the same scopes; the old one works for --grace."""
    issued = with_caller(
        settings_for(data_dir),
        P.KEYS_WRITE,
        lambda s, c: s.keys.rotate(c.actor, key, timedelta(seconds=grace)),
    )
    if output is Output.JSON:
        print_json({"key": issued.secret, "id": issued.id})
        return
    console.print(f"New key [bold]{issued.id}[/bold] (old one works {grace} s more):\n")
    console.print(issued.secret, highlight=False)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id (or its lookup, clr_…).")],
    reason: Reason,
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: refused everywhere within a second."""
    with_caller(
        settings_for(data_dir), P.KEYS_REVOKE, lambda s, c: s.keys.revoke(c.actor, key, reason)
    )
    console.print(f"Revoked {key}.")


@keys_app.command("list")
def keys_list(
    org: Annotated[str | None, typer.Option(help="Only this organization's keys.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List API keys (never their secrets)."""
    keys = with_caller(settings_for(data_dir), P.KEYS_READ, lambda s, c: s.keys.list(org))
    if output is Output.JSON:
        from clearance.identity.key_views import KeyOut  # noqa: PLC0415

        print_models(KeyOut.model_validate(key) for key in keys)
        return
    print_table(
        ("id", "org", "key starts", "models", "expires", "revoked", "last used"),
        [
            (
                key.id,
                key.org_id,
                f"{key.lookup}…",
                ",".join(key.models) if key.models is not None else "(all)",
                when(key.expires_at, "never"),
                when(key.revoked_at, "no"),
                when(key.last_used_at, "-"),
            )
            for key in keys
        ],
    )
