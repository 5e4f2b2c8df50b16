"""``clearance members …``, ``service-accounts …``, ``end-users …``, ``entitlements …``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

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
from clearance.identity.models import Entitlement, MemberRole, Status, Verification
from clearance.limits.models import parse_assignments

if TYPE_CHECKING:
    from clearance.container import Services

members_app = typer.Typer(help="People in organizations.", no_args_is_help=True)
services_app = typer.Typer(help="Organizations' service accounts.", no_args_is_help=True)
end_users_app = typer.Typer(help="End users seen through the API.", no_args_is_help=True)
entitlements_app = typer.Typer(help="What organizations may use.", no_args_is_help=True)

Org = Annotated[str, typer.Option(help="Organization name or id.")]
Reason = Annotated[str, typer.Option(help="Why (required; kept in the audit log).")]


@members_app.command("add")
def members_add(
    org: Org,
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str, typer.Option(help="E-mail address (their portal sign-in).")],
    role: Annotated[MemberRole, typer.Option(help="Role in the organization.")] = MemberRole.MEMBER,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Add a member; officers and admins get a portal password, shown once."""
    member, initial = with_caller(
        settings_for(data_dir),
        P.MEMBERS_WRITE,
        lambda s, c: s.members.add(c.actor, org, name, email, role),
    )
    if output is Output.JSON:
        print_json({"id": member.id, "initial_password": initial})
        return
    console.print(f"Added {member.name} ({member.id}) as {member.role.value}.")
    if initial:
        console.print(f"Portal initial password (shown once): {initial}", highlight=False)


