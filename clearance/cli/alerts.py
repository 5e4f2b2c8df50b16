"""``clearance alerts …``: the review queue detectors fill."""

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
    from clearance.monitoring.models import Alert

alerts_app = typer.Typer(help="Alerts raised by the usage monitor.", no_args_is_help=True)


@alerts_app.command("list")
def alerts_list(
    status: Annotated[str | None, typer.Option(help="open, dismissed or in_case.")] = "open",
    org: Annotated[str | None, typer.Option(help="Only this organization's.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List alerts (open ones by default; --status '' for all)."""

    async def work(s: Services, _c: Caller) -> list[Alert]:
        org_id = (await s.organizations.get(org)).id if org else None
        return await s.alerts.list(status or None, org_id)

    found = with_caller(settings_for(data_dir), P.CASES_READ, work)
    if output is Output.JSON:
        from clearance.monitoring.enforcement_views import AlertOut  # noqa: PLC0415

        print_models(AlertOut.model_validate(a) for a in found)
        return
    print_table(
        ("id", "raised", "severity", "detector", "org", "summary", "count"),
        [
            (
                a.id,
                when(a.raised_at),
                a.severity,
                a.detector,
                a.org_id or "",
                a.summary,
                str(a.evidence.get("count", 1)),
            )
            for a in found
        ],
    )


@alerts_app.command("show")
def alerts_show(
    alert: Annotated[str, typer.Argument(help="Alert id.")], data_dir: DataDir = None
) -> None:
    """Show one alert with its evidence (as JSON, like the admin API's)."""
    from clearance.monitoring.enforcement_views import AlertOut  # noqa: PLC0415

    found = with_caller(settings_for(data_dir), P.CASES_READ, lambda s, c: s.alerts.get(alert))
    print_json(AlertOut.model_validate(found).model_dump(mode="json"))


@alerts_app.command("dismiss")
def alerts_dismiss(
    alert: Annotated[str, typer.Argument(help="Alert id.")],
    reason: Annotated[str, typer.Option(help="Why it needs no action (audited).")],
    data_dir: DataDir = None,
) -> None:
    """Dismiss an alert."""
    done = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.alerts.dismiss(c.actor, alert, reason),
    )
    console.print(f"Dismissed {done.id}.")


@alerts_app.command("to-case")
def alerts_to_case(
    alert: Annotated[str, typer.Argument(help="Alert id.")],
    case: Annotated[str, typer.Argument(help="An open case id.")],
    data_dir: DataDir = None,
) -> None:
    """Move an alert into a case for investigation."""
    done = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.alerts.to_case(c.actor, alert, case),
    )
    console.print(f"{done.id} is now in case {done.case_id}.")
