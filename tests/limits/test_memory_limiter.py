"""The in-process limiter's sliding windows, against a brute-force count: a request is
admitted exactly when fewer than N admissions fall in the minute before it (that
minute's edge rounded to 10 ms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.limits.interfaces import Admission, Counter
from clearance.limits.memory import MemoryRateLimiter
from clearance.limits.models import Limits

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
COUNTER = Counter("key", "key_1", "model")


@settings(max_examples=60, deadline=None)
@given(
    rpm=st.integers(min_value=1, max_value=5),
    gaps=st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=60),
)
def test_rpm_admits_exactly_when_the_window_has_room(rpm: int, gaps: list[int]) -> None:
    limiter = MemoryRateLimiter()
    admitted: list[int] = []  # milliseconds since START
    now_ms = 0
    for gap in gaps:
        now_ms += gap
        now = START + timedelta(milliseconds=now_ms)
        result = limiter.admit([(COUNTER, Limits(rpm=rpm))], now)
        # Admissions whose 10 ms slot is still inside the minute ending now.
        edge = (now_ms // 10) - 6000
        in_window = [a for a in admitted if a // 10 > edge]
        if isinstance(result, Admission):
            assert len(in_window) < rpm
            admitted.append(now_ms)
            limiter.release(result, 0, now)
        else:
            assert len(in_window) >= rpm
            oldest_leaves_ms = ((in_window[0] // 10) + 6000) * 10
            assert result.retry_after == max(1, -(-(oldest_leaves_ms - now_ms) // 1000))


def test_a_busy_counter_keeps_a_bounded_window() -> None:
    limiter = MemoryRateLimiter()
    limits = Limits(rpm=10**9, tpm=10**12)
    for n in range(200_000):  # 200,000 requests in 20 seconds
        now = START + timedelta(microseconds=100 * n)
        admission = limiter.admit([(COUNTER, limits)], now)
        assert isinstance(admission, Admission)
        limiter.release(admission, 10, now)
    state = limiter._states[COUNTER]
    assert state.requests.total == 200_000
    assert state.tokens.total == 2_000_000
    assert len(state.requests._slots) <= 2_000  # one per 10 ms, not one per request
