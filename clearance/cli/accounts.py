"""``clearance operators …``: operator accounts and API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.accounts.models import OperatorRole
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

operators_app = typer.Typer(help="Operator accounts (console and admin API).", no_args_is_help=True)
tokens_app = typer.Typer(help="Your own operator API tokens.", no_args_is_help=True)
operators_app.add_typer(tokens_app, name="tokens")


@operators_app.command("create")
def operators_create(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[OperatorRole, typer.Option(help="What they may do.")],
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Create an operator; prints their initial password once (TOTP is enrolled at
    first sign-in)."""
    operator, initial, _ = with_caller(
        settings_for(data_dir),
        P.OPERATORS_WRITE,
        lambda s, c: s.operators.create(c.actor, name, role),
    )
    if output is Output.JSON:
        print_json({"id": operator.id, "initial_password": initial})
        return
    console.print(f"Created {operator.role.value} {operator.name} ({operator.id}).")
    console.print(f"Initial password (shown once): {initial}", highlight=False)


@operators_app.command("list")
def operators_list(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List operators."""
    found = with_caller(settings_for(data_dir), P.OPERATORS_READ, lambda s, c: s.operators.all())
    if output is Output.JSON:
        from clearance.accounts.views import OperatorOut  # noqa: PLC0415

        print_models(OperatorOut.model_validate(o) for o in found)
        return
    print_table(
        ("id", "name", "role", "status", "created"),
        [(o.id, o.name, o.role.value, o.status, when(o.created_at)) for o in found],
    )


def _status(verb: str, status: str) -> None:
    def command(
        name: Annotated[str, typer.Argument(help="Operator name or id.")], data_dir: DataDir = None
    ) -> None:
        changed = with_caller(
            settings_for(data_dir),
            P.OPERATORS_WRITE,
            lambda s, c: s.operators.set_status(c.actor, name, status),
        )
        console.print(f"{changed.name} is now {changed.status}.")

    command.__doc__ = f"{verb.capitalize()} an operator (disabling ends their sessions and tokens)."
    operators_app.command(verb)(command)


_status("disable", "disabled")
_status("enable", "active")


@operators_app.command("reset")
def operators_reset(
    name: Annotated[str, typer.Argument(help="Operator name or id.")], data_dir: DataDir = None
) -> None:
    """New initial password; TOTP must be enrolled again; sessions and tokens end."""
    initial = with_caller(
        settings_for(data_dir), P.OPERATORS_WRITE, lambda s, c: s.operators.reset(c.actor, name)
    )
    console.print(f"New initial password (shown once): {initial}", highlight=False)


@tokens_app.command("create")
def tokens_create(
    role: Annotated[
        OperatorRole | None, typer.Option(help="Act as this role: yours, or auditor.")
    ] = None,
    days: Annotated[int | None, typer.Option(help="Days until it expires.", min=1)] = None,
    label: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Create an API token for yourself (shown once)."""
    token, issued = with_caller(
        settings_for(data_dir), None, lambda s, c: s.operators.issue_token(c, role, days, label)
    )
    if output is Output.JSON:
        print_json({"id": token.id, "token": issued.secret, "role": token.role})
        return
    expiry = token.expires_at.isoformat(timespec="seconds") if token.expires_at else "never"
    console.print(f"Token {token.id} ({token.role.value}, expires {expiry}), shown once:\n")
    console.print(issued.secret, highlight=False)


@tokens_app.command("list")
def tokens_list(data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """List your tokens (never their secrets)."""
    found = with_caller(
        settings_for(data_dir), None, lambda s, c: s.operators.tokens(c.operator.id)
    )
    if output is Output.JSON:
        from clearance.accounts.views import TokenOut  # noqa: PLC0415

        print_models(TokenOut.model_validate(t) for t in found)
        return
    print_table(
        ("id", "starts", "role", "label", "expires", "revoked"),
        [
            (
                t.id,
                f"{t.lookup}…",
                t.role.value,
                t.label or "-",
                when(t.expires_at, "never"),
                "yes" if t.revoked_at else "no",
            )
            for t in found
        ],
    )


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(help="Token id.")], data_dir: DataDir = None
) -> None:
    """Revoke one of your tokens."""
    with_caller(settings_for(data_dir), None, lambda s, c: s.operators.revoke_token(c, token))
    console.print(f"Revoked {token}.")
