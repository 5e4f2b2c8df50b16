"""The rate-limiter contract. The in-process implementation is the default and the
test double; a shared one (Redis) comes with scaling out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clearance.limits.models import Limits


@dataclass(frozen=True, slots=True)
class Counter:
    """One thing being limited: a scope, its id, and the model (``*`` for a model's
    own limits across everyone)."""

    scope: str
    id: str
    model: str


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    """``rate_limited`` or ``quota_exhausted``."""
    message: str
    retry_after: int
    """Seconds until a retry can succeed."""


@dataclass(frozen=True)
class Admission:
    """A request let in; give it back with :meth:`RateLimiter.release`."""

    counters: tuple[tuple[Counter, Limits], ...]


class RateLimiter(Protocol):
    def admit(self, checks: list[tuple[Counter, Limits]], now: datetime) -> Admission | Refusal:
        """Check every limit; if all pass, count the request (and its concurrency) on
        each counter. Nothing is counted when any fails."""
        ...

    def release(self, admission: Admission, tokens: int, now: datetime) -> None:
        """The request ended having used ``tokens``: end its concurrency, count its
        tokens against the per-minute windows and the quotas."""
        ...

    def seed(self, counter: Counter, day_tokens: int, month_tokens: int, now: datetime) -> None:
        """Start a counter's quotas from tokens already used this day and month (from
        the usage records, after a restart)."""
        ...
