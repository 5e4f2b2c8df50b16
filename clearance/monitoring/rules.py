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
    rules: list[Rule] = []
    known = {f.name for f in fields(Rule)}
    for index, document in enumerate(documents):
        where = f"monitor_rules[{index}]"
        unknown = sorted(set(document) - known)
        if unknown:
            raise InvalidInput(f"{where}: unknown fields {', '.join(unknown)}", where)
        try:
            rule = Rule(**document)
            count, window = int(rule.count), float(rule.window_minutes)
            kind, scope = ActionKind(rule.action), Scope(rule.scope)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"{where}: {exc}", where) from None
        if rule.detector not in detectors:
            choices = ", ".join(detectors)
            raise InvalidInput(f"{where}: no detector {rule.detector!r} ({choices})", where)
        if scope not in RULE_SCOPES or scope not in ALLOWED[kind]:
            raise InvalidInput(f"{where}: {rule.action} cannot apply to {rule.scope}", where)
        if count < 1 or window <= 0:
            raise InvalidInput(f"{where}: count ≥ 1 and window_minutes > 0", where)
        if (kind is ActionKind.THROTTLE) != (rule.rpm is not None):
            raise InvalidInput(f"{where}: rpm is required for throttles, and only them", where)
        rules.append(rule)
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise InvalidInput("monitor_rules: rule names must be unique", "monitor_rules")
    return rules


class RuleBook:
    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = list(rules)
        self._seen: dict[tuple[str, str, str], deque[datetime]] = {}

    def consider(self, finding: Finding, at: datetime) -> list[Due]:
        """Count ``finding``; return the rules it makes fire."""
        due: list[Due] = []
        for rule in self._rules:
            target = rule.target(finding)
            if rule.detector != finding.detector or target is None:
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
