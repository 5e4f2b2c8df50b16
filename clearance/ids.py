"""Identifiers: a short type prefix and random base62 text (``org_3fK9…``)."""

from __future__ import annotations

import base64
import os
import string

ALPHABET = string.digits + string.ascii_letters


def random_base62(length: int) -> str:
    """``length`` characters from the OS's CSPRNG (this runs per request on the hot
    path). Base64 of random bytes is uniform over 64 symbols; dropping ``+`` and ``/``
    leaves it uniform over the 62 letters and digits."""
    size = 3 * (length // 4 + 3)  # whole base64 groups, ~12 characters to spare
    while True:
        text = base64.b64encode(os.urandom(size)).translate(None, b"+/")
        if len(text) >= length:
            return text[:length].decode()


def new_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}_{random_base62(length)}"
