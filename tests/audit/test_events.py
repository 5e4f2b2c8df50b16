"""Audit events' time spelling: one spelling per instant, whatever zone it came in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from clearance.audit.events import format_time


def test_times_are_spelled_as_strftime_spells_them_in_utc() -> None:
    rng = random.Random(6)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    instants = [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC)]
    instants += [
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(2**62 // 1000))
        for _ in range(2000)
    ]
    for instant in instants:
        for zone in zones:
            if instant.year < 2 and zone.utcoffset(None) > timedelta(0):
                continue  # out of datetime's range in that zone
            value = instant.astimezone(zone) if instant.year > 1 else instant
            expected = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            assert format_time(value) == expected
    assert format_time(datetime(2026, 11, 27, 15, 56, 16, 123456, tzinfo=UTC)) == (
        "2026-11-27T15:56:16.123456Z"
    )
