"""Token quotas survive restarts: at start, each quota counter is seeded with the
tokens already used this UTC day and month, summed (by the database) from the usage
records."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa

from clearance.db.database import Database
from clearance.identity.entitlements import EntitlementIndex
from clearance.identity.index import KeyIndex
from clearance.limits.interfaces import Counter, RateLimiter
from clearance.usage.models import usage_outcomes_table, usage_records_table

_records = usage_records_table.c
_outcomes = usage_outcomes_table.c


async def seed_quotas(
    db: Database,
    limiter: RateLimiter,
    entitlements: EntitlementIndex,
    keys: KeyIndex,
    now: datetime,
) -> int:
    """Seed every counter this month's usage touches; returns how many were seeded."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tokens = sa.func.coalesce(_outcomes.total_tokens, _records.total_tokens, 0)
    today = sa.case((_records.started_at >= day_start, 1), else_=0)
    groups = (_records.org_id, _records.key_id, _records.end_user, _records.model)
    query = (
        sa.select(*groups, today.label("today"), sa.func.sum(tokens).label("tokens"))
        .outerjoin(usage_outcomes_table, _outcomes.request_id == _records.request_id)
        .where(_records.started_at >= month_start)
        .where(_records.model.is_not(None))
        .group_by(*groups, today)
    )
    month: dict[Counter, int] = defaultdict(int)
    day: dict[Counter, int] = defaultdict(int)
    async with db.read() as conn:
        for row in await conn.execute(query):
            if not row.tokens:
                continue
            principal = keys.principal(row.key_id)
            ids = {
                "organization": row.org_id,
                "key": row.key_id,
                "owner": principal.owner if principal else None,
                "end_user": f"{row.org_id}/{row.end_user}" if row.end_user else None,
            }
            counters = [Counter(scope, i, row.model) for scope, i in ids.items() if i is not None]
            counters.append(Counter("model", row.model, "*"))
            for counter in counters:
                month[counter] += row.tokens
                if row.today:
                    day[counter] += row.tokens
    for counter, used in month.items():
        limiter.seed(counter, day.get(counter, 0), used, now)
    return len(month)
