"""Automatic enforcement rules: "N findings of a detector about one subject within a
window take an action on that subject".

Configured as the ``monitor_rules`` setting, a list of objects; the default is::

    {"name": "prohibited-3-in-1h", "detector": "prohibited", "count": 3,
     "window_minutes": 60, "action": "suspend", "scope": "end_user"}

``scope`` picks the subject from the finding: ``end_user`` (findings without an end
user are not counted), ``key`` or ``organization``. A throttle rule also takes
``rpm`` and ``minutes``. A rule acts once and starts counting afresh; it never acts
on a subject that already has an active action of the same kind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from clearance.errors import InvalidInput
from clearance.monitoring.detectors.base import Finding
from clearance.monitoring.enforcement_models import ALLOWED, ActionKind, Scope

RULE_SCOPES = (Scope.END_USER, Scope.KEY, Scope.ORGANIZATION)
MAX_NAME = 64
MAX_SUBJECTS = 100_000


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    detector: str
    count: int
    window_minutes: float
    action: str
    scope: str
    rpm: int | None = None
    minutes: float | None = None

    def target(self, finding: Finding) -> str | None:
        if self.scope == Scope.END_USER:
            return finding.end_user
        if self.scope == Scope.KEY:
            return finding.key_id
        return finding.org_id


@dataclass(frozen=True, slots=True)
class Due:
    """A rule that has fired on one subject."""

    rule: Rule
    org_id: str
    target: str
    findings: int


def parse_rules(documents: Sequence[Mapping[str, Any]], detectors: Sequence[str]) -> list[Rule]:
    """Rules from settings, every field checked and converted; fails at start-up
    rather than leaving a rule that can never act."""
    rules = [
        _rule(document, f"monitor_rules[{n}]", detectors) for n, document in enumerate(documents)
    ]
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise InvalidInput("monitor_rules: rule names must be unique", "monitor_rules")
    return rules


def _rule(document: Mapping[str, Any], where: str, detectors: Sequence[str]) -> Rule:
    if not isinstance(document, Mapping):
        raise InvalidInput(f"{where}: a rule is an object", where)
    known = {f.name for f in fields(Rule)}
    unknown = sorted(set(document) - known)
    missing = sorted(known - {"rpm", "minutes"} - set(document))
    if unknown or missing:
        problem = f"unknown fields {', '.join(unknown)}" if unknown else ""
        problem += ("; " if unknown and missing else "") + (
            f"missing {', '.join(missing)}" if missing else ""
        )
        raise InvalidInput(f"{where}: {problem}", where)
    name, detector = document["name"], document["detector"]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(f"{where}: name must be 1-{MAX_NAME} characters", where)
    if detector not in detectors:
        raise InvalidInput(f"{where}: no detector {detector!r} ({', '.join(detectors)})", where)
    count = _number(document["count"], int, f"{where}.count", 1)
    window = _number(document["window_minutes"], float, f"{where}.window_minutes", 1e-3)
    try:
        kind, scope = ActionKind(document["action"]), Scope(document["scope"])
    except ValueError as exc:
        raise InvalidInput(f"{where}: {exc}", where) from None
    if scope not in RULE_SCOPES or scope not in ALLOWED[kind]:
        raise InvalidInput(f"{where}: {kind.value} cannot apply to {scope.value}", where)
    rpm = minutes = None
    if kind is ActionKind.THROTTLE:
        rpm = _number(document.get("rpm"), int, f"{where}.rpm", 1)
        minutes = _number(document.get("minutes", 60), float, f"{where}.minutes", 1)
    elif document.get("rpm") is not None or document.get("minutes") is not None:
        raise InvalidInput(f"{where}: rpm and minutes are for throttles only", where)
    return Rule(name, detector, count, window, kind.value, scope.value, rpm, minutes)


def _number(value: Any, kind: type[int] | type[float], where: str, least: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} must be a number", where)
    if kind is int and not float(value).is_integer():
        raise InvalidInput(f"{where} must be a whole number", where)
    if value < least:
        raise InvalidInput(f"{where} must be at least {least:g}", where)
    return kind(value)


class RuleBook:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = list(rules)
        self._seen: dict[tuple[str, str, str], deque[datetime]] = {}

    def consider(self, finding: Finding, at: datetime) -> list[Due]:
        """Count ``finding``; return the rules it makes fire."""
        due: list[Due] = []
        for rule in self._rules:
            target = rule.target(finding)
            if rule.detector != finding.detector or target is None or finding.org_id is None:
                continue
            subject = (rule.name, finding.org_id, target)
            times = self._seen.get(subject)
            if times is None:
                if len(self._seen) >= MAX_SUBJECTS:
                    self._seen.pop(next(iter(self._seen)))
                times = self._seen[subject] = deque()
            times.append(at)
            horizon = at - timedelta(minutes=rule.window_minutes)
            while times and times[0] < horizon:
                times.popleft()
            if len(times) >= rule.count:
                due.append(Due(rule, finding.org_id, target, len(times)))
                times.clear()
        return due
