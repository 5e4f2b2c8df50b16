"""A clock tests can move."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        """``frozen``: the monotonic clock too moves only when advanced."""
        self._now = start or datetime.now(UTC)
        self._offset = 0.0
        self._base = time.monotonic() if frozen else None

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (time.monotonic() if self._base is None else self._base) + self._offset

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self._now += step
        self._offset += step.total_seconds()
