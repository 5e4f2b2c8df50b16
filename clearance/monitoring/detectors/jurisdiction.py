"""Blocked jurisdictions: a key used from a country the model may not be served to.

Each model is governed by a country table that puts every country in a jurisdiction
tier; tier 3 (by default) means the model must not be served there at all. The gateway
refuses such requests inline, so a single one is usually a traveller or a VPN — but it
is always worth a reviewer knowing, because repeated attempts from a blocked country on
a vetted key mean the key has left the organization it was issued to, or someone is
testing the border. A request from a blocked tier, or refused as
``jurisdiction_blocked``, is a high-severity finding; at most one per key and country
per ``cooldown_minutes``. The evidence says whether the gateway refused it (it should
have).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from clearance.monitoring.detectors.base import (
    MAX_SUBJECTS,
    Cooldowns,
    Finding,
    Severity,
    UsageEvent,
    check_settings,
)


@dataclass(frozen=True, slots=True)
class JurisdictionSettings:
    enabled: bool = True
    blocked_tier: int = 3
    cooldown_minutes: float = 10.0
    max_subjects: int = MAX_SUBJECTS

    def __post_init__(self) -> None:
        check_settings(self)


class BlockedJurisdiction:
    name: str = "blocked_jurisdiction"

    def __init__(self, settings: JurisdictionSettings | None = None) -> None:
        self.settings = settings = settings or JurisdictionSettings()
        self._cooldowns: Cooldowns[tuple[str, str | None]] = Cooldowns(
            timedelta(minutes=settings.cooldown_minutes), settings.max_subjects
        )

    @property
    def tracked(self) -> int:
        """Key and country pairs in their cooldown."""
        return len(self._cooldowns)

    def observe(self, event: UsageEvent) -> list[Finding]:
        blocked = event.tier is not None and event.tier >= self.settings.blocked_tier
        if not blocked and event.error_code != "jurisdiction_blocked":
            return []
        subject = (event.key_id, event.country)
        if not self._cooldowns.ready(subject, event.at):
            return []
        self._cooldowns.start(subject, event.at)
        outcome = "refused" if event.refused else "served"
        return [
            Finding(
                detector=self.name,
                severity=Severity.HIGH,
                org_id=event.org_id,
                summary=(
                    f"request from blocked jurisdiction {event.country or 'unknown'}"
                    f" (tier {event.tier if event.tier is not None else 'unknown'}, {outcome})"
                ),
                evidence={
                    "country": event.country,
                    "tier": event.tier,
                    "request_id": event.request_id,
                    "refused": event.refused,
                },
                key_id=event.key_id,
                end_user=event.end_user,
                at=event.at,
            )
        ]
