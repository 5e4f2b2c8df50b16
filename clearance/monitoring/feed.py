"""Request texts handed from the gateway to the monitor, in memory.

The gateway's screen stage leaves each request's text here, keyed by request id;
the monitor takes it when it reads that request's usage record (a few tens of
milliseconds later) for the deep stage and the model's retention rule. The feed is
bounded — by entries, characters and age — so a monitor that falls far behind, or
a record that is never written, cannot grow memory without limit: a text pushed out
is counted, and its record is still monitored from the inline stage's verdict.
"""

from __future__ import annotations

import time
from collections import OrderedDict

MAX_ENTRIES = 200_000
MAX_CHARS = 100_000_000
"""About 100-400 MB of text at most (Python stores 1-4 bytes a character)."""
MAX_AGE = 600.0
"""Seconds a text waits at most."""


class ContentFeed:
    def __init__(
        self, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_CHARS, max_age: float = MAX_AGE
    ) -> None:
        self._texts: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._chars = 0
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._max_age = max_age
        self.dropped = 0
        """Texts pushed out before the monitor took them."""

    def put(self, request_id: str, text: str) -> None:
        now = time.monotonic()
        self.take(request_id)  # a retried id replaces its text
        self._texts[request_id] = (now, text)
        self._chars += len(text)
        texts = self._texts
        while texts and (
            len(texts) > self._max_entries
            or self._chars > self._max_chars
            or next(iter(texts.values()))[0] < now - self._max_age
        ):
            _, (_, old) = texts.popitem(last=False)
            self._chars -= len(old)
            self.dropped += 1

    def peek(self, request_id: str) -> str | None:
        """The text, left in place (until the monitor has stored its verdict)."""
        found = self._texts.get(request_id)
        return found[1] if found is not None else None

    def take(self, request_id: str) -> str | None:
        found = self._texts.pop(request_id, None)
        if found is None:
            return None
        self._chars -= len(found[1])
        return found[1]

    def drain(self) -> list[tuple[str, str]]:
        """Every text, taken (oldest first)."""
        texts = [(request_id, text) for request_id, (_, text) in self._texts.items()]
        self._texts.clear()
        self._chars = 0
        return texts

    def __len__(self) -> int:
        return len(self._texts)
