"""One internal scale for dangerous capability, and the providers' own labels on it.

    0 none · 1 low · 2 medium · 3 high · 4 critical

Labels accepted (case-insensitive), per risk domain:

* the scale itself: ``0``-``4`` or ``none``/``low``/``medium``/``high``/``critical``;
* OpenAI Preparedness Framework: ``OpenAI:Low`` … ``OpenAI:Critical`` (High and
  Critical are its thresholds that require safeguards);
* Anthropic Responsible Scaling Policy: ``ASL-1`` … ``ASL-4`` (ASL-4 and above map to
  critical);
* Google DeepMind Frontier Safety Framework critical capability levels, e.g.
  ``CCL:Cyber Uplift Level 1`` (reaching a CCL is high; a second, higher CCL in the
  same domain is critical) and ``CCL:early warning`` (an alert threshold: medium).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clearance.domains import RISK_DOMAINS
from clearance.errors import InvalidInput

NAMES = ("none", "low", "medium", "high", "critical")
HIGH = 3

_OPENAI = {"low": 1, "medium": 2, "high": 3, "critical": 4}
_ASL = re.compile(r"^asl-?(\d)$")
_CCL_LEVEL = re.compile(r"level\s*(\d+)")


@dataclass(frozen=True, slots=True)
class RiskLevel:
    level: int
    """0 (none) to 4 (critical)."""
    label: str
    """The label as given (the provider's own words), for display."""

    @property
    def name(self) -> str:
        return NAMES[self.level]


def parse(domain: str, label: str | int) -> RiskLevel:
    """A provider's label (or an internal level) as a :class:`RiskLevel`."""
    if domain not in RISK_DOMAINS:
        raise InvalidInput(f"unknown risk domain {domain!r}; use {', '.join(RISK_DOMAINS)}", "risk")
    text = str(label).strip()
    lowered = text.lower()
    level = _level(lowered)
    if level is None:
        raise InvalidInput(
            f"risk.{domain}: {text!r} is not a level (0-4, none…critical, OpenAI:High, ASL-3, "
            "CCL:Cyber Uplift Level 1)",
            f"risk.{domain}",
        )
    return RiskLevel(level, text)


def _level(lowered: str) -> int | None:
    if lowered.isdigit() and int(lowered) < len(NAMES):
        return int(lowered)
    if lowered in NAMES:
        return NAMES.index(lowered)
    scheme, _, value = lowered.partition(":")
    value = value.strip()
    if scheme == "openai":
        return _OPENAI.get(value)
    if match := _ASL.match(lowered):
        return min(int(match.group(1)), 4)
    if scheme == "ccl":
        if "early warning" in value or "alert" in value:
            return 2
        if match := _CCL_LEVEL.search(value):
            return HIGH if int(match.group(1)) <= 1 else 4
    return None
