"""Screening in the installation: importing list snapshots, screening an application's
organization, owners and officer against the newest snapshot of each list, recording
hits for a reviewer to adjudicate (never cleared automatically), and re-screening every
application still in the program whenever a new snapshot arrives."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db.database import Database
from clearance.db.schema import row_document
from clearance.errors import InvalidInput, InvalidState, NotFound
from clearance.ids import new_id
from clearance.screening.entries import LIST_FORMATS, ListFormatError
from clearance.screening.formats import load_snapshot
from clearance.screening.matcher import Match, ScreeningIndex
from clearance.screening.models import (
    Alert,
    Hit,
    alerts_table,
    entries_table,
    hits_table,
    snapshots_table,
)
from clearance.screening.snapshots import (
    entry_from_row,
    entry_key,
    entry_row,
    latest_snapshots,
    unique_entries,
)
from clearance.vetting.events import (
    AlertRaised,
    ScreeningHitAdjudicated,
    ScreeningHitRaised,
    ScreeningListImported,
)
from clearance.vetting.form import ApplicationForm
from clearance.vetting.models import applications_table
from clearance.vetting.states import AppStatus

DECISIONS = ("true_match", "false_positive")
INSERT_BATCH = 1000

_snap = snapshots_table.c
_hits = hits_table.c


class Screening:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, threshold: float) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self.threshold = threshold
        self._index: ScreeningIndex | None = None
        self._index_of: tuple[str, ...] = ()

    async def import_file(
        self, actor: str, path: Path, format: str
    ) -> tuple[dict[str, object], list[Alert]]:
        """Store a list file as a new snapshot (an audit entry), then re-screen."""
        if format not in LIST_FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(LIST_FORMATS)}", "format")
        try:
            result = await asyncio.to_thread(load_snapshot, path, format)
        except ListFormatError as exc:
            raise InvalidInput(str(exc), "file") from None
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}", "file") from None
        counts: dict[str, int] = dict(Counter(str(entry.kind) for entry in result.entries))
        snapshot_id = new_id("lst")
        now = self._clock.now()
        async with self._db.transaction() as conn:
            last = await conn.scalar(sa.select(sa.func.max(snapshots_table.c.seq)))
            await conn.execute(
                snapshots_table.insert().values(
                    id=snapshot_id,
                    seq=(last or 0) + 1,
                    format=format,
                    file_name=path.name,
                    sha256=result.sha256,
                    entries=len(result.entries),
                    counts=counts,
                    imported_at=now,
                    imported_by=actor,
                )
            )
            rows = [entry_row(snapshot_id, entry) for entry in unique_entries(result.entries)]
            for start in range(0, len(rows), INSERT_BATCH):
                await conn.execute(entries_table.insert(), rows[start : start + INSERT_BATCH])
            await self._audit.append(
                conn,
                ScreeningListImported(
                    actor=actor,
                    snapshot_id=snapshot_id,
                    format=format,
                    file_name=path.name,
                    sha256=result.sha256,
                    entries=len(result.entries),
                    counts=counts,
                ),
            )
        snapshot = {
            "id": snapshot_id,
            "format": format,
            "file_name": path.name,
            "sha256": result.sha256,
            "entries": len(result.entries),
            "counts": counts,
            "imported_at": now,
        }
        return snapshot, await self.rescreen(actor)

    async def snapshots(self) -> list[dict[str, object]]:
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(snapshots_table).order_by(_snap.seq))
            return [row_document(row) for row in rows]

    async def index(self) -> ScreeningIndex:
        """An index over the newest snapshot of each list (rebuilt when one changes)."""
        async with self._db.read() as conn:
            latest = await latest_snapshots(conn)
            if self._index is not None and latest == self._index_of:
                return self._index
            rows = await conn.execute(
                sa.select(entries_table).where(entries_table.c.snapshot_id.in_(latest))
            )
            entries = [entry_from_row(row) for row in rows]
        self._index = await asyncio.to_thread(ScreeningIndex.build, entries)
        self._index_of = latest
        return self._index

    async def check(
        self, name: str, country: str | None = None, threshold: float | None = None
    ) -> list[Match]:
        index = await self.index()
        try:
            return index.check(
                name, country=country, threshold=self.threshold if threshold is None else threshold
            )
        except ValueError as exc:
            raise InvalidInput(str(exc), "name") from None

    async def screen(
        self, conn: AsyncConnection, actor: str, application_id: str, form: ApplicationForm, by: str
    ) -> list[Hit]:
        """Screen everyone an application names; record and return the hits not seen
        before (the same subject and list entry is raised once)."""
        index = await self.index()
        if not any(self._index_of):
            raise InvalidState(  # fail closed: no list, no screening, no review
                "no denied-party list is imported yet ('clearance screening import')"
            )
        found: list[Hit] = []
        for subject, name, country, kind in _subjects(form):
            for match in index.check(name, country=country, kind=kind, threshold=self.threshold):
                hit = await self._record(conn, actor, application_id, subject, name, match, by)
                if hit is not None:
                    found.append(hit)
        return found

    async def _record(
        self,
        conn: AsyncConnection,
        actor: str,
        application_id: str,
        subject: str,
        name: str,
        match: Match,
        by: str,
    ) -> Hit | None:
        entry = match.entry
        key = entry_key(entry)
        seen = await conn.scalar(
            sa.select(_hits.id).where(
                _hits.application_id == application_id,
                _hits.subject_name == name,
                _hits.entry_key == key,
            )
        )
        if seen is not None:
            return None
        hit = Hit(
            id=new_id("hit"),
            application_id=application_id,
            subject=subject,
            subject_name=name,
            entry_key=key,
            entry_name=match.matched_name,
            list_name=entry.list_name or entry.source,
            score=round(match.score, 4),
            why=list(match.why),
            status="open",
            raised_at=self._clock.now(),
            raised_by=by,
            adjudicated_by=None,
            reason=None,
        )
        snapshot = self._index_of[LIST_FORMATS.index(entry.source)] if self._index_of else ""
        await conn.execute(
            hits_table.insert().values(
                id=hit.id,
                application_id=application_id,
                subject=subject,
                subject_name=name,
                entry_key=key,
                snapshot_id=snapshot,
                entry_name=hit.entry_name,
                list_name=hit.list_name,
                score=hit.score,
                why=hit.why,
                status=hit.status,
                raised_at=hit.raised_at,
                raised_by=by,
            )
        )
        await self._audit.append(
            conn,
            ScreeningHitRaised(
                actor=actor,
                hit_id=hit.id,
                application_id=application_id,
                subject=subject,
                subject_name=name,
                entry_key=key,
                entry_name=hit.entry_name,
                score=hit.score,
            ),
        )
        return hit

    async def rescreen(self, actor: str) -> list[Alert]:
        """Screen every application still in the program again, one transaction each
        (other writes go on meanwhile); an alert for each new hit, naming the
        organization."""
        live = [s.value for s in AppStatus if s not in {AppStatus.REJECTED, AppStatus.REVOKED}]
        async with self._db.read() as conn:
            ids = (
                await conn.scalars(
                    sa.select(applications_table.c.id).where(applications_table.c.status.in_(live))
                )
            ).all()
        alerts: list[Alert] = []
        for application_id in ids:
            async with self._db.transaction() as conn:
                row = (
                    await conn.execute(
                        sa.select(applications_table).where(
                            applications_table.c.id == application_id
                        )
                    )
                ).first()
                if row is None or row.status not in live:
                    continue
                form = ApplicationForm.from_stored(row.form)
                for hit in await self.screen(conn, actor, row.id, form, "rescreen"):
                    alerts.append(await self._alert(conn, actor, row.org_id, row.id, form, hit))
        return alerts

    async def _alert(
        self,
        conn: AsyncConnection,
        actor: str,
        org_id: str | None,
        application_id: str,
        form: ApplicationForm,
        hit: Hit,
    ) -> Alert:
        alert = Alert(
            id=new_id("alr"),
            kind="screening_hit",
            severity="high",
            org_id=org_id,
            application_id=application_id,
            summary=(
                f"{form.legal_name}: new screening hit — {hit.subject} {hit.subject_name!r} "
                f"may be {hit.entry_name!r} on {hit.list_name} (score {hit.score:.2f})"
            ),
            evidence={"hit_id": hit.id, "entry_key": hit.entry_key, "why": hit.why},
            status="open",
            created_at=self._clock.now(),
        )
        await conn.execute(
            alerts_table.insert().values(
                id=alert.id,
                kind=alert.kind,
                severity=alert.severity,
                org_id=org_id,
                application_id=application_id,
                summary=alert.summary,
                evidence=alert.evidence,
                status=alert.status,
                created_at=alert.created_at,
            )
        )
        await self._audit.append(
            conn,
            AlertRaised(
                actor=actor,
                alert_id=alert.id,
                alert_kind=alert.kind,
                severity=alert.severity,
                org_id=org_id,
                summary=alert.summary,
            ),
        )
        return alert

    async def adjudicate(self, actor: str, hit_id: str, decision: str, reason: str) -> Hit:
        if decision not in DECISIONS:
            raise InvalidInput(f"decision must be one of {', '.join(DECISIONS)}", "decision")
        reason = validation.free_text(reason, "reason")
        async with self._db.transaction() as conn:
            hit = await _find_hit(conn, hit_id)
            if hit.status != "open":
                raise InvalidState(f"hit {hit_id} was already adjudicated ({hit.status})")
            decided = await conn.execute(
                hits_table.update()
                .where(_hits.id == hit_id, _hits.status == "open")
                .values(
                    status=decision,
                    adjudicated_at=self._clock.now(),
                    adjudicated_by=actor,
                    reason=reason,
                )
            )
            if decided.rowcount != 1:
                raise InvalidState(f"hit {hit_id} was adjudicated meanwhile")
            await self._audit.append(
                conn,
                ScreeningHitAdjudicated(
                    actor=actor,
                    hit_id=hit_id,
                    application_id=hit.application_id,
                    decision=decision,
                    reason=reason,
                ),
            )
            return await _find_hit(conn, hit_id)

    async def hits(self, application_id: str | None = None, status: str | None = None) -> list[Hit]:
        async with self._db.read() as conn:
            return await hits_of(conn, application_id, status)

    async def alerts(self, status: str | None = "open") -> list[Alert]:
        async with self._db.read() as conn:
            query = sa.select(alerts_table).order_by(alerts_table.c.created_at)
            if status is not None:
                query = query.where(alerts_table.c.status == status)
            return [Alert.from_row(row) for row in await conn.execute(query)]


async def hits_of(
    conn: AsyncConnection, application_id: str | None, status: str | None = None
) -> list[Hit]:
    query = sa.select(hits_table).order_by(_hits.raised_at, _hits.id)
    if application_id is not None:
        query = query.where(_hits.application_id == application_id)
    if status is not None:
        query = query.where(_hits.status == status)
    return [Hit.from_row(row) for row in await conn.execute(query)]


async def _find_hit(conn: AsyncConnection, hit_id: str) -> Hit:
    row = (await conn.execute(sa.select(hits_table).where(_hits.id == hit_id))).first()
    if row is None:
        raise NotFound(f"no screening hit {hit_id!r}")
    return Hit.from_row(row)


def _subjects(form: ApplicationForm) -> list[tuple[str, str, str | None, str | None]]:
    """(subject, name, country, kind) for everyone the application names."""
    country = form.incorporation_country
    found: list[tuple[str, str, str | None, str | None]] = [
        ("organization", form.legal_name, country, "organization")
    ]
    found += [("alias", alias, country, "organization") for alias in form.aliases]
    found += [("owner", o.name, o.country, None) for o in form.beneficial_owners]
    found.append(("officer", form.officer.name, form.headquarters_country, "person"))
    return found
