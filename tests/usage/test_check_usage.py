"""``clearance audit check-usage`` cannot be fooled by deleting the audit entries that
seal usage: rows whose seal is gone, seals whose rows are gone, rows never sealed, and
entries the tree counts but the table lost are each reported, with counts and request
ids, and the command fails — on each storage backend, run as an operator types it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from clearance.accounts.models import OperatorRole
from clearance.audit.integrity import LogCheck, check_log
from clearance.container import Services
from clearance.installation import read_log_signer
from clearance.usage.integrity import UsageCheck, check_usage, sealing_deadline
from clearance.usage.models import UsageOutcome
from tests.support.processes import clearance
from tests.usage.test_digest import record

DEADLINE = sealing_deadline(1.0, 610.0)


async def sealed(services: Services, count: int, streamed: int = 0) -> int:
    """``count`` usage records (the last ``streamed`` of them streams, with outcomes),
    sealed, integrated and checkpointed; returns the records' usage.batch entry."""
    services.usage_recorder.start()
    rows = [record(i) for i in range(count)]
    for row in rows[count - streamed :]:
        row.streamed = True
    await asyncio.gather(*(services.usage_recorder.record(row) for row in rows))
    for row in rows[count - streamed :]:
        services.usage_recorder.finish(
            UsageOutcome(row.request_id, datetime.now(UTC), 200, total_tokens=3)
        )
    await services.usage_sealer.seal()
    await services.checkpoints.update(force=True)
    (batch,) = await services.audit.entries(kind="usage.batch")
    return batch.seq


async def sql(services: Services, statement: str, **params: object) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(sa.text(statement), params)


async def checked(services: Services) -> tuple[LogCheck, UsageCheck]:
    log = await check_log(services.db, read_log_signer(services.settings).verifier())
    usage = await check_usage(services.db, services.audit, datetime.now(UTC), DEADLINE, log)
    return log, usage


def codes(found: LogCheck | UsageCheck) -> dict[str, int]:
    return {finding.code: finding.count for finding in found.findings}


async def test_an_untouched_installation_passes(services: Services) -> None:
    await sealed(services, 40, streamed=5)
    log, usage = await checked(services)
    assert (log.findings, usage.findings) == ([], [])
    assert usage.batches == 2
    assert usage.rows == 45
    assert log.checkpoint_size == log.tree_size == log.head


async def test_deleting_the_entry_that_sealed_112_records(services: Services) -> None:
    """The outside probe's case: before, only surviving batches were checked (OK)."""
    seq = await sealed(services, 112)
    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=seq)
    log, usage = await checked(services)
    assert codes(usage) == {"records_batch_missing": 112}
    (finding,) = usage.findings
    assert finding.samples == ("req_0", "req_1", "req_2", "req_3", "req_4")
    assert f"entry {seq} (112 of them) was deleted from audit_entries" in finding.message
    assert codes(log) == {"entries_deleted": 1}
    assert log.findings[0].samples == (seq,)


async def test_deleting_an_entry_before_it_reached_the_tree(services: Services) -> None:
    services.usage_recorder.start()
    await asyncio.gather(*(services.usage_recorder.record(record(i)) for i in range(8)))
    await services.usage_sealer.seal()  # sequenced, not yet integrated
    (batch,) = await services.audit.entries(kind="usage.batch")
    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=batch.seq)
    log, usage = await checked(services)
    assert codes(usage) == {"records_batch_missing": 8}
    assert "before it was integrated" in usage.findings[0].message
    assert codes(log) == {"entries_missing": 1}


async def test_deleting_the_entry_and_its_tree_leaf(services: Services) -> None:
    """With the tree's leaf gone as well, the tree no longer hashes to what was signed."""
    seq = await sealed(services, 20)
    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=seq)
    await sql(services, "DELETE FROM audit_tree_nodes WHERE level = 0 AND idx = :seq", seq=seq)
    log, usage = await checked(services)
    assert codes(usage) == {"records_batch_missing": 20}
    assert {"entries_deleted", "leaves_missing"} <= set(codes(log))


async def test_renumbering_the_log_over_a_deleted_entry(services: Services) -> None:
    """Closing the gap (and rebuilding nothing) leaves the entries not hashing to the
    signed checkpoint."""
    seq = await sealed(services, 6)
    await auditor_token(services)  # an entry after the batch, to close the gap with
    await services.checkpoints.update(force=True)
    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=seq)
    await sql(services, "UPDATE audit_entries SET seq = seq - 1 WHERE seq > :seq", seq=seq)
    log, _ = await checked(services)
    assert "tree_rewritten" in codes(log)
    assert "entries_altered" in codes(log)


async def test_deleting_the_outcome_batch_entry(services: Services) -> None:
    await sealed(services, 10, streamed=3)
    (outcomes,) = await services.audit.entries(kind="usage.outcome_batch")
    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=outcomes.seq)
    _, usage = await checked(services)
    assert codes(usage) == {"outcomes_batch_missing": 3}
    assert usage.findings[0].samples == ("req_7", "req_8", "req_9")


