"""Break-glass: raw content only to an investigator, inside an open case, with a
written justification — and every read is an audit entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clearance.accounts.models import OperatorRole
from tests.support.inprocess import InProcess, in_process

WHY = "the request was flagged as a possible exploit chain; confirming"


@pytest.fixture
async def ip(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as app:
        yield app


async def test_the_rule(ip: InProcess) -> None:
    investigator = ip.as_operator(await ip.token_for(OperatorRole.INVESTIGATOR))
    admin = ip.as_operator(ip.admin_token)
    case = (
        await ip.client.post("/admin/v1/cases", json={"title": "flagged"}, headers=investigator)
    ).json()
    url = f"/admin/v1/cases/{case['id']}/content"

    as_admin = await ip.client.post(
        url, json={"request_id": "req_1", "justification": WHY}, headers=admin
    )
    assert as_admin.status_code == 403
    terse = await ip.client.post(
        url, json={"request_id": "req_1", "justification": "because"}, headers=investigator
    )
    assert (terse.status_code, terse.json()["error"]["param"]) == (400, "justification")
    before = await ip.services.audit.count()

    read = await ip.client.post(
        url, json={"request_id": "req_1", "justification": WHY}, headers=investigator
    )
    assert read.status_code == 200
    assert read.json()["retained"] is False  # no model keeps content yet
    (entry,) = await ip.services.audit.entries(after=before - 1)
    assert entry.kind == "content.viewed"
    assert entry.fields()["justification"] == WHY
    assert entry.fields()["case_id"] == case["id"]

    await ip.client.post(
        f"/admin/v1/cases/{case['id']}/close", json={"resolution": "benign"}, headers=investigator
    )
    closed = await ip.client.post(
        url, json={"request_id": "req_1", "justification": WHY}, headers=investigator
    )
    assert closed.status_code == 409
    assert "open case" in closed.json()["error"]["message"]
