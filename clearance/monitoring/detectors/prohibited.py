"""Prohibited content: every request that tried for something no one may ask for.

A request counts as a prohibited attempt when a screening stage flagged a category
that is prohibited outright (by default the shipped policy's: ``cyber_prohibited``,
``bio_prohibited``, ``chem_prohibited``, ``radnuc_prohibited``, ``csam``,
``other_harm``), when the gateway refused it as prohibited content, or when it touched
a dual-use domain (cyber, bio, chem, radnuc) the organization is not entitled to and
was refused for that. Each attempt is one finding — automatic rules count them per end
user, key or organization (by default three in an hour suspend the end user).
Attempts touching bio, chem or radnuc, and every prohibited one but ``other_harm``
(weaponization, mass casualties, attacks on critical infrastructure, CSAM), are
critical: there one answer can do irreversible harm.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearance.content.signals import PROHIBITED, SEVERE
from clearance.monitoring.detectors.base import (
    DUAL_USE,
    Finding,
    Severity,
    UsageEvent,
    check_settings,
)

CRITICAL_DOMAINS = frozenset({"bio", "chem", "radnuc", *SEVERE, "csam"})


@dataclass(frozen=True, slots=True)
class ProhibitedSettings:
    enabled: bool = True
    prohibited: frozenset[str] = frozenset(PROHIBITED)
    """Categories no organization may be served, whatever it is entitled to."""

    def __post_init__(self) -> None:
        check_settings(self)


class ProhibitedContent:
    name: str = "prohibited"

    def __init__(self, settings: ProhibitedSettings | None = None) -> None:
        self.settings = settings or ProhibitedSettings()

    def observe(self, event: UsageEvent) -> list[Finding]:
        domains = self._domains(event)
        if domains is None:
            return []
        named = ", ".join(sorted(domains)) or "unspecified"
        outcome = "refused" if event.refused else "served"
        return [
            Finding(
                detector=self.name,
                severity=Severity.CRITICAL if domains & CRITICAL_DOMAINS else Severity.HIGH,
                org_id=event.org_id,
                summary=f"prohibited request: {named} ({outcome})",
                evidence={
                    "request_id": event.request_id,
                    "domains": sorted(domains),
                    "status_code": event.status_code,
                    "error_code": event.error_code,
                    "model": event.model,
                },
                key_id=event.key_id,
                end_user=event.end_user,
                at=event.at,
            )
        ]

    def _domains(self, event: UsageEvent) -> frozenset[str] | None:
        """The domains of a prohibited attempt, or None when ``event`` is not one."""
        flagged = event.flagged
        banned = flagged & self.settings.prohibited
        outright = event.error_code == "prohibited_content"
        not_entitled = frozenset[str]()
        if event.error_code == "purpose_not_entitled":
            not_entitled = (event.categories & DUAL_USE) - event.entitled
        if not (banned or outright or not_entitled):
            return None
        domains = banned | ((flagged & DUAL_USE) - event.entitled)
        if outright:
            # Refused as prohibited: any dual-use domain flagged may be the reason.
            domains |= flagged & DUAL_USE
        return domains
