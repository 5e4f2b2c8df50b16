"""Identifiers: a short type prefix and random base62 text (``org_3fK9…``)."""

from __future__ import annotations

import secrets
import string

ALPHABET = string.digits + string.ascii_letters


def random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}_{random_base62(length)}"
