"""Whether the audit log still vouches for every stored usage row, and every row for its
seal (``clearance audit check-usage``).

Recomputing each surviving ``usage.batch`` entry's digest catches rows deleted or
edited under it, but is blind to the other half of the attack: delete the audit entry
and there is no digest left to recompute. So rows are also checked from their side:

* rows whose ``audit_seq`` names no batch entry of their kind (the entry was deleted,
  or the row repointed) — the stored log's own check (``audit.integrity``) tells
  which of those entries the tree still counts;
* rows never sealed long after sealing should have taken them (the sealer stopped,
  or someone cleared ``audit_seq`` to hide a deleted seal);
* batch entries whose rows are gone, or no longer match their digest.

Each is a finding with a count and sample request ids (or entry numbers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clearance.audit.events import UsageBatchRecorded, UsageOutcomesRecorded
from clearance.audit.integrity import LogCheck
from clearance.audit.models import AuditEntry, audit_entries_table
from clearance.audit.services import AuditLog
from clearance.db.database import Database
from clearance.usage.digest import batch_digest
from clearance.usage.models import (
    UsageOutcome,
    UsageRecord,
    usage_outcomes_table,
    usage_records_table,
)

SAMPLES = 5
PAGE_ENTRIES = 500
PAGE_ROWS = 20_000
"""Batch entries are checked a page at a time: one query for the rows of up to this
many entries' worth, not one query per entry."""


@dataclass(frozen=True)
class UsageFinding:
    """One class of problem: how many, and a few examples to start looking from."""

    code: str
    """Stable name: rows_unsealed_batch_missing, rows_never_sealed, batch_rows_missing,
    batch_rows_altered (each per table: records or outcomes)."""
    count: int
    """Rows, or for the batch_* codes, batch entries."""
    samples: tuple[str, ...]
    """Request ids, or for the batch_* codes, entry numbers."""
    message: str


@dataclass(frozen=True)
class UsageCheck:
    batches: int
    """Batch entries checked."""
    rows: int
    """Rows those batches sealed (as their entries record)."""
    findings: list[UsageFinding]

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class _Rows:
    """One sealed table: its rows, its batch entries' kind, how a batch is ordered."""

    name: str
    noun: str
    kind: str
    table: sa.Table
    order: sa.Column[Any]
    written: sa.Column[Any]
    """When a row was recorded (near enough): the clock for "should be sealed by now"."""
    from_row: Callable[[Any], UsageRecord | UsageOutcome]
    sort_in_python: bool
    """Digested in request-id code-point order, whatever the database's collation."""


TABLES = (
    _Rows(
        "records",
        "usage records",
        UsageBatchRecorded.kind,
        usage_records_table,
        usage_records_table.c.id,
        usage_records_table.c.started_at,
        UsageRecord.from_row,
        sort_in_python=False,
    ),
    _Rows(
        "outcomes",
        "stream outcomes",
        UsageOutcomesRecorded.kind,
        usage_outcomes_table,
        usage_outcomes_table.c.request_id,
        usage_outcomes_table.c.finished_at,
        UsageOutcome.from_row,
        sort_in_python=True,
    ),
)


def sealing_deadline(seal_interval: float, longest_request: float) -> timedelta:
    """How old a row may be and still, legitimately, be unsealed.

    A record is stored when its request ends but dated when it started, so its age on
    arrival can reach the longest a request may take; sealing then follows within
    ``seal_interval``. A generous margin (a minute, or 60 intervals) covers a server
    busy catching up after a restart."""
    return timedelta(seconds=longest_request + max(60.0, 60 * seal_interval))


def _list(values: Sequence[object], total: int) -> str:
    """The first few of ``total`` values, and an ellipsis if there are more."""
    shown = ", ".join(str(value) for value in values[:SAMPLES])
    return shown + (", …" if total > min(len(values), SAMPLES) else "")


