"""The exceptions services raise; the edges (admin API, CLI, gateway) turn them into
their own error shapes.

    ClearanceError
    ├── NotFound            the named thing does not exist
    ├── AlreadyExists       a unique name or id is taken
    ├── InvalidInput        a value breaks a rule; ``field`` names it when known
    ├── NotAllowed          the actor may not do this
    ├── InvalidState        the thing exists but is in the wrong state for this
    ├── AuthFailed          a sign-in, session or CSRF check failed; ``code`` says which
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


class AuthFailed(ClearanceError):
    """Authentication failed. ``status`` is 401 (who are you?), 403 (CSRF) or 423
    (locked out, with ``retry_after`` seconds)."""

    def __init__(
        self, code: str, message: str, status: int = 401, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after = retry_after


class SetupError(ClearanceError):
    pass
