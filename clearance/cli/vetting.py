"""``clearance applications …``: intake, review, decision and after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clearance import yamlfile
from clearance.accounts.permissions import Permission
from clearance.accounts.permissions import Permission as P
from clearance.cli.common import (
    DataDir,
    Output,
    OutputOption,
    console,
    fail,
    print_json,
    print_table,
    settings_for,
    when,
    with_caller,
)
from clearance.errors import ClearanceError
from clearance.limits.models import parse_assignments

if TYPE_CHECKING:
    from clearance.accounts.models import Caller
    from clearance.container import Services
    from clearance.vetting.models import Application

applications_app = typer.Typer(
    help="Applications for access: intake, review, decision.", no_args_is_help=True
)
AppId = Annotated[str, typer.Argument(help="Application id (app_…).")]
Reason = Annotated[str, typer.Option(help="Why (required; kept in the audit log).")]


def _run(
    data_dir: Path | None,
    permission: Permission,
    work: Callable[[Services, Caller], Awaitable[Any]],
) -> Any:
    return with_caller(settings_for(data_dir), permission, work)


def _show(app: Application, output: Output, extra: dict[str, Any] | None = None) -> None:
    if output is Output.JSON:
        print_json({**app.document(), **(extra or {})})
    else:
        console.print(
            f"{app.id} {app.form.legal_name}: {app.status.value}", highlight=False, markup=False
        )


@applications_app.command("submit")
def submit(
    file: Annotated[Path, typer.Argument(help="The application, YAML or JSON.", exists=True)],
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Submit an application (fields: see the README's vetting section)."""
    try:
        document = yamlfile.load(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"{file}: {exc}") from None
    app = _run(
        data_dir, P.APPLICATIONS_WRITE, lambda s, c: s.applications.submit(c.actor, document)
    )
    _show(app, output)


