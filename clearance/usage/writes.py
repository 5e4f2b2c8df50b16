"""One group commit of usage: records, stream outcomes, and last-use notes for keys
and end users.

Two implementations of the same writes. On PostgreSQL, SQLAlchemy Core. On SQLite —
the embedded default, where the commit is on every request's path — the stdlib
driver directly, with statements prepared once: SQLAlchemy's own overhead there is
~200 µs a transaction, four times the write itself. Both store the same values in
the same form (SQLAlchemy's SQLite format for times), which the tests check by
reading back through SQLAlchemy.

Both skip a row already stored (usage rows are unique by request id): a journal may
be replayed twice, and on PostgreSQL a record may reach the database both by its own
commit and from the local journal it was kept in meanwhile (``usage.fallback``) — it
is stored once, and a batch never fails for it. And both move a key's last use only
forward, since replayed rows can be older than those already stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from clearance.identity import end_users
from clearance.identity.models import api_keys_table
from clearance.ids import new_id
from clearance.usage import digest
from clearance.usage.models import (
    UsageOutcome,
    UsageRecord,
    usage_outcomes_table,
    usage_records_table,
)


@dataclass(frozen=True, slots=True)
class KeyUse:
    key_id: str
    at: datetime
    ip: str | None


@dataclass
class Batch:
    records: list[UsageRecord]
    outcomes: list[UsageOutcome]
    keys: list[KeyUse]
    end_users: dict[tuple[str, str], datetime]
    """(organization id, end user) -> when seen."""


_keys = api_keys_table.c
_KEY_USED = (
    sa.update(api_keys_table)
    .where(
        _keys.id == sa.bindparam("key_id"),
        sa.or_(_keys.last_used_at.is_(None), _keys.last_used_at < sa.bindparam("at")),
    )
    .values(last_used_at=sa.bindparam("at"), last_used_ip=sa.bindparam("ip"))
)


def _insert_new(conn: sa.Connection, table: sa.Table) -> sa.Insert:
    """``INSERT … ON CONFLICT (request_id) DO NOTHING`` in the connection's dialect."""
    key = [table.c.request_id]
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)


def write(conn: sa.Connection, batch: Batch) -> None:
    """The batch, through SQLAlchemy (PostgreSQL, or SQLite). Rows already stored are
    skipped."""
    if batch.records:
        conn.execute(
            _insert_new(conn, usage_records_table),
            [{**r.as_row(), "leaf": digest.leaf(r)} for r in batch.records],
        )
    if batch.outcomes:
        conn.execute(
            _insert_new(conn, usage_outcomes_table),
            [{**o.as_row(), "leaf": digest.leaf(o)} for o in batch.outcomes],
        )
    if batch.keys:
        conn.execute(_KEY_USED, [{"key_id": k.key_id, "at": k.at, "ip": k.ip} for k in batch.keys])
    end_users.touch(conn, batch.end_users)


def _insert(table: sa.Table, names: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """``INSERT OR IGNORE INTO table (names…) VALUES (?, …)`` compiled once for SQLite,
    and the order its parameters go in. (Ignoring rows already stored lets a journal
    be replayed twice; rows are unique by request id.)"""
    statement = table.insert().prefix_with("OR IGNORE")
    compiled = statement.compile(dialect=sqlite.dialect(), column_keys=list(names))
    assert compiled.positiontup is not None
    assert set(compiled.positiontup) == set(names)
    return compiled.string, tuple(compiled.positiontup)


_INSERT_RECORD, _RECORD_FIELDS = _insert(usage_records_table, (*UsageRecord.__slots__, "leaf"))
_INSERT_OUTCOME, _OUTCOME_FIELDS = _insert(usage_outcomes_table, (*UsageOutcome.__slots__, "leaf"))
_SQLITE_KEY_USED = (
    "UPDATE api_keys SET last_used_at = ?1, last_used_ip = ?2"
    " WHERE id = ?3 AND (last_used_at IS NULL OR last_used_at < ?1)"
)
_SQLITE_TOUCH = (
    "INSERT INTO end_users (id, org_id, external_id, status, first_seen, last_seen) "
    "VALUES (?, ?, ?, 'active', ?, ?) "
    "ON CONFLICT (org_id, external_id) DO UPDATE SET last_seen = excluded.last_seen"
)


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite (naive UTC, microseconds)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _sqlite_row(row: UsageRecord | UsageOutcome, fields: Sequence[str]) -> list[Any]:
    values: list[Any] = []
    for name in fields:
        if name == "leaf":
            values.append(digest.leaf(row))
            continue
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = sqlite_time(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return values


def write_sqlite(raw: sqlite3.Connection, batch: Batch) -> None:
    """The batch, through the stdlib driver (SQLite only). Rows already stored are
    skipped (a journal replayed twice)."""
    if batch.records:
        raw.executemany(_INSERT_RECORD, [_sqlite_row(r, _RECORD_FIELDS) for r in batch.records])
    if batch.outcomes:
        raw.executemany(_INSERT_OUTCOME, [_sqlite_row(o, _OUTCOME_FIELDS) for o in batch.outcomes])
    if batch.keys:
        raw.executemany(_SQLITE_KEY_USED, [(sqlite_time(k.at), k.ip, k.key_id) for k in batch.keys])
    if batch.end_users:
        raw.executemany(
            _SQLITE_TOUCH,
            [
                (new_id("eu"), org, external, sqlite_time(at), sqlite_time(at))
                for (org, external), at in batch.end_users.items()
            ],
        )
