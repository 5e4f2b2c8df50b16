"""Risk domains: the dual-use categories models are classified by, organizations are
entitled to, and content is screened for."""

from __future__ import annotations

from collections.abc import Iterable

from clearance.errors import InvalidInput

RISK_DOMAINS = ("cyber", "bio", "chem", "radnuc", "autonomy")


def purposes(values: Iterable[str], field: str = "purposes") -> tuple[str, ...]:
    """Validated, de-duplicated dual-use purposes, in a stable order."""
    chosen = {value.strip().lower() for value in values if value.strip()}
    unknown = sorted(chosen - set(RISK_DOMAINS))
    if unknown:
        raise InvalidInput(
            f"unknown purposes {', '.join(unknown)}; choose from {', '.join(RISK_DOMAINS)}",
            field,
        )
    return tuple(domain for domain in RISK_DOMAINS if domain in chosen)
