"""Integers in the audit API's paths and queries are bounded: one beyond what the
database stores (signed 64 bits) is a 400 in the API's error shape, never a 500, and an
entry beyond the log is a 404 — the same for the CLI's ``audit prove`` and ``show``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from clearance.cli.main import app as cli
from tests.support.inprocess import InProcess, in_process

HUGE = "2545659092491514915718168576"
"""Far beyond 2**64: what the outside probe sent."""
JUST_OVER = str(2**63)
LARGEST = str(2**63 - 1)


@pytest.fixture
async def ip(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data") as running:
        await running.services.checkpoints.update(force=True)
        yield running


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if param is not None:
        assert error["param"] == param


@pytest.mark.parametrize(
    ("path", "status", "param"),
    [
        (f"/admin/v1/audit/{HUGE}/proof", 400, "path.index"),
        (f"/admin/v1/audit/{JUST_OVER}/proof", 400, "path.index"),
        ("/admin/v1/audit/-1/proof", 400, "path.index"),
        (f"/admin/v1/audit/{LARGEST}/proof", 404, None),
        (f"/admin/v1/audit/0/proof?size={HUGE}", 400, "query.size"),
        (f"/admin/v1/audit/0/proof?size={JUST_OVER}", 400, "query.size"),
        ("/admin/v1/audit/0/proof?size=-5", 400, "query.size"),
        (f"/admin/v1/audit/0/proof?size={LARGEST}", 400, "size"),
        (f"/admin/v1/audit?after={HUGE}", 400, "query.after"),
        (f"/admin/v1/audit?after={JUST_OVER}", 400, "query.after"),
        ("/admin/v1/audit?after=-2", 400, "query.after"),
    ],
)
async def test_out_of_range_integers_are_client_errors(
    ip: InProcess, path: str, status: int, param: str | None
) -> None:
    response = await ip.client.get(path, headers=ip.as_operator(ip.admin_token))
    assert_error(response, status, param)


async def test_the_largest_integers_still_answer(ip: InProcess) -> None:
    headers = ip.as_operator(ip.admin_token)
    listed = await ip.client.get(f"/admin/v1/audit?after={LARGEST}", headers=headers)
    assert listed.status_code == 200
    assert listed.json() == []
    proved = await ip.client.get("/admin/v1/audit/0/proof", headers=headers)
    assert proved.status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "show", HUGE],
        ["audit", "show", JUST_OVER],
        ["audit", "prove", HUGE],
        ["audit", "prove", "0", "--size", HUGE],
        ["audit", "prove", "0", "--size", JUST_OVER],
        ["audit", "prove", "0", "--size", "-1"],
    ],
)
def test_the_cli_refuses_them_as_usage_errors(tmp_path: Path, args: list[str]) -> None:
    # Refused while parsing the command line: before any installation is opened.
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Invalid value" in result.output
