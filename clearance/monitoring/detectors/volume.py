"""Volume anomalies: an organization suddenly sending far more requests than it usually does.

A jump in volume is how bulk extraction, a leaked key being farmed out, or an automated
abuse loop first shows up. Each organization's requests are counted in fixed buckets of
``bucket_minutes``; its baseline is the mean and spread of its last ``baseline_buckets``
completed buckets (quiet buckets count as zero). Once there are at least
``min_history`` completed buckets, a bucket whose count exceeds every one of
``min_requests``, mean + ``z`` * spread and ``factor`` * mean is reported, once per
bucket. Small organizations never trip it below ``min_requests``; a steady heavy user
is judged against its own history.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from clearance.errors import InvalidInput
from clearance.monitoring.detectors.base import (
    MAX_SUBJECTS,
    Finding,
    Severity,
    Subjects,
    UsageEvent,
    check_settings,
    span,
)


@dataclass(frozen=True, slots=True)
class VolumeSettings:
    enabled: bool = True
    bucket_minutes: float = 10.0
    baseline_buckets: int = 36
    min_history: int = 6
    min_requests: int = 100
    z: float = 4.0
    factor: float = 3.0
    max_subjects: int = MAX_SUBJECTS

    def __post_init__(self) -> None:
        check_settings(self, may_be_zero=("z", "factor"))
        if self.min_history > self.baseline_buckets:
            raise InvalidInput("min_history must not exceed baseline_buckets", "min_history")


class _Org:
    __slots__ = ("baseline", "count", "fired", "first", "history", "index")

    def __init__(self, keep: int) -> None:
        self.first: int | None = None
        self.index = 0
        self.count = 0
        self.fired = False
        self.history: deque[tuple[int, int]] = deque(maxlen=keep)
        """Completed buckets that saw requests: (index, count)."""
        self.baseline: tuple[float, float] | None = None
        """Mean and spread for the current bucket; None until there is enough history."""


class VolumeAnomaly:
    name: str = "volume"

    def __init__(self, settings: VolumeSettings | None = None) -> None:
        self.settings = settings = settings or VolumeSettings()
        self._step = settings.bucket_minutes * 60
        # No idle expiry: a long-quiet organization's baseline is, rightly, zero.
        self._orgs: Subjects[str, _Org] = Subjects(
            lambda: _Org(settings.baseline_buckets), settings.max_subjects
        )

    @property
    def tracked(self) -> int:
        """Organizations with counts in memory."""
        return len(self._orgs)

    def observe(self, event: UsageEvent) -> list[Finding]:
        settings = self.settings
        org = self._orgs.get(event.org_id, event.at)
        index = math.floor(event.at.timestamp() / self._step)
        if org.first is None:
            org.first = org.index = index
        elif index > org.index:
            if org.count:
                org.history.append((org.index, org.count))
            org.index, org.count, org.fired = index, 0, False
            org.baseline = self._baseline(org, org.first)
        org.count += 1
        if org.fired or org.baseline is None:
            return []
        mean, std = org.baseline
        threshold = max(settings.min_requests, mean + settings.z * std, settings.factor * mean)
        if org.count <= threshold:
            return []
        org.fired = True
        start = datetime.fromtimestamp(org.index * self._step, tz=event.at.tzinfo)
        return [
            Finding(
                detector=self.name,
                severity=Severity.MEDIUM,
                org_id=event.org_id,
                summary=(
                    f"request volume: {org.count} requests in {span(settings.bucket_minutes)}"
                    f" against a usual {mean:.1f} ± {std:.1f}"
                ),
                evidence={
                    "count": org.count,
                    "mean": round(mean, 3),
                    "std": round(std, 3),
                    "threshold": round(threshold, 3),
                    "bucket_start": start.isoformat(),
                    "bucket_minutes": settings.bucket_minutes,
                },
                at=event.at,
            )
        ]

    def _baseline(self, org: _Org, first: int) -> tuple[float, float] | None:
        lowest = max(first, org.index - self.settings.baseline_buckets)
        counts = [0] * (org.index - lowest)
        if len(counts) < self.settings.min_history:
            return None
        for index, count in org.history:
            if index >= lowest:
                counts[index - lowest] = count
        return statistics.fmean(counts), statistics.pstdev(counts)
