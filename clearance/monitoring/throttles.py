"""The gateway's view of active throttles: in memory, reloaded when enforcement
changes (its topic), so a throttle applies within a second of being set."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from clearance.db.database import Database
from clearance.limits.interfaces import Counter
from clearance.limits.models import Limits
from clearance.monitoring.enforcement_models import ActionKind, Scope, actions_table

_actions = actions_table.c


class Throttles:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._active: dict[tuple[str, str], list[tuple[str, int, datetime | None]]] = {}

    async def reload(self) -> None:
        async with self._db.read() as conn:
            rows = await conn.execute(
                sa.select(
                    _actions.id,
                    _actions.scope,
                    _actions.org_id,
                    _actions.target,
                    _actions.rpm,
                    _actions.expires_at,
                ).where(
                    (_actions.kind == ActionKind.THROTTLE.value) & (_actions.status == "active")
                )
            )
            active: dict[tuple[str, str], list[tuple[str, int, datetime | None]]] = {}
            for row in rows:
                target = row.target if row.scope != Scope.END_USER else f"{row.org_id}/{row.target}"
                active.setdefault((row.scope, target), []).append(
                    (row.id, int(row.rpm), row.expires_at)
                )
        self._active = active

    def checks(
        self, org_id: str, key_id: str, end_user: str | None, now: datetime
    ) -> list[tuple[Counter, Limits]]:
        """The extra limits in force for a request (usually none)."""
        if not self._active:
            return []
        subjects = [(Scope.ORGANIZATION.value, org_id), (Scope.KEY.value, key_id)]
        if end_user is not None:
            subjects.append((Scope.END_USER.value, f"{org_id}/{end_user}"))
        found: list[tuple[Counter, Limits]] = []
        for subject in subjects:
            for action_id, rpm, expires in self._active.get(subject, ()):
                if expires is None or expires > now:
                    found.append((Counter("throttle", action_id, "*"), Limits(rpm=rpm)))
        return found
