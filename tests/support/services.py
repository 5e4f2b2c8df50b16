"""Where the test suite's real services live, and how it reaches them.

With CI=true a missing PostgreSQL or Redis fails the run; elsewhere those tests skip
with a message saying what to start.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit

import asyncpg
import pytest

POSTGRES_URL = os.environ.get(
    "CLEARANCE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if _reachable(POSTGRES_URL, 5432):
        return POSTGRES_URL
    message = f"PostgreSQL is not reachable at {POSTGRES_URL}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the scaled-out mode must be tested)")
    pytest.skip(f"{message}; start it to run these tests")


def fresh_schema_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


async def drop_schema(url: str, schema: str) -> None:
    """Remove a test's PostgreSQL schema and everything in it."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
