"""The base of every audit event: its encoding, and which of its fields are private.

An event is encoded as RFC 8785 canonical JSON (keys sorted, no insignificant white
space, one number format), so the same event always yields the same bytes and hence the
same Merkle leaf hash. The encoding is ``{"kind", "v", "time", "actor", ...fields}``;
field names never change meaning within a version.

Each kind also names its *private* fields: what the public log must not show (names of
organizations and people, e-mail addresses, reasons and other free text, source
addresses, alert summaries, screening matches, webhook URLs). Ids, kinds, statuses,
roles, times, counts and digests stay public: they are what lets anyone check the log's
shape and the usage digests. The published entry commits to each private value instead
of holding it (``clearance.audit.commitments``); an event with no private field is
published exactly as encoded, at no extra cost.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

import rfc8785

from clearance.audit.acting import via_for
from clearance.audit.commitments import Opening, commit


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-27T15:56:16.123456Z``. (Spelled out
    rather than ``strftime``, at half the cost: every usage row's leaf hash needs one.)"""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return (
        f"{value.year}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    kind: ClassVar[str]
    version: ClassVar[int] = 1
    private: ClassVar[tuple[str, ...]] = ()
    """Fields the public log shows only as commitments (see the module docstring)."""

    actor: str
    """Who did it: ``operator:<id>``, ``local:<os user>`` for the CLI, or ``system``."""

    def document(self, at: datetime) -> dict[str, Any]:
        """The event in clear as JSON data: ``{"kind", "v", "time", "actor", ...}``."""
        body: dict[str, Any] = {"kind": self.kind, "v": self.version, "time": format_time(at)}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = format_time(value)
            elif isinstance(value, tuple):
                value = list(value)
            body[field.name] = value
        via = via_for(self.actor)
        if via is not None:  # the operator's token or session that acted
            body["via"] = via
        return body

    def encode(self, at: datetime) -> bytes:
        """The event in clear, canonical: what an opened entry reads as."""
        return rfc8785.dumps(self.document(at))

    def encode_entry(self, at: datetime) -> tuple[bytes, Opening | None]:
        """The entry to publish and hash into the tree, and its opening (``None`` when
        the kind has nothing private: the entry is then the event in clear)."""
        if not self.private:
            return self.encode(at), None
        return commit(self.document(at), self.private)
