"""``clearance enforcement …``: graduated enforcement and appeals."""

from __future__ import annotations

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

if TYPE_CHECKING:
    from clearance.accounts.models import Caller
    from clearance.container import Services
    from clearance.monitoring.enforcement_models import Appeal

enforcement_app = typer.Typer(
    help="Enforcement actions (warn, throttle, suspend, revoke) and appeals.",
    no_args_is_help=True,
)


@enforcement_app.command("take")
def take(
    action: Annotated[str, typer.Argument(help="warn, throttle, suspend or revoke.")],
    scope: Annotated[str, typer.Argument(help="end_user, key, member or organization.")],
    org: Annotated[str, typer.Argument(help="The organization.")],
    reason: Annotated[str, typer.Option(help="Why (audited, and sent to the organization).")],
    target: Annotated[
        str, typer.Option(help="End user id, key id or member id (not for organization).")
    ] = "",
    rpm: Annotated[int | None, typer.Option(help="Throttle: requests per minute.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Throttle: for how long.")] = None,
    alert: Annotated[str | None, typer.Option(help="The alert this answers.")] = None,
    case: Annotated[str | None, typer.Option(help="The case this belongs to.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Take an enforcement action; it reaches the gateway within a second."""
    done = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.enforcement.take(
            c.actor,
            action,
            scope,
            org,
            target,
            reason,
            rpm=rpm,
            minutes=minutes,
            alert_id=alert,
            case_id=case,
        ),
    )
    if output is Output.JSON:
        from clearance.monitoring.enforcement_views import ActionOut  # noqa: PLC0415

        print_json(ActionOut.model_validate(done).model_dump(mode="json"))
    else:
        console.print(f"{done.id}: {done.kind} {done.scope} {done.target}")


@enforcement_app.command("reverse")
def reverse(
    action: Annotated[str, typer.Argument(help="Action id.")],
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    data_dir: DataDir = None,
) -> None:
    """Reverse an action (reinstate what it suspended, lift a throttle)."""
    done = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.enforcement.reverse(c.actor, action, reason),
    )
    console.print(f"Reversed {done.id}.")


@enforcement_app.command("list")
def list_actions(
    org: Annotated[str | None, typer.Option(help="Only this organization's.")] = None,
    status: Annotated[str | None, typer.Option(help="active or reversed.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List enforcement actions, newest first."""
    found = with_caller(
        settings_for(data_dir), P.CASES_READ, lambda s, c: s.enforcement.list(org, status)
    )
    if output is Output.JSON:
        from clearance.monitoring.enforcement_views import ActionOut  # noqa: PLC0415

        print_models(ActionOut.model_validate(a) for a in found)
        return
    print_table(
        ("id", "taken", "by", "action", "scope", "target", "status"),
        [
            (
                a.id,
                when(a.taken_at),
                a.taken_by,
                a.kind,
                a.scope,
                a.target,
                a.status + (" (overturned)" if a.overturned else ""),
            )
            for a in found
        ],
    )


@enforcement_app.command("appeal")
def appeal(
    action: Annotated[str, typer.Argument(help="The action appealed.")],
    statement: Annotated[str, typer.Option(help="The organization's statement.")],
    data_dir: DataDir = None,
) -> None:
    """File an organization's appeal against an action."""
    done = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.appeals.file(c.actor, action, statement),
    )
    console.print(f"Filed {done.id} against {done.action_id}.")


@enforcement_app.command("decide")
def decide(
    appeal_id: Annotated[str, typer.Argument(metavar="APPEAL", help="Appeal id.")],
    outcome: Annotated[str, typer.Argument(help="upheld (reverses the action) or denied.")],
    reason: Annotated[str, typer.Option(help="Why (audited).")],
    data_dir: DataDir = None,
) -> None:
    """Decide an appeal."""
    done = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.appeals.decide(c.actor, appeal_id, outcome, reason),
    )
    console.print(f"{done.id}: {done.status}.")


@enforcement_app.command("appeals")
def appeals(
    status: Annotated[str | None, typer.Option(help="pending, upheld or denied.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List appeals, with how many actions were overturned.

    JSON: ``{"appeals": […], "counts": {…}}``, the admin API's appeal list and stats."""

    async def work(s: Services, _c: Caller) -> tuple[list[Appeal], dict[str, int]]:
        return await s.appeals.list(status), await s.appeals.overturned()

    found, counts = with_caller(settings_for(data_dir), P.CASES_READ, work)
    if output is Output.JSON:
        from clearance.monitoring.enforcement_views import AppealOut  # noqa: PLC0415

        documents = [AppealOut.model_validate(a).model_dump(mode="json") for a in found]
        print_json({"appeals": documents, "counts": counts})
        return
    print_table(
        ("id", "action", "filed", "by", "status", "decided"),
        [
            (a.id, a.action_id, when(a.filed_at), a.filed_by, a.status, when(a.decided_at))
            for a in found
        ],
    )
    console.print(", ".join(f"{name}: {count}" for name, count in counts.items()), highlight=False)
