"""``clearance cases …``: investigations, and break-glass content views."""

from __future__ import annotations

import base64
from enum import StrEnum
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


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


cases_app = typer.Typer(help="Investigations (cases) and break-glass.", no_args_is_help=True)


@cases_app.command("open")
def cases_open(
    title: Annotated[str, typer.Argument(help="What the case is about.")],
    org: Annotated[str | None, typer.Option(help="Organization concerned.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Open a case."""
    case = with_caller(
        settings_for(data_dir), P.CASES_WRITE, lambda s, c: s.cases.open(c.actor, title, org)
    )
    if output is Output.JSON:
        print_json({"id": case.id, "title": case.title})
    else:
        console.print(f"Opened {case.id}: {case.title}")


@cases_app.command("close")
def cases_close(
    case: Annotated[str, typer.Argument(help="Case id.")],
    resolution: Annotated[str, typer.Option(help="How it ended.")],
    data_dir: DataDir = None,
) -> None:
    """Close a case."""
    closed = with_caller(
        settings_for(data_dir),
        P.CASES_WRITE,
        lambda s, c: s.cases.close(c.actor, case, resolution),
    )
    console.print(f"Closed {closed.id}.")


@cases_app.command("list")
def cases_list(
    status: Annotated[CaseStatus | None, typer.Option(help="Only open or closed ones.")] = None,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """List cases."""
    found = with_caller(
        settings_for(data_dir), P.CASES_READ, lambda s, c: s.cases.list(status and status.value)
    )
    if output is Output.JSON:
        from clearance.monitoring.views import CaseOut  # noqa: PLC0415

        print_models(CaseOut.model_validate(case) for case in found)
        return
    print_table(
        ("id", "status", "title", "opened by", "opened"),
        [(c.id, c.status, c.title, c.opened_by, when(c.opened_at)) for c in found],
    )


@cases_app.command("view-content")
def cases_view_content(
    case: Annotated[str, typer.Argument(help="An open case id.")],
    request_id: Annotated[str, typer.Argument(help="The request whose content to read.")],
    justification: Annotated[str, typer.Option(help="Why you need to read it (audited).")],
    data_dir: DataDir = None,
) -> None:
    """Break-glass: read a request's raw content inside a case (investigators only)."""
    view = with_caller(
        settings_for(data_dir),
        P.CONTENT_READ,
        lambda s, c: s.break_glass.view(c, case, request_id, justification),
    )
    content = base64.b64encode(view.content).decode() if view.content is not None else None
    print_json(
        {"request_id": view.request_id, "retained": view.retained, "content_base64": content}
    )
