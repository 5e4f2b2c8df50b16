"""Usage records are vouched for by the audit log: deleting or editing one shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from clearance.container import Services
from clearance.usage.digest import check_batches
from clearance.usage.models import UsageRecord


def record(index: int) -> UsageRecord:
    return UsageRecord(
        request_id=f"req_{index}",
        started_at=datetime.now(UTC),
        org_id="org_x",
        key_id="key_x",
        endpoint="chat.completions",
        model="m",
        status_code=200,
        prompt_tokens=index,
        completion_tokens=1,
        total_tokens=index + 1,
        latency_ms=1.234567,
    )


async def record_all(services: Services, count: int) -> None:
    services.usage_recorder.start()
    await asyncio.gather(*(services.usage_recorder.record(record(i)) for i in range(count)))


async def test_every_batch_has_a_matching_audit_entry(services: Services) -> None:
    await record_all(services, 120)
    checked, problems = await check_batches(services.db, services.audit)
    assert checked >= 1
    assert problems == []
    batches = await services.audit.entries(limit=1000, kind="usage.batch")
    assert sum(entry.fields()["count"] for entry in batches) == 120


async def test_a_deleted_record_is_detected(services: Services) -> None:
    await record_all(services, 30)
    async with services.db.transaction() as conn:
        await conn.execute(sa.text("DELETE FROM usage_records WHERE request_id = 'req_7'"))
    _, problems = await check_batches(services.db, services.audit)
    assert len(problems) == 1
    assert "remain" in problems[0].message


async def test_an_edited_record_is_detected(services: Services) -> None:
    await record_all(services, 30)
    async with services.db.transaction() as conn:
        await conn.execute(
            sa.text("UPDATE usage_records SET total_tokens = 0 WHERE request_id = 'req_3'")
        )
    _, problems = await check_batches(services.db, services.audit)
    assert len(problems) == 1
    assert "no longer match" in problems[0].message