async def test_a_record_repointed_at_another_entry(services: Services) -> None:
    await auditor_token(services)  # entry 0
    await sealed(services, 10)
    await sql(services, "UPDATE usage_records SET audit_seq = 0 WHERE request_id = 'req_2'")
    _, usage = await checked(services)
    assert codes(usage) == {"records_batch_missing": 1, "records_batch_rows_missing": 1}
    assert "entry 0 (1 of them) is a operator.created entry" in usage.findings[0].message


async def test_deleted_and_edited_records(services: Services) -> None:
    await sealed(services, 30)
    await sql(services, "DELETE FROM usage_records WHERE request_id IN ('req_1', 'req_2')")
    _, usage = await checked(services)
    assert codes(usage) == {"records_batch_rows_missing": 1}
    assert "2 rows missing" in usage.findings[0].message
    assert "sealed 30, 28 remain" in usage.findings[0].message


async def test_records_never_sealed(services: Services) -> None:
    services.usage_recorder.start()
    await asyncio.gather(*(services.usage_recorder.record(record(i)) for i in range(4)))
    await services.usage_recorder.flush()
    _, fresh = await checked(services)
    assert fresh.findings == []  # recorded just now: sealing is not due yet
    async with services.db.transaction() as conn:
        await conn.execute(
            sa.text("UPDATE usage_records SET started_at = :old WHERE request_id <> 'req_0'"),
            {"old": datetime.now(UTC) - timedelta(hours=2)},
        )
    _, usage = await checked(services)
    assert codes(usage) == {"records_never_sealed": 3}
    assert usage.findings[0].samples == ("req_1", "req_2", "req_3")


# -- the command, as typed -----------------------------------------------------------


def run_check(services: Services, token: str) -> tuple[int, str, str]:
    settings = services.settings
    env = {}
    if not services.db.is_sqlite:
        assert settings.database_url is not None
        assert settings.database_schema is not None
        env = {
            "CLEARANCE_DATABASE_URL": settings.database_url,
            "CLEARANCE_DATABASE_SCHEMA": settings.database_schema,
        }
    result = clearance(
        "audit",
        "check-usage",
        "--data-dir",
        str(settings.data_dir),
        env=env,
        token=token,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


async def auditor_token(services: Services) -> str:
    _, _, token = await services.operators.create(
        "local:test", "auditor", OperatorRole.AUDITOR, with_token=True
    )
    assert token is not None
    return token.secret


async def test_the_command_fails_when_the_sealing_entry_is_deleted(services: Services) -> None:
    token = await auditor_token(services)
    seq = await sealed(services, 112)
    code, out, err = run_check(services, token)
    assert code == 0, err
    assert out.startswith("OK: 1 usage batches (112 rows)")

    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=seq)
    code, out, err = run_check(services, token)
    assert code == 1
    assert (
        "usage records whose usage.batch entry is not in the audit log: 112 — "
        "request ids req_0, req_1, req_2, req_3, req_4, …"
    ) in out
    assert f"entry {seq} (112 of them) was deleted from audit_entries" in out
    assert "counted in the tree" in out
    assert err.startswith("error: check-usage FAILED: 2 problems")


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        (
            "DELETE FROM usage_records WHERE request_id IN ('req_3', 'req_4', 'req_5')",
            "usage.batch entries whose usage records are no longer all there: 1, 3 rows missing",
        ),
        (
            "UPDATE usage_records SET total_tokens = 0 WHERE request_id = 'req_9'",
            "usage.batch entries whose usage records no longer match their digest: 1",
        ),
        (
            "UPDATE usage_records SET audit_seq = NULL, started_at = '2020-01-01 00:00:00'",
            "usage records recorded more than 11 minutes ago and never sealed into the audit log: 12",
        ),
    ],
    ids=["rows-deleted", "row-edited", "seal-cleared"],
)
async def test_the_command_fails_on_each_kind_of_tampering(
    sqlite_services: Services, tampering: str, expected: str
) -> None:
    services = sqlite_services
    token = await auditor_token(services)
    await sealed(services, 12)
    await sql(services, tampering)
    code, out, err = run_check(services, token)
    assert code == 1
    assert expected in out
    assert "check-usage FAILED" in err
    assert "Traceback" not in err


async def test_the_command_reports_in_json(sqlite_services: Services) -> None:
    services = sqlite_services
    token = await auditor_token(services)
    seq = await sealed(services, 7)
    await sql(services, "DELETE FROM audit_entries WHERE seq = :seq", seq=seq)
    result = clearance(
        "audit",
        "check-usage",
        "--data-dir",
        str(services.settings.data_dir),
        "--output",
        "json",
        token=token,
        check=False,
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    (finding,) = report["usage"]["findings"]
    assert (finding["code"], finding["count"]) == ("records_batch_missing", 7)
    assert [f["code"] for f in report["log"]["findings"]] == ["entries_deleted"]
