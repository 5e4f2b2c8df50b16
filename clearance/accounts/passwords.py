"""Passwords: argon2id hashes, and what counts as strong enough."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from clearance.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256
_COMMON = frozenset(
    {
        "password1234",
        "passwordpassword",
        "123456789012",
        "qwertyuiopas",
        "letmeinletmein",
        "administrator",
        "correcthorsebatterystaple",
    }
)


class Passwords:
    """Hashing with argon2id; the cost parameters come from settings."""

    def __init__(self, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (``stored`` is None)."""
        if stored is None:
            self._hasher.hash(password)  # spend the same time as a real check
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_strength(password: str, account_name: str) -> None:
    """Refuse passwords that are short, common, or contain the account name."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_LENGTH} characters", "password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must be at most {MAX_LENGTH} characters", "password")
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) < 5:
        raise InvalidInput("password is too common or too repetitive", "password")
    name = account_name.lower().split("@")[0]
    if len(name) >= 4 and name in lowered:
        raise InvalidInput("password must not contain the account name", "password")


def generate() -> str:
    """A random initial password (shown once; about 119 bits)."""
    alphabet = string.ascii_letters + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))
