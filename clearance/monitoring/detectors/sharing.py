"""Credential sharing: one API key used from too many places at once.

Keys are issued to a vetted organization for its own systems. A key that shows up from
many countries, or from many unrelated networks, within a few minutes has most likely
been shared, leaked or resold — which defeats vetting entirely. Per key, over a sliding
window (10 minutes by default), this counts the distinct countries requests came from
and the distinct networks (IPv4 /24, IPv6 /48 — one office or one cloud subnet counts
once). ``max_countries`` or more countries is high severity; otherwise
``max_networks`` or more networks is medium (a fleet of cloud workers can look like
this legitimately). At most one finding per key per ``cooldown_minutes``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

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

KEEP = 32
"""Distinct countries and networks kept per key (at least the thresholds)."""


@dataclass(frozen=True, slots=True)
class SharingSettings:
    enabled: bool = True
    window_minutes: float = 10.0
    max_countries: int = 5
    max_networks: int = 20
    cooldown_minutes: float = 10.0
    max_subjects: int = MAX_SUBJECTS

    def __post_init__(self) -> None:
        check_settings(self)


@functools.lru_cache(maxsize=65_536)  # a few addresses make most of the traffic
def network(source_ip: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address; None if it is not one."""
    if source_ip is None:
        return None
    try:
        address = ipaddress.ip_address(source_ip.strip())
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        prefix = 24 if address.version == 4 else 48
        return str(ipaddress.ip_interface(f"{address.exploded}/{prefix}").network)
    except ValueError:
        return None


class _Places:
    """Where one key was seen: each country and network with when it was last seen."""

    __slots__ = ("countries", "networks")

    def __init__(self) -> None:
        self.countries: OrderedDict[str, datetime] = OrderedDict()
        self.networks: OrderedDict[str, datetime] = OrderedDict()


def _sight(
    seen: OrderedDict[str, datetime], value: str | None, at: datetime, since: datetime, keep: int
) -> None:
    if value is not None:
        seen.pop(value, None)
        seen[value] = at
    while seen and (len(seen) > keep or next(iter(seen.values())) < since):
        seen.popitem(last=False)


class CredentialSharing:
    name: str = "credential_sharing"

    def __init__(self, settings: SharingSettings | None = None) -> None:
        self.settings = settings = settings or SharingSettings()
        self._window = timedelta(minutes=settings.window_minutes)
        self._keys: Subjects[str, _Places] = Subjects(_Places, settings.max_subjects)
        self._cooldowns: Cooldowns[str] = Cooldowns(
            timedelta(minutes=settings.cooldown_minutes), settings.max_subjects
        )

    @property
    def tracked(self) -> int:
        """Keys with sightings in memory."""
        return len(self._keys)

    def observe(self, event: UsageEvent) -> list[Finding]:
        settings, at = self.settings, event.at
        since = at - self._window
        self._keys.forget_idle(since)
        places = self._keys.get(event.key_id, at)
        _sight(places.countries, event.country, at, since, max(settings.max_countries, KEEP))
        _sight(
            places.networks, network(event.source_ip), at, since, max(settings.max_networks, KEEP)
        )
        countries, networks = sorted(places.countries), len(places.networks)
        if len(countries) >= settings.max_countries:
            severity = Severity.HIGH
            summary = f"key used from {len(countries)} countries in {span(settings.window_minutes)}"
            summary += f": {', '.join(countries)}"
        elif networks >= settings.max_networks:
            severity = Severity.MEDIUM
            summary = f"key used from {networks} networks in {span(settings.window_minutes)}"
        else:
            return []
        if not self._cooldowns.ready(event.key_id, at):
            return []
        self._cooldowns.start(event.key_id, at)
        return [
            Finding(
                detector=self.name,
                severity=severity,
                org_id=event.org_id,
                summary=summary,
                evidence={
                    "countries": countries,
                    "network_count": networks,
                    "window_minutes": settings.window_minutes,
                    "request_id": event.request_id,
                },
                key_id=event.key_id,
                at=at,
            )
        ]