def _orphans(spec: _Rows) -> tuple[Any, Any]:
    """The join and condition selecting rows whose ``audit_seq`` names no entry of
    their batch kind."""
    entry = audit_entries_table.alias("sealing_entry")
    table = spec.table
    joined = table.outerjoin(
        entry, sa.and_(entry.c.seq == table.c.audit_seq, entry.c.kind == spec.kind)
    )
    return joined, sa.and_(table.c.audit_seq.is_not(None), entry.c.seq.is_(None))


def _why_missing(seq: int, count: int, log: LogCheck | None, kinds: dict[int, str]) -> str:
    """What became of one batch entry that ``count`` rows name."""
    which = f"entry {seq} ({count} of them)"
    if seq in kinds:
        return f"{which} is a {kinds[seq]} entry: the rows' audit_seq was changed"
    if log is None:
        return f"{which} is missing"
    if seq >= log.head:
        return f"{which} was never sequenced (the log's head is {log.head})"
    if seq < log.tree_size:
        return f"{which} was deleted from audit_entries, though the tree still holds its leaf"
    return f"{which} was deleted before it was integrated into the tree"


def _unsealed_with_missing_batch(
    conn: sa.Connection, spec: _Rows, log: LogCheck | None
) -> UsageFinding | None:
    joined, orphan = _orphans(spec)
    table = spec.table
    groups = [
        (int(seq), int(count))
        for seq, count in conn.execute(
            sa.select(table.c.audit_seq, sa.func.count())
            .select_from(joined)
            .where(orphan)
            .group_by(table.c.audit_seq)
            .order_by(table.c.audit_seq)
        )
    ]
    if not groups:
        return None
    samples = tuple(
        str(request_id)
        for request_id in conn.scalars(
            sa.select(table.c.request_id)
            .select_from(joined)
            .where(orphan)
            .order_by(spec.order)
            .limit(SAMPLES)
        )
    )
    shown = [seq for seq, _ in groups[:SAMPLES]]
    kinds = {
        int(row.seq): str(row.kind)
        for row in conn.execute(
            sa.select(audit_entries_table.c.seq, audit_entries_table.c.kind).where(
                audit_entries_table.c.seq.in_(shown)
            )
        )
    }
    total = sum(count for _, count in groups)
    batches = "; ".join(_why_missing(seq, count, log, kinds) for seq, count in groups[:3])
    more = f"; {len(groups) - 3} more entries" if len(groups) > 3 else ""
    return UsageFinding(
        f"{spec.name}_batch_missing",
        total,
        samples,
        f"{spec.noun} whose {spec.kind} entry is not in the audit log: {total} — request "
        f"ids {_list(samples, total)}; {batches}{more}; their seal was removed, so the log "
        "no longer vouches for them",
    )


def _never_sealed(
    conn: sa.Connection, spec: _Rows, cutoff: datetime, deadline: timedelta
) -> UsageFinding | None:
    table = spec.table
    late = sa.and_(table.c.audit_seq.is_(None), spec.written < cutoff)
    count = int(conn.scalar(sa.select(sa.func.count()).select_from(table).where(late)) or 0)
    if not count:
        return None
    samples = tuple(
        str(request_id)
        for request_id in conn.scalars(
            sa.select(table.c.request_id).where(late).order_by(spec.order).limit(SAMPLES)
        )
    )
    minutes = round(deadline.total_seconds() / 60)
    return UsageFinding(
        f"{spec.name}_never_sealed",
        count,
        samples,
        f"{spec.noun} recorded more than {minutes} minutes ago and never sealed into the "
        f"audit log: {count} — request ids {_list(samples, count)}; the sealer is not "
        "running, or their seal was removed (audit_seq cleared)",
    )


def _page_rows(
    conn: sa.Connection, spec: _Rows, entries: Sequence[AuditEntry]
) -> dict[int, list[UsageRecord | UsageOutcome]]:
    table = spec.table
    rows: dict[int, list[UsageRecord | UsageOutcome]] = defaultdict(list)
    query = (
        sa.select(table)
        .where(table.c.audit_seq.between(entries[0].seq, entries[-1].seq))
        .order_by(table.c.audit_seq, spec.order)
    )
    for row in conn.execute(query):
        rows[int(row.audit_seq)].append(spec.from_row(row))
    if spec.sort_in_python:
        for batch in rows.values():
            batch.sort(key=lambda row: row.request_id)
    return rows


