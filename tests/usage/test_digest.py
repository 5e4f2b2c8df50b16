"""Usage records are vouched for by the audit log: sealed into it within a second,
exactly once, after which deleting or editing one shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from clearance.container import Services
from clearance.usage.integrity import UsageFinding, check_usage
from clearance.usage.models import UsageRecord
from clearance.usage.sealing import UsageSealer


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


async def check_batches(services: Services) -> tuple[int, list[UsageFinding]]:
    """How many batches were checked, and what is wrong."""
    checked = await check_usage(services.db, services.audit, datetime.now(UTC), timedelta(hours=1))
    return checked.batches, checked.findings


async def record_all(services: Services, count: int, seal: bool = True) -> None:
    services.usage_recorder.start()
    await asyncio.gather(*(services.usage_recorder.record(record(i)) for i in range(count)))
    if seal:
        await services.usage_sealer.seal()


async def test_records_read_back_exactly_as_written(services: Services) -> None:
    written = [record(i) for i in range(3)]
    written[1].source_ip, written[1].streamed, written[2].latency_ms = "2001:db8::1", True, None
    services.usage_recorder.start()
    await asyncio.gather(*(services.usage_recorder.record(r) for r in written))
    for original in written:
        assert await services.usage.get(original.request_id) == original


async def test_rows_are_sealed_once_even_by_concurrent_sealers(services: Services) -> None:
    await record_all(services, 50, seal=False)
    assert await services.audit.entries(kind="usage.batch") == []
    rival = UsageSealer(services.db, services.audit)
    sealed = await asyncio.gather(services.usage_sealer.seal(), rival.seal())
    assert sum(sealed) == 50
    batches = await services.audit.entries(limit=1000, kind="usage.batch")
    assert sum(entry.fields()["count"] for entry in batches) == 50
    assert await services.usage_sealer.seal() == 0
    checked, problems = await check_batches(services)
    assert (checked, problems) == (len(batches), [])


async def test_every_batch_has_a_matching_audit_entry(services: Services) -> None:
    await record_all(services, 120)
    checked, problems = await check_batches(services)
    assert checked >= 1
    assert problems == []
    batches = await services.audit.entries(limit=1000, kind="usage.batch")
    assert sum(entry.fields()["count"] for entry in batches) == 120


async def test_a_deleted_record_is_detected(services: Services) -> None:
    await record_all(services, 30)
    async with services.db.transaction() as conn:
        await conn.execute(sa.text("DELETE FROM usage_records WHERE request_id = 'req_7'"))
    _, problems = await check_batches(services)
    assert len(problems) == 1
    assert "remain" in problems[0].message


async def test_an_edited_record_is_detected(services: Services) -> None:
    await record_all(services, 30)
    async with services.db.transaction() as conn:
        await conn.execute(
            sa.text("UPDATE usage_records SET total_tokens = 0 WHERE request_id = 'req_3'")
        )
    _, problems = await check_batches(services)
    assert len(problems) == 1
    assert "no longer match" in problems[0].message


async def test_a_record_edited_before_its_seal_is_detected(services: Services) -> None:
    """Sealing commits to each row as it was written, not as it is when sealed."""
    await record_all(services, 10, seal=False)
    await services.usage_recorder.flush()  # stored, not yet sealed
    async with services.db.transaction() as conn:
        edited = await conn.execute(
            sa.text("UPDATE usage_records SET total_tokens = 0 WHERE request_id = 'req_4'")
        )
        assert edited.rowcount == 1
    await services.usage_sealer.seal()
    _, problems = await check_batches(services)
    assert len(problems) == 1
    assert "no longer match" in problems[0].message
