"""Digests of usage records, so the audit log can vouch for them.

Each committed batch of usage records gets one ``usage.batch`` audit entry holding
the RFC 9162 Merkle root over the batch's records (leaf = canonical encoding of one
record, in record-id order); each record keeps that entry's number in ``audit_seq``.
Deleting or editing a record afterwards changes its batch's root, which the signed,
append-only log still holds.

The canonical encoding is JSON with keys sorted, no white space, integers only
(latency in whole microseconds) and times as RFC 3339 UTC strings — every value has
exactly one spelling, so anyone holding the records can recompute the root.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import sqlalchemy as sa

from clearance.audit.events import UsageBatchRecorded, format_time
from clearance.audit.services import AuditLog
from clearance.audit.tlog import merkle
from clearance.db.database import Database
from clearance.usage.models import UsageRecord, usage_records_table


def canonical(record: UsageRecord) -> bytes:
    latency = record.latency_ms
    document = {
        "request_id": record.request_id,
        "started_at": format_time(record.started_at),
        "org_id": record.org_id,
        "key_id": record.key_id,
        "end_user": record.end_user,
        "source_ip": record.source_ip,
        "endpoint": record.endpoint,
        "model": record.model,
        "status_code": record.status_code,
        "error_code": record.error_code,
        "policies": record.policies,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "total_tokens": record.total_tokens,
        "latency_us": round(latency * 1000) if latency is not None else None,
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def batch_digest(records: Sequence[UsageRecord]) -> str:
    root = merkle.root_of([merkle.leaf_hash(canonical(record)) for record in records])
    return base64.b64encode(root).decode()


@dataclass(frozen=True)
class BatchProblem:
    seq: int
    message: str


async def check_batches(db: Database, audit: AuditLog) -> tuple[int, list[BatchProblem]]:
    """Recompute every usage batch's digest from the stored records.

    Returns how many batches were checked and what does not match.
    """
    problems: list[BatchProblem] = []
    checked = 0
    after = -1
    table = usage_records_table
    while True:
        entries = await audit.entries(after, 500, kind=UsageBatchRecorded.kind)
        if not entries:
            return checked, problems
        for entry in entries:
            after = entry.seq
            checked += 1
            fields = entry.fields()
            async with db.read() as conn:
                rows = await conn.execute(
                    sa.select(table).where(table.c.audit_seq == entry.seq).order_by(table.c.id)
                )
                records = [UsageRecord.from_row(row) for row in rows]
            if len(records) != fields["count"]:
                problems.append(
                    BatchProblem(
                        entry.seq,
                        f"usage batch {entry.seq} recorded {fields['count']} records; "
                        f"{len(records)} remain",
                    )
                )
            elif batch_digest(records) != fields["digest"]:
                problems.append(
                    BatchProblem(
                        entry.seq,
                        f"usage batch {entry.seq}: the records no longer match their digest",
                    )
                )


def batch_entry(records: Sequence[UsageRecord]) -> UsageBatchRecorded:
    return UsageBatchRecorded(actor="system", count=len(records), digest=batch_digest(records))
