"""Applications: intake, reading them with their history, screening, and the one way
an application changes state (``step``: the table check, the history row and the audit
entry in one transaction)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.db.schema import row_document
from clearance.errors import InvalidInput, InvalidState, NotFound
from clearance.ids import new_id
from clearance.registry.jurisdictions import CountryTables, load_preset
from clearance.registry.models import Model, models_table
from clearance.screening.models import Hit
from clearance.screening.service import Screening, hits_of
from clearance.vetting import states
from clearance.vetting.events import ApplicationStep, ApplicationSubmitted
from clearance.vetting.form import ApplicationForm
from clearance.vetting.models import (
    Application,
    application_history_table,
    applications_table,
)
from clearance.vetting.states import Action, AppStatus

_apps = applications_table.c
_history = application_history_table.c


async def load(conn: AsyncConnection, application_id: str, lock: bool = False) -> Application:
    """The application; with ``lock``, its row locked until the transaction ends (on
    PostgreSQL: two decisions on one application take turns; SQLite writes do anyway)."""
    query = sa.select(applications_table).where(_apps.id == application_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise NotFound(f"no application {application_id!r}")
    return Application.from_row(row)


async def step(
    conn: AsyncConnection,
    audit: AuditLog,
    app: Application,
    action: Action | str,
    actor: str,
    now: datetime,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> Application:
    """Record ``action`` on ``app``: a transition when it is one of the state machine's
    actions (refused when illegal), else a check noted with the status unchanged."""
    to = states.target(action, app.status) if isinstance(action, Action) else app.status
    moved = await conn.execute(
        applications_table.update()
        .where(_apps.id == app.id, _apps.status == app.status.value)
        .values(status=to.value, updated_at=now, **(values or {}))
    )
    if moved.rowcount != 1:  # someone else moved it meanwhile: refuse, write nothing
        raise InvalidState("the application changed meanwhile; look again and retry")
    await conn.execute(
        application_history_table.insert().values(
            application_id=app.id,
            at=now,
            actor=actor,
            action=str(action),
            from_status=app.status.value,
            to_status=to.value,
            reason=reason,
            detail=detail or {},
        )
    )
    await audit.append(
        conn,
        ApplicationStep(
            actor=actor,
            application_id=app.id,
            action=str(action),
            from_status=app.status.value,
            to_status=to.value,
            reason=reason,
            detail=detail or {},
        ),
    )
    return await load(conn, app.id)


async def requested_models(conn: AsyncConnection, form: ApplicationForm) -> list[Model]:
    rows = await conn.execute(
        sa.select(models_table).where(models_table.c.name.in_(form.requested_models))
    )
    found = {model.name: model for model in map(Model.from_row, rows)}
    for i, name in enumerate(form.requested_models):
        if name not in found:
            raise InvalidInput(f"unknown model {name!r}", f"requested_models[{i}]")
    return [found[name] for name in form.requested_models]


class Applications:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Clock,
        screening: Screening,
        country_tables: CountryTables,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._screening = screening
        self._tables = country_tables

    async def submit(self, actor: str, document: Any) -> Application:
        form = ApplicationForm.from_document(document)
        now = self._clock.now()
        application_id = new_id("app")
        async with self._db.transaction() as conn:
            await requested_models(conn, form)
            await conn.execute(
                applications_table.insert().values(
                    id=application_id,
                    legal_name=form.legal_name,
                    status=AppStatus.SUBMITTED.value,
                    form=form.document(),
                    submitted_at=now,
                    submitted_by=actor,
                    updated_at=now,
                )
            )
            await conn.execute(
                application_history_table.insert().values(
                    application_id=application_id,
                    at=now,
                    actor=actor,
                    action="submit",
                    from_status=None,
                    to_status=AppStatus.SUBMITTED.value,
                    detail={},
                )
            )
            await self._audit.append(
                conn,
                ApplicationSubmitted(
                    actor=actor, application_id=application_id, form=form.document()
                ),
            )
            return await load(conn, application_id)

    async def screen(self, actor: str, application_id: str) -> tuple[Application, list[Hit]]:
        """Screen an application: its countries against each requested model's rules
        (a controlled model and a tier-3 country: rejected, with the reason), then
        everyone it names against the lists; on to review."""
        tables, default = await self._tables.all()
        by_name = {table.name: table for table in tables}
        async with self._db.transaction() as conn:
            app = await load(conn, application_id, lock=True)
            now = self._clock.now()
            app = await step(conn, self._audit, app, Action.SCREEN, actor, now)
            refusals: list[str] = []
            for model in await requested_models(conn, app.form):
                if model.jurisdiction and model.jurisdiction not in by_name:
                    raise InvalidState(  # fail closed: never judge by some other table
                        f"{model.name}'s country table {model.jurisdiction!r} does not exist"
                    )
                table = by_name.get(model.jurisdiction or default or "") or load_preset()
                if not model.controlled:
                    continue
                for where, country in app.form.countries().items():
                    if table.tier(country) >= 3:
                        refusals.append(
                            f"{model.name} is export-controlled ({model.export_control}) and "
                            f"{where} {country} is tier 3 in country table {table.name!r}"
                        )
            if refusals:
                reason = "jurisdiction: " + "; ".join(refusals)
                app = await step(
                    conn,
                    self._audit,
                    app,
                    Action.REJECT,
                    "system",
                    now,
                    reason,
                    {"jurisdiction": refusals},
                )
                return app, []
            hits = await self._screening.screen(conn, actor, app.id, app.form, "intake")
            detail = {"hits": [hit.id for hit in hits], "threshold": self._screening.threshold}
            app = await step(conn, self._audit, app, Action.SCREENED, actor, now, None, detail)
            return app, hits

    async def get(self, application_id: str) -> Application:
        async with self._db.read() as conn:
            return await load(conn, application_id)

    async def list(self, status: str | None = None) -> list[Application]:
        async with self._db.read() as conn:
            query = sa.select(applications_table).order_by(_apps.submitted_at)
            if status is not None:
                if status not in set(AppStatus):
                    known = ", ".join(s.value for s in AppStatus)
                    raise InvalidInput(f"status must be one of {known}", "status")
                query = query.where(_apps.status == status)
            return [Application.from_row(row) for row in await conn.execute(query)]

    async def history(self, application_id: str) -> builtins.list[dict[str, Any]]:
        async with self._db.read() as conn:
            await load(conn, application_id)
            rows = await conn.execute(
                sa.select(application_history_table)
                .where(_history.application_id == application_id)
                .order_by(_history.id)
            )
            return [row_document(row, frozenset({"id", "application_id"})) for row in rows]

    async def hits(self, application_id: str) -> builtins.list[Hit]:
        async with self._db.read() as conn:
            await load(conn, application_id)
            return await hits_of(conn, application_id)
