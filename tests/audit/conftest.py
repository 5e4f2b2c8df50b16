"""A published log (in-process ASGI) and ways to tamper with its storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from clearance.audit.verify import Fetch, http_fetcher
from clearance.container import Services
from clearance.installation import read_log_signer
from clearance.server import build_app
from tests.audit.test_log import append


@dataclass
class Published:
    services: Services
    client: httpx.AsyncClient
    fetch: Fetch
    vkey: str

    async def sql(self, statement: str, **params: object) -> None:
        async with self.services.db.transaction() as conn:
            await conn.execute(sa.text(statement), params)

    async def grow(self, count: int) -> None:
        await append(self.services, count)
        await self.services.checkpoints.update(force=True)


@pytest.fixture
async def published(sqlite_services: Services) -> AsyncIterator[Published]:
    transport = httpx.ASGITransport(app=build_app(sqlite_services))
    async with httpx.AsyncClient(transport=transport, base_url="http://log.test") as client:
        yield Published(
            services=sqlite_services,
            client=client,
            fetch=http_fetcher(client, "http://log.test/log"),
            vkey=read_log_signer(sqlite_services.settings).verifier().to_vkey(),
        )
