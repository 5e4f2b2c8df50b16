"""The in-process rate limiter: exact sliding windows and calendar quotas in memory.

Requests per minute count admissions over the last 60 seconds, kept in 10 ms slots,
and admit while fewer than the limit fall within them — so a limit of N lets exactly
N through in any window (its edge rounded to 10 ms), in at most 6,000 slots however
busy the counter. Tokens per minute work the same way with token counts. Quotas reset at the
start of each UTC day and month. State is per process: with several workers or
replicas, use the shared (Redis) limiter.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clearance.limits.interfaces import Admission, Counter, Refusal
from clearance.limits.models import Limits

WINDOW = 60.0
SLOTS_PER_SECOND = 100
WINDOW_SLOTS = int(WINDOW * SLOTS_PER_SECOND)


class _Window:
    """Amounts over the last minute, as [slot, amount] pairs (slot = 10 ms since the
    epoch) in time order, and their total."""

    __slots__ = ("_slots", "total")

    def __init__(self) -> None:
        self._slots: deque[list[int]] = deque()
        self.total = 0

    def __bool__(self) -> bool:
        return bool(self._slots)

    def add(self, t: float, amount: int) -> None:
        slot = math.floor(t * SLOTS_PER_SECOND)
        if self._slots and self._slots[-1][0] == slot:
            self._slots[-1][1] += amount
        else:
            self._slots.append([slot, amount])
        self.total += amount

    def expire(self, t: float) -> None:
        edge = math.floor(t * SLOTS_PER_SECOND) - WINDOW_SLOTS
        while self._slots and self._slots[0][0] <= edge:
            self.total -= self._slots.popleft()[1]

    def seconds_until_room(self, t: float) -> int:
        """Until the oldest amount leaves the window."""
        if not self._slots:
            return 1
        return max(1, math.ceil((self._slots[0][0] + WINDOW_SLOTS) / SLOTS_PER_SECOND - t))


@dataclass
class _State:
    requests: _Window = field(default_factory=_Window)
    tokens: _Window = field(default_factory=_Window)
    in_flight: int = 0
    day_end: float = 0.0
    """When the current UTC day ends (a timestamp)."""
    day_tokens: int = 0
    month_end: float = 0.0
    month_tokens: int = 0
    quota: bool = False
    """Some limit on this counter is a quota (its token totals must be kept)."""

    def expire(self, t: float) -> None:
        self.requests.expire(t)
        self.tokens.expire(t)

    def roll(self, t: float) -> None:
        if t >= self.day_end:
            self.day_tokens, self.day_end = 0, _next_day(t)
        if t >= self.month_end:
            self.month_tokens, self.month_end = 0, _next_month(t)


def _next_day(t: float) -> float:
    today = datetime.fromtimestamp(t, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=1)).timestamp()


def _next_month(t: float) -> float:
    first = datetime.fromtimestamp(t, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1).timestamp()


PRUNE_EVERY = 10_000


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._states: dict[Counter, _State] = {}
        self._admitted = 0

    def _state(self, counter: Counter, t: float) -> _State:
        state = self._states.get(counter)
        if state is None:
            state = self._states[counter] = _State()
        state.expire(t)
        state.roll(t)
        return state

    def _check(self, counter: Counter, limits: Limits, state: _State, t: float) -> Refusal | None:
        name = f"{counter.scope} {counter.id}"
        if limits.monthly_tokens is not None and state.month_tokens >= limits.monthly_tokens:
            return Refusal(
                "quota_exhausted",
                f"The monthly token quota of {name} is used up.",
                max(1, math.ceil(state.month_end - t)),
            )
        if limits.daily_tokens is not None and state.day_tokens >= limits.daily_tokens:
            return Refusal(
                "quota_exhausted",
                f"The daily token quota of {name} is used up.",
                max(1, math.ceil(state.day_end - t)),
            )
        if limits.rpm is not None and state.requests.total >= limits.rpm:
            return Refusal(
                "rate_limited",
                f"{name} may make {limits.rpm} requests a minute.",
                state.requests.seconds_until_room(t),
            )
        if limits.tpm is not None and state.tokens.total >= limits.tpm:
            return Refusal(
                "rate_limited",
                f"{name} may use {limits.tpm} tokens a minute.",
                state.tokens.seconds_until_room(t),
            )
        if limits.concurrency is not None and state.in_flight >= limits.concurrency:
            return Refusal(
                "rate_limited", f"{name} may have {limits.concurrency} requests in flight.", 1
            )
        return None

    def admit(self, checks: list[tuple[Counter, Limits]], now: datetime) -> Admission | Refusal:
        t = now.timestamp()
        states = [self._state(counter, t) for counter, _ in checks]
        for (counter, limits), state in zip(checks, states, strict=True):
            refusal = self._check(counter, limits, state, t)
            if refusal is not None:
                return refusal
        for (_, limits), state in zip(checks, states, strict=True):
            if limits.rpm is not None:
                state.requests.add(t, 1)
            state.in_flight += 1
            state.quota |= limits.daily_tokens is not None or limits.monthly_tokens is not None
        self._admitted += 1
        if self._admitted % PRUNE_EVERY == 0:
            self._prune(t)
        return Admission(tuple(checks))

    def _prune(self, t: float) -> None:
        """Forget counters with nothing left to remember (memory stays flat however
        many end users come and go); quota counters live until their period ends."""
        for counter in list(self._states):
            state = self._states[counter]
            state.expire(t)
            if not (state.in_flight or state.requests or state.tokens or state.quota):
                del self._states[counter]

    def release(self, admission: Admission, tokens: int, now: datetime) -> None:
        t = now.timestamp()
        for counter, _ in admission.counters:
            state = self._state(counter, t)
            state.in_flight = max(0, state.in_flight - 1)
            if tokens:
                state.tokens.add(t, tokens)
                state.day_tokens += tokens
                state.month_tokens += tokens

    def seed(self, counter: Counter, day_tokens: int, month_tokens: int, now: datetime) -> None:
        state = self._state(counter, now.timestamp())
        state.day_tokens += day_tokens
        state.month_tokens += month_tokens
