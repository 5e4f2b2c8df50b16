"""How list snapshots are kept: one row per entry, the newest snapshot of each list."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.screening.entries import LIST_FORMATS, ListEntry
from clearance.screening.models import snapshots_table

_snap = snapshots_table.c


async def latest_snapshots(conn: AsyncConnection) -> tuple[str, ...]:
    latest = []
    for format in LIST_FORMATS:
        found = await conn.scalar(
            sa.select(_snap.id).where(_snap.format == format).order_by(_snap.seq.desc()).limit(1)
        )
        latest.append(found or "")
    return tuple(latest)


def unique_entries(entries: tuple[ListEntry, ...]) -> list[ListEntry]:
    return list({entry.entry_id: entry for entry in entries}.values())


def entry_row(snapshot_id: str, entry: ListEntry) -> dict[str, object]:
    return {
        "snapshot_id": snapshot_id,
        "entry_id": entry.entry_id,
        "source": entry.source,
        "kind": entry.kind,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "countries": list(entry.countries),
        "programs": list(entry.programs),
        "list_name": entry.list_name,
        "remarks": entry.remarks,
    }


def entry_from_row(row: sa.Row[tuple[object, ...]]) -> ListEntry:
    m = row._mapping
    return ListEntry(
        source=m["source"],
        entry_id=m["entry_id"],
        kind=m["kind"],
        name=m["name"],
        aliases=tuple(m["aliases"]),
        countries=tuple(m["countries"]),
        programs=tuple(m["programs"]),
        list_name=m["list_name"],
        remarks=m["remarks"],
    )


def entry_key(entry: ListEntry) -> str:
    """Which listed party a hit is about, and as listed then: an entry whose names
    change (a new alias) is a new key, so an earlier adjudication does not cover it."""
    names = "\x1f".join(entry.names).encode()
    return f"{entry.source}:{entry.entry_id}:{hashlib.sha256(names).hexdigest()[:12]}"
