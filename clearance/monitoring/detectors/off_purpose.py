"""Off-purpose use: an organization drifting into dual-use domains it is not entitled to.

Organizations are vetted for specific dual-use purposes (cyber, bio, chem, radnuc).
Single stray requests happen — a screening false positive, a curious user — and the
gateway refuses them inline. What this detector looks for is a pattern: over a sliding
window (24 h by default) at least ``min_events`` requests touching a domain the
organization is not entitled to, making up at least ``min_share`` of its traffic. That
suggests the access is being used for something it was not granted for, and is worth a
reviewer's look. The deep stage's view of a request wins over the inline one when it
read the text. One finding per organization, then quiet for ``cooldown_minutes``.

The window slides in steps of ``step_minutes``: counts are kept per step, so memory per
organization is bounded however busy it is.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from datetime import timedelta

from clearance.errors import InvalidInput
from clearance.monitoring.detectors.base import (
    DUAL_USE,
    MAX_SUBJECTS,
    Cooldowns,
    Finding,
    Severity,
    Subjects,
    UsageEvent,
    check_settings,
    span,
)


@dataclass(frozen=True, slots=True)
class OffPurposeSettings:
    enabled: bool = True
    window_minutes: float = 24 * 60.0
    step_minutes: float = 10.0
    min_events: int = 5
    min_share: float = 0.02
    """Off-purpose requests as a fraction (0 to 1) of all the organization's requests."""
    cooldown_minutes: float = 60.0
    max_subjects: int = MAX_SUBJECTS

    def __post_init__(self) -> None:
        check_settings(self, may_be_zero=("min_share",))
        if self.min_share > 1:
            raise InvalidInput("min_share is a fraction between 0 and 1", "min_share")
        if self.step_minutes > self.window_minutes:
            raise InvalidInput("step_minutes must not exceed window_minutes", "step_minutes")


class _Step:
    __slots__ = ("domains", "index", "off", "total")

    def __init__(self, index: int) -> None:
        self.index = index
        self.total = 0
        self.off = 0
        self.domains: Counter[str] = Counter()


class _Window:
    """One organization's counts: per step, and summed over the live steps."""

    __slots__ = ("domains", "off", "steps", "total")

    def __init__(self) -> None:
        self.steps: deque[_Step] = deque()
        self.total = 0
        self.off = 0
        self.domains: Counter[str] = Counter()

    def add(self, index: int, oldest: int, domains: frozenset[str]) -> None:
        if self.steps and self.steps[0].index < oldest:
            while self.steps and self.steps[0].index < oldest:
                gone = self.steps.popleft()
                self.total -= gone.total
                self.off -= gone.off
                self.domains.subtract(gone.domains)
            self.domains = +self.domains  # drop the domains counted down to zero
        if not self.steps or self.steps[-1].index != index:
            self.steps.append(_Step(index))
        step = self.steps[-1]
        for target in (step, self):
            target.total += 1
            if domains:
                target.off += 1
                target.domains.update(domains)


class OffPurpose:
    name: str = "off_purpose"

    def __init__(self, settings: OffPurposeSettings | None = None) -> None:
        self.settings = settings = settings or OffPurposeSettings()
        self._step = settings.step_minutes * 60
        self._steps = math.ceil(settings.window_minutes / settings.step_minutes)
        self._idle = timedelta(seconds=(self._steps + 1) * self._step)
        self._orgs: Subjects[str, _Window] = Subjects(_Window, settings.max_subjects)
        self._cooldowns: Cooldowns[str] = Cooldowns(
            timedelta(minutes=settings.cooldown_minutes), settings.max_subjects
        )

    @property
    def tracked(self) -> int:
        """Organizations with counts in memory."""
        return len(self._orgs)

    def observe(self, event: UsageEvent) -> list[Finding]:
        settings, at = self.settings, event.at
        self._orgs.forget_idle(at - self._idle)
        window = self._orgs.get(event.org_id, at)
        index = math.floor(at.timestamp() / self._step)
        seen = event.deep if event.deep is not None else event.categories
        domains = (seen & DUAL_USE) - event.entitled
        window.add(index, index - self._steps + 1, domains)
        if not domains or window.off < settings.min_events:
            return []
        share = window.off / window.total
        if share < settings.min_share or not self._cooldowns.ready(event.org_id, at):
            return []
        self._cooldowns.start(event.org_id, at)
        by_domain = ", ".join(f"{name} {count}" for name, count in sorted(window.domains.items()))
        return [
            Finding(
                detector=self.name,
                severity=Severity.MEDIUM,
                org_id=event.org_id,
                summary=(
                    f"off-purpose use: {window.off} of {window.total} requests in "
                    f"{span(settings.window_minutes)} touched domains not entitled ({by_domain})"
                ),
                evidence={
                    "by_domain": dict(sorted(window.domains.items())),
                    "off_purpose": window.off,
                    "total": window.total,
                    "share": round(share, 4),
                    "window_minutes": settings.window_minutes,
                    "request_id": event.request_id,
                },
                at=at,
            )
        ]
