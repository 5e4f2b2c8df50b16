"""The exceptions services raise; the edges (admin API, CLI, gateway) turn them into
their own error shapes.

    ClearanceError
    ├── NotFound            the named thing does not exist
    ├── AlreadyExists       a unique name or id is taken
    ├── InvalidInput        a value breaks a rule; ``field`` names it when known
    ├── NotAllowed          the actor may not do this
    ├── InvalidState        the thing exists but is in the wrong state for this
    └── SetupError          the installation is missing or broken (no data dir, no key)
"""

from __future__ import annotations


class ClearanceError(Exception):
    """Base of every error Clearance raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ClearanceError):
    pass


class AlreadyExists(ClearanceError):
    pass


class InvalidInput(ClearanceError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAllowed(ClearanceError):
    pass


class InvalidState(ClearanceError):
    pass


class SetupError(ClearanceError):
    pass
