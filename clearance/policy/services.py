"""The policy set in force: its files, applying a new version (validated, audited with
the diff, in force in every worker within a second), and its history."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

import cedarpy
import sqlalchemy as sa

from clearance.audit.events import PolicyChanged
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.policy.engine import default_files
from clearance.policy.models import TOPIC, policy_sets_table
from clearance.policy.source import CompiledPolicies, compile_policies

_sets = policy_sets_table.c
MAX_DIFF = 60_000  # audit entries hold at most 64 KiB


@dataclass(frozen=True)
class PolicyVersion:
    version: int
    """0: the shipped defaults, never applied."""
    files: dict[str, str]


def unified_diff(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    lines: list[str] = []
    for name in sorted(set(old) | set(new)):
        lines += difflib.unified_diff(
            old.get(name, "").splitlines(keepends=True),
            new.get(name, "").splitlines(keepends=True),
            fromfile=f"a/{name}" if name in old else "/dev/null",
            tofile=f"b/{name}" if name in new else "/dev/null",
        )
    text = "".join(lines)
    if len(text) > MAX_DIFF:
        return text[:MAX_DIFF] + "\n… (diff truncated; the policy_hash identifies the new set)\n"
    return text


class PolicyStore:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock, schema: cedarpy.Schema) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self.schema = schema

    async def active(self) -> PolicyVersion:
        query = sa.select(policy_sets_table).order_by(_sets.version.desc()).limit(1)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return PolicyVersion(0, default_files())
        return PolicyVersion(int(row.version), dict(row.files))

    def compile(self, files: Mapping[str, str]) -> CompiledPolicies:
        """Validate ``files``; raises PolicyError naming file and line."""
        return compile_policies(files, self.schema)

    async def apply(self, actor: str, files: Mapping[str, str]) -> PolicyVersion | None:
        """Make ``files`` the policy set in force; None if it already is (the shipped
        defaults included: a no-op writes nothing, not even an empty audit entry)."""
        compiled = self.compile(files)
        current = await self.active()
        if self.compile(current.files).digest == compiled.digest:
            return None
        version = current.version + 1
        async with self._db.transaction() as conn:
            await conn.execute(
                policy_sets_table.insert().values(
                    version=version,
                    files=dict(files),
                    digest=compiled.digest,
                    created_at=self._clock.now(),
                    created_by=actor,
                )
            )
            await self._audit.append(
                conn,
                PolicyChanged(
                    actor=actor,
                    policy_version=version,
                    policy_hash=compiled.digest,
                    diff=unified_diff(current.files, files),
                ),
            )
            await changes.bump(conn, TOPIC)
        return PolicyVersion(version, dict(files))
