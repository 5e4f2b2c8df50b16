"""Witness cosignatures: accepted from configured witnesses, served on the checkpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from clearance import installation
from clearance.audit.tlog.keys import Cosigner
from clearance.audit.tlog.note import open_note
from clearance.audit.verify import http_fetcher, verify
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.server import build_app
from clearance.settings import load_settings
from tests.audit.test_log import append

WITNESS = Cosigner.generate("witness.example/w1")


@pytest.fixture
async def witnessed(tmp_path: Path) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    settings = load_settings(tmp_path / "data", audit_witnesses=[WITNESS.verifier().to_vkey()])
    installation.create(settings, "log.example/audit")
    services = build_services(settings)
    await migrate.upgrade(services.db)
    transport = httpx.ASGITransport(app=build_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://log.test") as client:
        yield services, client
    await services.close()


async def test_a_witness_cosignature_is_stored_and_served(
    witnessed: tuple[Services, httpx.AsyncClient],
) -> None:
    services, client = witnessed
    await append(services, 20)
    checkpoint = await services.checkpoints.update(force=True)
    assert checkpoint is not None
    text = checkpoint.note.split("\n\n")[0] + "\n"
    cosigned = checkpoint.note + WITNESS.sign(text, timestamp=1_800_000_000)
    response = await client.post("/log/cosignature", content=cosigned)
    assert response.status_code == 200, response.text
    assert WITNESS.name in response.text

    served = (await client.get("/log/checkpoint")).text
    log_key = installation.read_log_signer(services.settings).verifier()
    opened = open_note(served, [log_key, WITNESS.verifier()])
    assert {s.name for s in opened.verified} == {log_key.name, WITNESS.name}
    assert [s.timestamp for s in opened.verified if s.name == WITNESS.name] == [1_800_000_000]
    # An auditor who only knows the log's key still verifies (unknown signers ignored).
    result = await verify(http_fetcher(client, "http://log.test/log"), log_key.to_vkey())
    assert result.checkpoint.size == 20


async def test_bad_cosignatures_are_refused(witnessed: tuple[Services, httpx.AsyncClient]) -> None:
    services, client = witnessed
    await append(services, 5)
    checkpoint = await services.checkpoints.update(force=True)
    assert checkpoint is not None
    text = checkpoint.note.split("\n\n")[0] + "\n"
    stranger = Cosigner.generate("stranger.example/w")
    not_configured = await client.post(
        "/log/cosignature", content=checkpoint.note + stranger.sign(text)
    )
    assert not_configured.status_code == 400
    forged_text = text.replace("\n5\n", "\n6\n")
    unknown = await client.post(
        "/log/cosignature", content=forged_text + "\n" + WITNESS.sign(forged_text)
    )
    assert unknown.status_code == 404
    garbage = await client.post("/log/cosignature", content=b"\xff\xfe")
    assert garbage.status_code == 400
    assert "\u2014 stranger" not in (await client.get("/log/checkpoint")).text
