"""Jailbreak probing: one end user (or key) working to get around the screens.

Someone trying to extract prohibited help rarely succeeds on the first request. They
rephrase, wrap the question in role-play or a known jailbreak template, and try again.
Per key and end user, over a sliding window (10 minutes by default), this counts the
requests refused for their content (prohibited, or a dual-use domain the organization
is not entitled to) and the requests the screens recognised as jailbreak attempts (the
``jailbreak`` signal, or a deep-stage jailbreak score of at least ``score_threshold``).
``max_refused`` refusals or ``max_hits`` jailbreak hits is a high-severity finding —
persistence is the signal, not any single request — then the subject is quiet for
``cooldown_minutes``. The evidence lists the latest request ids for an investigator.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from clearance.errors import InvalidInput
from clearance.monitoring.detectors.base import (
    MAX_SUBJECTS,
    Cooldowns,
    Finding,
    Severity,
    Subjects,
    UsageEvent,
    check_settings,
    span,
)

REFUSED_FOR_CONTENT = frozenset({"prohibited_content", "purpose_not_entitled"})
REQUEST_IDS = 10
"""Request ids a finding lists (the latest)."""


@dataclass(frozen=True, slots=True)
class JailbreakSettings:
    enabled: bool = True
    window_minutes: float = 10.0
    max_refused: int = 5
    max_hits: int = 3
    score_threshold: float = 0.8
    cooldown_minutes: float = 10.0
    max_subjects: int = MAX_SUBJECTS

    def __post_init__(self) -> None:
        check_settings(self)
        if self.score_threshold > 1:
            raise InvalidInput("score_threshold is a score between 0 and 1", "score_threshold")


class _Mark(NamedTuple):
    at: datetime
    request_id: str
    refused: bool
    hit: bool
    score: float | None


Subject = tuple[str, str | None]


class JailbreakProbing:
    name: str = "jailbreak_probing"

    def __init__(self, settings: JailbreakSettings | None = None) -> None:
        self.settings = settings = settings or JailbreakSettings()
        self._window = timedelta(minutes=settings.window_minutes)
        # Enough marks that the thresholds are judged exactly, plus the ids to list.
        keep = settings.max_refused + settings.max_hits + REQUEST_IDS
        self._subjects: Subjects[Subject, deque[_Mark]] = Subjects(
            lambda: deque(maxlen=keep), settings.max_subjects
        )
        self._cooldowns: Cooldowns[Subject] = Cooldowns(
            timedelta(minutes=settings.cooldown_minutes), settings.max_subjects
        )

    @property
    def tracked(self) -> int:
        """Key and end user pairs with attempts in memory."""
        return len(self._subjects)

    def observe(self, event: UsageEvent) -> list[Finding]:
        settings, at = self.settings, event.at
        since = at - self._window
        self._subjects.forget_idle(since)
        score = event.jailbreak_score
        refused = event.error_code in REFUSED_FOR_CONTENT
        hit = "jailbreak" in event.flagged or (
            score is not None and score >= settings.score_threshold
        )
        if not (refused or hit):
            return []
        subject = (event.key_id, event.end_user)
        marks = self._subjects.get(subject, at)
        marks.append(_Mark(at, event.request_id, refused, hit, score))
        while marks[0].at < since:
            marks.popleft()
        refusals = sum(mark.refused for mark in marks)
        hits = sum(mark.hit for mark in marks)
        if refusals < settings.max_refused and hits < settings.max_hits:
            return []
        if not self._cooldowns.ready(subject, at):
            return []
        self._cooldowns.start(subject, at)
        scores = [mark.score for mark in marks if mark.score is not None]
        return [
            Finding(
                detector=self.name,
                severity=Severity.HIGH,
                org_id=event.org_id,
                summary=(
                    f"jailbreak probing: {refusals} refused and {hits} jailbreak attempts"
                    f" in {span(settings.window_minutes)}"
                ),
                evidence={
                    "refused": refusals,
                    "hits": hits,
                    "top_score": max(scores, default=None),
                    "request_ids": [mark.request_id for mark in marks][-REQUEST_IDS:],
                    "window_minutes": settings.window_minutes,
                },
                key_id=event.key_id,
                end_user=event.end_user,
                at=at,
            )
        ]
