"""Digests of usage, so the audit log can vouch for it.

Each committed batch of usage records gets one ``usage.batch`` audit entry, and each
batch of stream outcomes one ``usage.outcome_batch`` entry, holding the RFC 9162
Merkle root over the batch's rows (leaf = a row's canonical encoding, in row order);
each row keeps that entry's number in ``audit_seq``. Deleting or editing a row
afterwards changes its batch's root, which the signed, append-only log still holds.

The canonical encoding is JSON with keys sorted, no white space, integers only
(latency in whole microseconds) and times as RFC 3339 UTC strings — every value has
exactly one spelling, so anyone holding the rows can recompute the root
(``usage.integrity`` does, for ``clearance audit check-usage``).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from clearance.audit.events import UsageBatchRecorded, UsageOutcomesRecorded, format_time
from clearance.audit.tlog import merkle
from clearance.usage.models import UsageOutcome, UsageRecord


def _latency(value: float | None) -> int | None:
    return round(value * 1000) if value is not None else None


OMITTED_WHEN_EMPTY = frozenset({"categories"})
"""Fields added after the first version: left out of the encoding while empty, so every
row written before they existed keeps its leaf."""


def canonical(row: UsageRecord | UsageOutcome) -> bytes:
    document: dict[str, Any] = {}
    for field in row.__slots__:
        value = getattr(row, field)
        if value is None and field in OMITTED_WHEN_EMPTY:
            continue
        if field == "latency_ms":
            document["latency_us"] = _latency(value)
            continue
        if isinstance(value, datetime):
            value = format_time(value)
        document[field] = value
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def leaf(row: UsageRecord | UsageOutcome) -> bytes:
    """The row's RFC 9162 leaf hash."""
    return merkle.leaf_hash(canonical(row))


def digest_of(leaves: Sequence[bytes]) -> str:
    return base64.b64encode(merkle.root_of(leaves)).decode()


def batch_digest(rows: Sequence[UsageRecord | UsageOutcome]) -> str:
    return digest_of([leaf(row) for row in rows])


def records_entry(leaves: Sequence[bytes]) -> UsageBatchRecorded:
    return UsageBatchRecorded(actor="system", count=len(leaves), digest=digest_of(leaves))


def outcomes_entry(leaves: Sequence[bytes]) -> UsageOutcomesRecorded:
    return UsageOutcomesRecorded(actor="system", count=len(leaves), digest=digest_of(leaves))
