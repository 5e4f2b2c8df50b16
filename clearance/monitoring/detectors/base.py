"""What detectors see (one usage event, enriched) and what they report (findings).

A detector is a small object with its own settings, fed every usage event in order
by the monitor (``observe``). It keeps whatever windows it needs in memory, bounded,
and returns the findings the event completes — usually none. Detectors never act:
findings become alerts, and rules decide on enforcement.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from clearance.content import signals
from clearance.errors import InvalidInput

DUAL_USE = frozenset(signals.DUAL_USE)
"""The dual-use domains an organization must be entitled to before asking about them."""
MAX_SUBJECTS = 100_000
"""Default cap on the subjects (orgs, keys, users) one detector keeps state for."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One gateway request as the monitor sees it."""

    request_id: str
    at: datetime
    org_id: str
    key_id: str
    end_user: str | None
    source_ip: str | None
    country: str | None
    """ISO code of the country ``source_ip`` is registered in, when known."""
    tier: int | None
    """That country's jurisdiction tier for the model (3 is blocked), when known."""
    model: str | None
    status_code: int
    error_code: str | None
    categories: frozenset[str] = frozenset()
    """Signals the inline stage flagged (these reached policy)."""
    deep: frozenset[str] | None = None
    """Signals the deep stage flagged; None when it could not read the text."""
    entitled: frozenset[str] = frozenset()
    """The dual-use purposes the organization is entitled to for this model."""
    jailbreak_score: float | None = None
    """The deep stage's jailbreak score, when it read the text."""

    @property
    def flagged(self) -> frozenset[str]:
        """Every signal either stage flagged."""
        return self.categories | (self.deep or frozenset())

    @property
    def refused(self) -> bool:
        return self.status_code in (400, 403) and self.error_code is not None


@dataclass(frozen=True, slots=True)
class Finding:
    detector: str
    severity: Severity
    org_id: str | None
    """None: a finding about the installation itself (its monitor's health), which no
    enforcement rule acts on."""
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    """Facts only (counts, ids, countries, scores) — never request content."""
    key_id: str | None = None
    end_user: str | None = None
    at: datetime | None = None


class Detector(Protocol):
    name: str

    def observe(self, event: UsageEvent) -> list[Finding]:
        """Take in one event (events arrive in order); return what it completes."""
        ...


class Subjects(Generic[K, V]):
    """Per-subject state, for at most ``cap`` subjects: when full, the subject seen least
    recently is forgotten. ``forget_idle`` drops subjects not seen since a time."""

    def __init__(self, factory: Callable[[], V], cap: int) -> None:
        self._factory = factory
        self._cap = cap
        self._items: OrderedDict[K, tuple[datetime, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, at: datetime) -> V:
        """The state of ``key`` (new if unknown), marked as seen at ``at``."""
        item = self._items.pop(key, None)
        state = self._factory() if item is None else item[1]
        self._items[key] = (at, state)
        while len(self._items) > self._cap:
            self._items.popitem(last=False)
        return state

    def forget_idle(self, before: datetime) -> None:
        while self._items:
            key, (seen, _) = next(iter(self._items.items()))
            if seen >= before:
                return
            del self._items[key]


class Cooldowns(Generic[K]):
    """Subjects recently reported on, each quiet for ``length`` after a finding; expired
    entries are dropped as time moves, and at most ``cap`` are kept."""

    def __init__(self, length: timedelta, cap: int) -> None:
        self._length = length
        self._cap = cap
        self._until: OrderedDict[K, datetime] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def ready(self, key: K, at: datetime) -> bool:
        """Whether ``key`` may be reported at ``at``."""
        # Events arrive in order and the length is fixed, so the oldest end comes first.
        while self._until and next(iter(self._until.values())) <= at:
            self._until.popitem(last=False)
        return key not in self._until

    def start(self, key: K, at: datetime) -> None:
        self._until.pop(key, None)
        self._until[key] = at + self._length
        while len(self._until) > self._cap:
            self._until.popitem(last=False)


def check_settings(settings: object, *, may_be_zero: tuple[str, ...] = ()) -> None:
    """Refuse settings whose numbers are not positive (or, for ``may_be_zero``, are
    negative); raises InvalidInput naming the field."""
    for item in fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, item.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if item.name in may_be_zero and value < 0:
            raise InvalidInput(f"{item.name} must be 0 or more", item.name)
        if item.name not in may_be_zero and not value > 0:
            raise InvalidInput(f"{item.name} must be greater than 0", item.name)


def span(minutes: float) -> str:
    """A window length for a summary: "24 h", "10 min"."""
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"
