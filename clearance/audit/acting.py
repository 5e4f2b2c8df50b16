"""Which credential an operator acted with, for the audit entries of the request.

Services take the actor (``operator:<id>``) and write it into the entries they append;
separation of duties compares actors, so the actor stays the person. The credential —
``token:<id>`` or ``session:<id>`` — is set here for the length of one request or
command, and every entry appended meanwhile by that actor records it as ``via``: which
of an operator's tokens did what is then in the log too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_acting: ContextVar[tuple[str, str] | None] = ContextVar("clearance_acting", default=None)


@contextmanager
def acting(actor: str, via: str) -> Iterator[None]:
    """Within the block, ``actor``'s entries record ``via``."""
    token = _acting.set((actor, via))
    try:
        yield
    finally:
        _acting.reset(token)


def via_for(actor: str) -> str | None:
    """The credential ``actor`` acts with in this request, if known."""
    current = _acting.get()
    return current[1] if current is not None and current[0] == actor else None
