"""What a limit is, and where limits are declared.

An organization's entitlement to a model carries limits per *scope*: ``organization``
(all its use of that model), ``key``, ``owner`` (the member or service account a key
belongs to) and ``end_user``. A model may carry limits of its own across everyone who
uses it. Written as ``scope.limit=value``, e.g. ``key.rpm=60`` or
``organization.daily_tokens=2000000``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from clearance.errors import InvalidInput

SCOPES = ("organization", "key", "owner", "end_user")


@dataclass(frozen=True, slots=True)
class Limits:
    rpm: int | None = None
    """Requests in any 60 seconds."""
    tpm: int | None = None
    """Tokens in any 60 seconds (counted when each response ends)."""
    concurrency: int | None = None
    """Requests in flight at once."""
    daily_tokens: int | None = None
    """Tokens per UTC day."""
    monthly_tokens: int | None = None
    """Tokens per UTC calendar month."""

    def any(self) -> bool:
        return (
            self.rpm is not None
            or self.tpm is not None
            or self.concurrency is not None
            or self.daily_tokens is not None
            or self.monthly_tokens is not None
        )

    def document(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_document(cls, document: Any, where: str = "limits") -> Limits:
        if document is None:
            return cls()
        if not isinstance(document, dict):
            raise InvalidInput(f"{where} must be a mapping of limit to number", where)
        names = {f.name for f in fields(cls)}
        values: dict[str, int] = {}
        for name, value in document.items():
            if name not in names:
                raise InvalidInput(
                    f"{where}: unknown limit {name!r}; use {', '.join(sorted(names))}", where
                )
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"{where}.{name} must be a whole number ≥ 0", where)
            values[name] = value
        return cls(**values)


def scoped_from_document(document: Any, where: str = "limits") -> dict[str, Limits]:
    """``{scope: {limit: n}}`` -> limits by scope."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidInput(f"{where} must map scopes to limits", where)
    unknown = sorted(set(document) - set(SCOPES))
    if unknown:
        raise InvalidInput(f"{where}: unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}", where)
    return {
        scope: Limits.from_document(value, f"{where}.{scope}") for scope, value in document.items()
    }


def parse_assignments(assignments: list[str]) -> dict[str, dict[str, int]]:
    """``["key.rpm=60", "organization.daily_tokens=1000"]`` -> a scoped document."""
    document: dict[str, dict[str, int]] = {}
    for assignment in assignments:
        target, sep, value = assignment.partition("=")
        scope, dot, name = target.strip().partition(".")
        if not sep or not dot or not value.strip().isdigit():
            raise InvalidInput(
                f"{assignment!r} is not SCOPE.LIMIT=NUMBER (e.g. key.rpm=60)", "limits"
            )
        document.setdefault(scope, {})[name] = int(value)
    scoped_from_document(document)  # validate
    return document
