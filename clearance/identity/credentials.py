"""Secret credentials: API keys (``clr_…``) and operator tokens (``clro_…``).

A credential is ``<prefix>_<32 random base62 characters><6 check characters>``. The
check characters are a CRC-32 of everything before them, so a secret scanner (or this
module) can tell a real credential from a random string without a database. The first
8 random characters form the *lookup*: stored in clear, unique, shown in listings, and
used to find the record. The full credential is stored only as HMAC-SHA256 under the
server secret and compared in constant time.
"""

from __future__ import annotations

import hmac
import zlib
from dataclasses import dataclass

from clearance.ids import ALPHABET, random_base62

API_KEY_PREFIX = "clr"
OPERATOR_TOKEN_PREFIX = "clro"  # noqa: S105 (a prefix, not a secret)
BODY_LENGTH = 32
CHECK_LENGTH = 6
LOOKUP_LENGTH = 8
_ALPHABET_SET = frozenset(ALPHABET)


class MalformedCredential(ValueError):
    """Looks like one of ours (right prefix) but cannot be a credential we issued."""


@dataclass(frozen=True, slots=True)
class Credential:
    value: str
    lookup: str


def _check(text: str) -> str:
    number = zlib.crc32(text.encode())
    digits = []
    for _ in range(CHECK_LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def generate(prefix: str) -> Credential:
    head = f"{prefix}_{random_base62(BODY_LENGTH)}"
    value = head + _check(head)
    return Credential(value=value, lookup=value[: len(prefix) + 1 + LOOKUP_LENGTH])


def parse(value: str, prefix: str) -> Credential | None:
    """The credential in ``value``; ``None`` if it is not of this kind at all.

    Raises :class:`MalformedCredential` for a value with our prefix that we cannot
    have issued (wrong length, characters or check), so callers fail closed.
    """
    start = f"{prefix}_"
    if not value.startswith(start):
        return None
    rest = value[len(start) :]
    if len(rest) != BODY_LENGTH + CHECK_LENGTH or not _ALPHABET_SET.issuperset(rest):
        raise MalformedCredential("credential has the wrong length or characters")
    head = value[: len(start) + BODY_LENGTH]
    if not hmac.compare_digest(_check(head), rest[BODY_LENGTH:]):
        raise MalformedCredential("credential check characters do not match")
    return Credential(value=value, lookup=value[: len(start) + LOOKUP_LENGTH])


def keyed_hash(server_secret: bytes, value: str) -> bytes:
    return hmac.digest(server_secret, value.encode(), "sha256")


def matches(server_secret: bytes, value: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(keyed_hash(server_secret, value), stored_hash)
