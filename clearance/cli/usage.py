"""``clearance usage …``: what the gateway's requests did, as the admin API's
``GET /admin/v1/usage`` and ``GET /admin/v1/usage/{request_id}`` show it."""

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
from clearance.errors import NotFound

if TYPE_CHECKING:
    from clearance.accounts.models import Caller
    from clearance.container import Services
    from clearance.usage.models import UsageRecord

usage_app = typer.Typer(help="Usage records: one per gateway request.", no_args_is_help=True)

MAX_LIMIT = 1000
"""As the admin API's."""


@usage_app.command("list")
def usage_list(
    org: Annotated[str | None, typer.Option(help="Organization name or id.")] = None,
    key: Annotated[str | None, typer.Option(help="API key id (or its lookup).")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    status: Annotated[
        int | None, typer.Option(help="Final HTTP status, e.g. 200 or 429.", min=100, max=599)
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only requests started then or later (ISO 8601, local time if no zone)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1, max=MAX_LIMIT)] = 100,
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """Usage records, newest first, each with its stream's outcome folded in."""
    if since is not None and since.tzinfo is None:
        since = since.astimezone()

    async def work(s: Services, _c: Caller) -> list[UsageRecord]:
        org_id = (await s.organizations.get(org)).id if org else None
        key_id = (await s.keys.get(key)).id if key else None
        return await s.usage.recent(
            org_id, limit, key_id=key_id, model=model, status_code=status, since=since
        )

    records = with_caller(settings_for(data_dir), P.USAGE_READ, work)
    if output is Output.JSON:
        from clearance.usage.views import UsageOut  # noqa: PLC0415

        print_models(UsageOut.model_validate(r) for r in records)
        return
    print_table(
        ("request", "started", "org", "key", "model", "status", "tokens", "ms", "flagged"),
        [
            (
                r.request_id,
                when(r.started_at),
                r.org_id,
                r.key_id,
                r.model or "-",
                str(r.status_code) + (f" {r.error_code}" if r.error_code else ""),
                str(r.total_tokens) if r.total_tokens is not None else "-",
                f"{r.latency_ms:.0f}" if r.latency_ms is not None else "-",
                r.categories or "-",
            )
            for r in records
        ],
    )


@usage_app.command("show")
def usage_show(
    request_id: Annotated[str, typer.Argument(help="The request id (req_…, X-Request-Id).")],
    data_dir: DataDir = None,
    output: OutputOption = Output.TEXT,
) -> None:
    """One request's usage record."""

    async def work(s: Services, _c: Caller) -> UsageRecord:
        record = await s.usage.get(request_id)
        if record is None:
            raise NotFound(f"no usage record for request {request_id!r}")
        return record

    from clearance.usage.views import UsageOut  # noqa: PLC0415

    record = UsageOut.model_validate(with_caller(settings_for(data_dir), P.USAGE_READ, work))
    document = record.model_dump(mode="json")
    if output is Output.JSON:
        print_json(document)
        return
    width = max(len(name) for name in document)
    for name, value in document.items():
        shown = "-" if value is None else str(value)
        console.print(f"{name.ljust(width)}  {shown}", highlight=False, markup=False)
