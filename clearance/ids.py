"""Identifiers: a short type prefix and random base62 text (``org_3fK9…``)."""

from __future__ import annotations

import os
import string

ALPHABET = string.digits + string.ascii_letters
# Bytes below this map onto the alphabet without bias (248 = 62 * 4).
_UNBIASED = 256 - 256 % len(ALPHABET)


def random_base62(length: int) -> str:
    """``length`` characters from the OS's CSPRNG, read in one call (this runs per
    request on the hot path)."""
    out: list[str] = []
    while len(out) < length:
        out.extend(ALPHABET[b % 62] for b in os.urandom(length + 8) if b < _UNBIASED)
    return "".join(out[:length])


def new_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}_{random_base62(length)}"