@applications_app.command("list")
def list_applications(
    status: Annotated[str | None, typer.Option(help="Only those in this state.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Applications, oldest first."""
    apps = _run(data_dir, P.APPLICATIONS_READ, lambda s, c: s.applications.list(status))
    if output is Output.JSON:
        print_json([app.document() for app in apps])
        return
    print_table(
        ("id", "organization", "status", "submitted"),
        [(app.id, app.form.legal_name, app.status.value, when(app.submitted_at)) for app in apps],
    )


@applications_app.command("show")
def show(application: AppId, data_dir: DataDir = None, output: OutputOption = Output.TEXT) -> None:
    """An application with its screening hits and full history."""

    async def work(s: Services, _c: Caller) -> tuple[Application, list[Any], list[Any]]:
        return (
            await s.applications.get(application),
            await s.applications.hits(application),
            await s.applications.history(application),
        )

    app, hits, history = _run(data_dir, P.APPLICATIONS_READ, work)
    if output is Output.JSON:
        print_json({**app.document(), "hits": [h.document() for h in hits], "history": history})
        return
    _show(app, output)
    for hit in hits:
        console.print(
            f"  hit {hit.id}: {hit.subject} {hit.subject_name!r} ~ {hit.entry_name!r} "
            f"({hit.list_name}) {hit.score:.2f} — {hit.status}",
            highlight=False,
            markup=False,
        )
    for row in history:
        reason = f" — {row['reason']}" if row["reason"] else ""
        console.print(
            f"  {row['at']} {row['actor']}: {row['action']} → {row['to_status']}{reason}",
            highlight=False,
            markup=False,
        )


@applications_app.command("screen")
def screen(
    application: AppId, data_dir: DataDir = None, output: OutputOption = Output.TEXT
) -> None:
    """Screen the application (jurisdictions, then the lists) and move it to review."""
    app, hits = _run(
        data_dir, P.APPLICATIONS_REVIEW, lambda s, c: s.applications.screen(c.actor, application)
    )
    _show(app, output, {"hits": [h.document() for h in hits]})
    if output is Output.TEXT:
        for hit in hits:
            console.print(
                f"  hit {hit.id}: {hit.subject_name!r} ~ {hit.entry_name!r} {hit.score:.2f}"
            )


@applications_app.command("domain-challenge")
def domain_challenge(application: AppId, data_dir: DataDir = None) -> None:
    """Issue the token the applicant publishes to prove control of its domain."""
    challenge = _run(
        data_dir,
        P.APPLICATIONS_REVIEW,
        lambda s, c: s.vetting_checks.domain_challenge(c.actor, application),
    )
    console.print(
        f'DNS:  {challenge.dns_name} TXT "{challenge.dns_value}"', highlight=False, markup=False
    )
    console.print(
        f"or HTTP: {challenge.http_url} containing {challenge.token}", highlight=False, markup=False
    )


@applications_app.command("verify-domain")
def verify_domain(
    application: AppId,
    method: Annotated[str, typer.Option(help="dns or http.")] = "dns",
    data_dir: DataDir = None,
) -> None:
    """Look for the published token now (recorded either way)."""
    result = _run(
        data_dir,
        P.APPLICATIONS_REVIEW,
        lambda s, c: s.vetting_checks.verify_domain(c.actor, application, method),
    )
    console.print(f"{'verified' if result.verified else 'not verified'}: {result.detail}")
    if not result.verified:
        raise typer.Exit(1)


@applications_app.command("email-link")
def email_link(application: AppId, data_dir: DataDir = None) -> None:
    """E-mail the officer the one-time link to verify the address and accept the terms."""
    sent = _run(
        data_dir,
        P.APPLICATIONS_REVIEW,
        lambda s, c: s.vetting_checks.send_email_link(c.actor, application),
    )
    console.print(f"Sent the link to {sent}.")


@applications_app.command("approve")
def approve(
    application: AppId,
    purposes: Annotated[
        str | None, typer.Option(help="Comma-separated purposes to unlock [default: as applied].")
    ] = None,
    limit: Annotated[
        list[str] | None, typer.Option(help="SCOPE.LIMIT=N, e.g. key.rpm=60 (repeatable).")
    ] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Approve (as an approver who neither submitted nor reviewed it)."""
    chosen = [p.strip() for p in purposes.split(",")] if purposes else None
    try:
        limits = parse_assignments(limit or [])
    except ClearanceError as exc:
        raise fail(exc.message) from None
    app = _run(
        data_dir,
        P.APPLICATIONS_APPROVE,
        lambda s, c: s.decisions.approve(c, application, chosen, limits or None),
    )
    _show(app, output)


@applications_app.command("provision")
def provision(
    application: AppId, data_dir: DataDir = None, output: OutputOption = Output.TEXT
) -> None:
    """Create the organization and its officer's account (password shown once)."""
    app, password = _run(
        data_dir, P.ORGS_WRITE, lambda s, c: s.decisions.provision(c.actor, application)
    )
    _show(app, output, {"officer_initial_password": password})
    if output is Output.TEXT and password:
        console.print(
            f"Officer's initial portal password (shown once): {password}", highlight=False
        )


def _move(name: str, permission: Permission, help_text: str, with_reason: bool = True) -> None:
    def command(
        application: AppId,
        reason: Reason = "",
        data_dir: DataDir = None,
        output: OutputOption = Output.TEXT,
    ) -> None:
        def work(s: Services, c: Caller) -> Awaitable[Application]:
            method: Callable[..., Awaitable[Application]] = getattr(s.decisions, name)
            return (
                method(c.actor, application, reason)
                if with_reason
                else method(c.actor, application)
            )

        _show(_run(data_dir, permission, work), output)

    command.__doc__ = help_text
    applications_app.command(name)(command)


_move("reject", P.APPLICATIONS_REVIEW, "Reject an application, with the reason.")
_move("revet", P.APPLICATIONS_REVIEW, "Start an expired approval over, from screening.")
_move(
    "activate", P.ORGS_WRITE, "Grant the approved entitlements: the organization may start.", False
)
_move("suspend", P.ORGS_SUSPEND, "Suspend (the organization's keys stop within a second).")
_move("reinstate", P.ORGS_SUSPEND, "Reinstate a suspended organization.")
_move("revoke", P.ORGS_SUSPEND, "Revoke for good.")


@applications_app.command("appeal")
def appeal(
    application: AppId,
    grounds: Annotated[str, typer.Option(help="The grounds of the appeal.")],
    data_dir: DataDir = None,
) -> None:
    """File an appeal against a rejection or a suspension."""
    filed = _run(
        data_dir,
        P.APPLICATIONS_WRITE,
        lambda s, c: s.aftercare.appeal(c.actor, application, grounds),
    )
    console.print(f"Filed appeal {filed['id']} against the {filed['against']} decision.")


@applications_app.command("decide-appeal")
def decide_appeal(
    appeal_id: Annotated[str, typer.Argument(help="Appeal id (apl_…).")],
    upheld: Annotated[bool, typer.Option("--uphold/--deny", help="Uphold or deny it.")],
    reason: Reason,
    data_dir: DataDir = None,
) -> None:
    """Decide an appeal; an upheld one reverses the decision appealed."""
    decided = _run(
        data_dir,
        P.APPLICATIONS_APPROVE,
        lambda s, c: s.aftercare.decide_appeal(c.actor, appeal_id, upheld, reason),
    )
    console.print(f"Appeal {decided['id']}: {decided['outcome']}.")


@applications_app.command("revetting")
def revetting(data_dir: DataDir = None) -> None:
    """Expire approvals past re-vetting; note reminders for those due soon (run daily)."""

    async def work(s: Services, c: Caller) -> dict[str, list[str]]:
        days = s.settings.revet_reminder_days
        return await s.aftercare.revetting(c.actor, timedelta(days=days))

    done = _run(data_dir, P.ORGS_SUSPEND, work)
    console.print(
        f"Expired: {', '.join(done['expired']) or 'none'}; reminded: {', '.join(done['reminded']) or 'none'}."
    )
