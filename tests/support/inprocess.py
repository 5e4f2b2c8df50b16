"""Clearance in-process (ASGI, no sockets) on SQLite with a movable clock, in front of
the stand-in upstream process: for tests that need to control time or look inside."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from clearance import installation
from clearance.accounts.models import Caller, OperatorRole
from clearance.container import Services, build_services
from clearance.db import migrate
from clearance.ids import new_id
from clearance.server import build_app
from clearance.settings import load_settings
from tests.support.clock import FakeClock

FAST = {"password_time_cost": 1, "password_memory_kib": 64, "password_parallelism": 1}
# No server lifespan runs here (ASGI only), so no monitor process: the tests step the
# monitor in this process, which reads the texts from its feed here.
IN_PROCESS = {"monitor_process": False}


@dataclass
class InProcess:
    services: Services
    clock: FakeClock
    client: httpx.AsyncClient
    """Talks to the app over ASGI at https://clearance.test (cookies marked Secure work)."""
    admin: Caller
    admin_token: str

    def as_operator(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}

    def as_key(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    async def refresh(self) -> None:
        """What the server's watcher does every 200 ms: pick up changed state."""
        await self.services.watcher.check()

    async def token_for(self, role: OperatorRole, name: str | None = None) -> str:
        _, _, token = await self.services.operators.create(
            "local:test", name or f"{role.value}-op", role, with_token=True
        )
        assert token is not None
        return token.secret


@asynccontextmanager
async def in_process(
    data_dir: Path, start: datetime | None = None, **settings: object
) -> AsyncIterator[InProcess]:
    """Clearance on ``data_dir`` with its clock at ``start`` (default: now). A data
    directory already initialised is reopened — a restart."""
    config = load_settings(data_dir, **(FAST | IN_PROCESS | settings))
    reopened = data_dir.exists() and any(data_dir.iterdir())
    if not reopened:
        installation.create(config, "test.invalid/audit")
    clock = FakeClock(start)
    services = build_services(config, clock)
    await migrate.upgrade(services.db)
    operator, _, token = await services.operators.create(
        "local:test", new_id("root-") if reopened else "root", OperatorRole.ADMIN, with_token=True
    )
    assert token is not None
    await services.start_serving()
    transport = httpx.ASGITransport(app=build_app(services), client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="https://clearance.test"
        ) as client:
            yield InProcess(
                services=services,
                clock=clock,
                client=client,
                admin=Caller(operator=operator, role=OperatorRole.ADMIN, via="test"),
                admin_token=token.secret,
            )
    finally:
        await services.close()
