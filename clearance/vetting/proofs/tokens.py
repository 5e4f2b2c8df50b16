"""Challenge tokens: random, URL-safe, and stored only as a keyed hash.

A token is shown once to the applicant (to publish in DNS or on the website, or sent in
an e-mail link); the database keeps :func:`token_digest` of it, so a leaked table does
not let anyone complete a challenge.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32
"""Random bytes per token: 256 bits, 43 URL-safe characters."""

TXT_PREFIX = "clearance-verification="
"""What precedes the token in the DNS TXT record."""

MIN_KEY_BYTES = 16

_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{22,128}")  # 22 characters carry >= 128 bits


def new_token() -> str:
    """A fresh challenge token: 256 bits from :mod:`secrets`, URL-safe base64."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_well_formed(token: str) -> bool:
    """Whether ``token`` could have come from :func:`new_token` (or a longer variant)."""
    return _WELL_FORMED.fullmatch(token) is not None


def expected_txt(token: str) -> str:
    """The exact text the DNS TXT record must hold: ``clearance-verification=<token>``."""
    return TXT_PREFIX + token


def token_digest(key: bytes, token: str) -> str:
    """HMAC-SHA256 of ``token`` under ``key``, hex: what is stored instead of the token."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the token key must be at least {MIN_KEY_BYTES} bytes")
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


def token_matches(key: bytes, token: str, digest: str) -> bool:
    """Whether ``token`` hashes to ``digest``, compared in constant time."""
    expected = token_digest(key, token).encode("ascii")
    return hmac.compare_digest(expected, digest.encode("utf-8"))