@dataclass
class _BatchTally:
    batches: int = 0
    rows: int = 0
    short: list[tuple[int, int, int]] = field(default_factory=list)
    """(entry, rows it sealed, rows that remain) of each batch that lost or gained rows."""
    altered: list[int] = field(default_factory=list)


async def _check_batches(db: Database, audit: AuditLog, spec: _Rows) -> _BatchTally:
    tally = _BatchTally()
    after = -1
    page: list[AuditEntry] = []
    sealed = 0

    async def flush() -> None:
        nonlocal sealed
        rows = await db.read_sync(lambda conn: _page_rows(conn, spec, page))
        for entry in page:
            fields = entry.fields()
            found = rows.get(entry.seq, [])
            tally.batches += 1
            tally.rows += int(fields["count"])
            if len(found) != fields["count"]:
                tally.short.append((entry.seq, int(fields["count"]), len(found)))
            elif batch_digest(found) != fields["digest"]:
                tally.altered.append(entry.seq)
        page.clear()
        sealed = 0

    while entries := await audit.entries(after, PAGE_ENTRIES, kind=spec.kind):
        for entry in entries:
            after = entry.seq
            page.append(entry)
            sealed += int(entry.fields()["count"])
            if sealed >= PAGE_ROWS:
                await flush()
        if page:
            await flush()
    return tally


def _batch_findings(spec: _Rows, tally: _BatchTally) -> list[UsageFinding]:
    found: list[UsageFinding] = []
    short, altered = tally.short, tally.altered
    if short:
        lost = sum(max(0, sealed - remain) for _, sealed, remain in short)
        shown = "; ".join(
            f"entry {seq} sealed {sealed}, {remain} remain" for seq, sealed, remain in short[:3]
        )
        found.append(
            UsageFinding(
                f"{spec.name}_batch_rows_missing",
                len(short),
                tuple(str(seq) for seq, _, _ in short[:SAMPLES]),
                f"{spec.kind} entries whose {spec.noun} are no longer all there: "
                f"{len(short)}, {lost} rows missing — {shown}{'; …' if len(short) > 3 else ''}; "
                f"{spec.noun} were deleted (or moved between batches)",
            )
        )
    if altered:
        found.append(
            UsageFinding(
                f"{spec.name}_batch_rows_altered",
                len(altered),
                tuple(str(seq) for seq in altered[:SAMPLES]),
                f"{spec.kind} entries whose {spec.noun} no longer match their digest: "
                f"{len(altered)} — entry {_list(altered, len(altered))}; {spec.noun} were edited",
            )
        )
    return found


async def check_usage(
    db: Database,
    audit: AuditLog,
    now: datetime,
    deadline: timedelta,
    log: LogCheck | None = None,
) -> UsageCheck:
    """Check every stored usage row against its seal, and every seal against its rows.

    ``deadline``: how long after being recorded a row must be sealed (see
    :func:`sealing_deadline`). ``log``: the stored log's own check, to say what became
    of a missing batch entry."""
    findings: list[UsageFinding] = []
    batches = rows = 0
    cutoff = now - deadline
    for spec in TABLES:

        def from_rows(conn: sa.Connection, spec: _Rows = spec) -> list[UsageFinding]:
            found = [
                _unsealed_with_missing_batch(conn, spec, log),
                _never_sealed(conn, spec, cutoff, deadline),
            ]
            return [finding for finding in found if finding is not None]

        findings.extend(await db.read_sync(from_rows))
        tally = await _check_batches(db, audit, spec)
        batches += tally.batches
        rows += tally.rows
        findings.extend(_batch_findings(spec, tally))
    return UsageCheck(batches=batches, rows=rows, findings=findings)
