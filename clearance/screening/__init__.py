"""Denied-party screening: import restricted-party lists from local files and check
names against them.

The core is pure and database-free: importers turn a local file into `ListEntry`
values (`clearance.screening.formats`), `ScreeningIndex` matches names against them
(`clearance.screening.matcher`). Nothing here downloads anything. The installation's
side — snapshots, hits awaiting adjudication, alerts — is `models`, `snapshots` and
`service`.
"""

from __future__ import annotations

from clearance.screening.entries import ImportResult, ListEntry, ListFormatError
from clearance.screening.matcher import DEFAULT_THRESHOLD, Match, ScreeningIndex

__all__ = [
    "DEFAULT_THRESHOLD",
    "ImportResult",
    "ListEntry",
    "ListFormatError",
    "Match",
    "ScreeningIndex",
]