@members_app.command("list")
def members_list(org: Org, data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List an organization's members."""
    members = with_caller(settings_for(data_dir), P.MEMBERS_READ, lambda s, c: s.members.list(org))
    if output is Output.JSON:
        from clearance.identity.views import MemberOut  # noqa: PLC0415

        print_models(MemberOut.model_validate(m) for m in members)
        return
    print_table(
        ("id", "name", "email", "role", "verification", "status"),
        [
            (m.id, m.name, m.email, m.role.value, m.verification.value, m.status.value)
            for m in members
        ],
    )


@members_app.command("verify")
def members_verify(
    member: Annotated[str, typer.Argument(help="Member id.")],
    level: Annotated[Verification, typer.Option(help="What was verified.")],
    data_dir: DataDir = None,
) -> None:
    """Record a member's verification level (identity verification is a reviewer's)."""
    changed = with_caller(
        settings_for(data_dir),
        P.MEMBERS_VERIFY,
        lambda s, c: s.members.verify(c.actor, member, level),
    )
    console.print(f"{changed.name}: {changed.verification.value}.")


def _member_status(verb: str, status: Status, permission: P) -> None:
    def command(
        member: Annotated[str, typer.Argument(help="Member id.")],
        reason: Reason,
        data_dir: DataDir = None,
    ) -> None:
        changed = with_caller(
            settings_for(data_dir),
            permission,
            lambda s, c: s.members.set_status(c.actor, member, status, reason),
        )
        console.print(f"{changed.name} is now {changed.status.value}.")

    command.__doc__ = f"{verb.capitalize()} a member (their keys stop within a second)."
    members_app.command(verb)(command)


_member_status("suspend", Status.SUSPENDED, P.MEMBERS_SUSPEND)
_member_status("reinstate", Status.ACTIVE, P.MEMBERS_SUSPEND)
_member_status("remove", Status.REMOVED, P.MEMBERS_WRITE)


@services_app.command("add")
def services_add(
    org: Org,
    name: Annotated[str, typer.Argument(help="Service account name.")],
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Add a service account (an owner for keys used by software, not a person)."""
    account = with_caller(
        settings_for(data_dir),
        P.MEMBERS_WRITE,
        lambda s, c: s.service_accounts.add(c.actor, org, name),
    )
    if output is Output.JSON:
        print_json({"id": account.id, "name": account.name})
    else:
        console.print(f"Added service account {account.name} ({account.id}).")


@services_app.command("list")
def services_list(org: Org, data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List an organization's service accounts."""
    accounts = with_caller(
        settings_for(data_dir), P.MEMBERS_READ, lambda s, c: s.service_accounts.list(org)
    )
    if output is Output.JSON:
        from clearance.identity.views import ServiceAccountOut  # noqa: PLC0415

        print_models(ServiceAccountOut.model_validate(a) for a in accounts)
        return
    print_table(
        ("id", "name", "status", "created"),
        [(a.id, a.name, a.status.value, when(a.created_at)) for a in accounts],
    )


@end_users_app.command("list")
def end_users_list(org: Org, data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List the end users an organization's requests have named."""
    users = with_caller(
        settings_for(data_dir), P.END_USERS_READ, lambda s, c: s.end_users.list(org)
    )
    if output is Output.JSON:
        from clearance.identity.views import EndUserOut  # noqa: PLC0415

        print_models(EndUserOut.model_validate(u) for u in users)
        return
    print_table(
        ("user", "status", "first seen", "last seen"),
        [(u.external_id, u.status.value, when(u.first_seen), when(u.last_seen)) for u in users],
    )


def _end_user_status(verb: str, status: Status) -> None:
    def command(
        org: Org,
        user: Annotated[str, typer.Argument(help="The end user id the organization sends.")],
        reason: Reason,
        data_dir: DataDir = None,
    ) -> None:
        changed = with_caller(
            settings_for(data_dir),
            P.END_USERS_SUSPEND,
            lambda s, c: s.end_users.set_status(c.actor, org, user, status, reason),
        )
        console.print(f"End user {changed.external_id} is now {changed.status.value}.")

    command.__doc__ = f"{verb.capitalize()} one end user of an organization."
    end_users_app.command(verb)(command)


_end_user_status("suspend", Status.SUSPENDED)
_end_user_status("reinstate", Status.ACTIVE)


@entitlements_app.command("grant")
def entitlements_grant(
    org: Org,
    model: Annotated[list[str], typer.Option(help="Model name (repeatable: one grant each).")],
    purposes: Annotated[
        str, typer.Option(help="Comma-separated dual-use purposes unlocked (cyber,bio,…).")
    ] = "",
    limit: Annotated[
        list[str] | None,
        typer.Option(help="SCOPE.LIMIT=N, e.g. key.rpm=60 or organization.daily_tokens=1000000."),
    ] = None,
    expires_at: Annotated[datetime | None, typer.Option(help="When it lapses (ISO 8601).")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Entitle an organization to models (and dual-use purposes on them), within limits.

    Limit scopes: organization, key, owner (a key's member or service account),
    end_user; limits: rpm, tpm, concurrency, daily_tokens, monthly_tokens.
    """
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.astimezone()
    chosen = [p for p in purposes.split(",") if p.strip()]

    async def grant(services: Services, actor: str) -> list[Entitlement]:
        limits = parse_assignments(limit or [])
        return [
            await services.entitlements.grant(actor, org, name, chosen, expires_at, limits)
            for name in model
        ]

    granted = with_caller(
        settings_for(data_dir), P.ENTITLEMENTS_WRITE, lambda s, c: grant(s, c.actor)
    )
    if output is Output.JSON:
        print_json([{"id": g.id, "model": g.model, "purposes": g.purposes} for g in granted])
        return
    for g in granted:
        console.print(
            f"Granted {g.id}: {g.model} ({', '.join(g.purposes) or 'no dual-use purposes'})."
        )


@entitlements_app.command("revoke")
def entitlements_revoke(
    entitlement: Annotated[str, typer.Argument(help="Entitlement id.")], data_dir: DataDir = None
) -> None:
    """Revoke an entitlement."""
    with_caller(
        settings_for(data_dir),
        P.ENTITLEMENTS_WRITE,
        lambda s, c: s.entitlements.revoke(c.actor, entitlement),
    )
    console.print(f"Revoked {entitlement}.")


@entitlements_app.command("list")
def entitlements_list(
    org: Annotated[str | None, typer.Option(help="Organization name or id.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List entitlements."""
    found = with_caller(
        settings_for(data_dir), P.ENTITLEMENTS_READ, lambda s, c: s.entitlements.list(org)
    )
    if output is Output.JSON:
        from clearance.identity.key_views import EntitlementOut  # noqa: PLC0415

        print_models(EntitlementOut.model_validate(e) for e in found)
        return
    print_table(
        ("id", "org", "model", "purposes", "expires", "revoked"),
        [
            (
                e.id,
                e.org_id,
                e.model,
                ",".join(e.purposes) or "-",
                when(e.expires_at, "never"),
                "yes" if e.revoked_at else "no",
            )
            for e in found
        ],
    )
