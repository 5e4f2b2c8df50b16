"""Hiding commitments to an audit entry's sensitive fields, and opening them.

Why: the log is public (``/log/``) so that anyone can check it was never rewritten,
but some of what it records is not for everyone — organizations' and people's names,
reasons and free text, sign-in addresses, alert summaries, screening matches. So each
event kind names its private fields (``AuditEvent.private``), and the entry that is
hashed into the tree and published carries, for each, a keyed digest instead of the
value. The tree still commits to the value (it commits to the digest, and the digest
binds the value), anyone can still check the log's shape, and whoever is shown the
value — operators and auditors, behind authentication — can check it is the one the
log committed to.

The computation (scheme 1), for an entry with private fields:

* ``N``: 32 random bytes, fresh for each entry (never a server-wide key: equal values
  in two entries give unrelated digests, and without ``N`` no one can test guesses at
  a short value such as an IP address);
* for each private field named ``f`` (its UTF-8 bytes) with value ``x`` (the JSON value
  the entry would otherwise hold, in RFC 8785 canonical form, ``JCS(x)``):
  ``K_f = HMAC-SHA256(key=N, msg=f)`` and ``C_f = HMAC-SHA256(key=K_f, msg=JCS(x))``;
* the published entry is the entry with each such ``f`` replaced by
  ``{"commitment": "<lowercase hex of C_f>"}`` and one more member,
  ``"committed": [the names f, sorted]``, all in RFC 8785 canonical form.

An entry without ``"committed"`` holds every field in clear (every entry written before
commitments existed, and every kind with nothing private). The opening of an entry is
``N`` and its private values; ``K_f`` alone opens the one field ``f`` and nothing else,
so one value can be disclosed without making the others guessable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785

NONCE_SIZE = 32
COMMITTED = "committed"
"""The published entry's member listing its committed fields."""
COMMITMENT = "commitment"
"""The one member of a committed field's placeholder object."""
OPENING = "opening"
"""The member ``opened_event`` adds for operators: the nonce and whether it verified."""
RESERVED = frozenset({"kind", "v", "time", "actor", COMMITTED, OPENING})
"""Entry members that can never be private: what every reader needs, and our markers."""


class OpeningMismatch(ValueError):
    """An opening does not open this entry: a value, the nonce or the field set differs."""


@dataclass(frozen=True, slots=True)
class Opening:
    """What opens one entry: its nonce, and its private fields' cleartext values as the
    canonical JSON of one object (field name → value), as stored in ``audit_openings``."""

    nonce: bytes
    values: bytes

    def document(self) -> dict[str, Any]:
        """The opening as JSON, for handing to an auditor: ``{"nonce": hex, "values": {…}}``."""
        return {"nonce": self.nonce.hex(), "values": orjson.loads(self.values)}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Opening:
        return cls(bytes.fromhex(document["nonce"]), rfc8785.dumps(document["values"]))

    @classmethod
    def of(cls, nonce: bytes, values: Mapping[str, Any]) -> Opening:
        return cls(nonce, rfc8785.dumps(dict(values)))


def field_key(nonce: bytes, name: str) -> bytes:
    """``K_f``: the key that opens field ``name`` of the entry with ``nonce``, alone."""
    return hmac.digest(nonce, name.encode(), hashlib.sha256)


def commitment(key: bytes, value: Any) -> str:
    """``C_f`` in hex: the commitment to ``value`` (a JSON value) under ``K_f``."""
    return hmac.digest(key, rfc8785.dumps(value), hashlib.sha256).hex()


def verify_field(placeholder: Any, key: bytes, value: Any) -> bool:
    """Whether ``{"commitment": …}`` commits to ``value`` under the field key ``key``."""
    if not isinstance(placeholder, dict) or set(placeholder) != {COMMITMENT}:
        return False
    given = placeholder[COMMITMENT]
    return isinstance(given, str) and hmac.compare_digest(given, commitment(key, value))


def commit(
    document: Mapping[str, Any], private: Iterable[str], nonce: bytes | None = None
) -> tuple[bytes, Opening]:
    """The published (canonical) entry for ``document`` with ``private`` committed, and
    its opening. ``nonce`` is for tests and known-answer vectors only."""
    nonce = secrets.token_bytes(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a commitment nonce is {NONCE_SIZE} bytes")
    names = sorted(set(private))
    public = dict(document)
    values: dict[str, Any] = {}
    for name in names:
        if name in RESERVED or name not in document:
            raise ValueError(f"{name!r} cannot be a private field of this entry")
        values[name] = document[name]
        public[name] = {COMMITMENT: commitment(field_key(nonce, name), document[name])}
    public[COMMITTED] = names
    return rfc8785.dumps(public), Opening.of(nonce, values)


def committed_fields(public: Mapping[str, Any]) -> list[str]:
    """The fields a parsed published entry commits to (none for a cleartext entry)."""
    names = public.get(COMMITTED, [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise OpeningMismatch(f"the entry's {COMMITTED!r} member is not a list of names")
    return names


def _open(public: dict[str, Any], opening: Opening) -> dict[str, Any]:
    names = committed_fields(public)
    values = orjson.loads(opening.values)
    if not isinstance(values, dict) or set(values) != set(names):
        raise OpeningMismatch(
            f"the opening has fields {sorted(values) if isinstance(values, dict) else values!r}"
            f" where the entry commits to {sorted(names)}"
        )
    clear = {key: value for key, value in public.items() if key != COMMITTED}
    for name in names:
        if not verify_field(public.get(name), field_key(opening.nonce, name), values[name]):
            raise OpeningMismatch(f"the value of {name!r} is not the one the entry commits to")
        clear[name] = values[name]
    return clear


def open_entry(public_body: bytes, opening: Opening) -> dict[str, Any]:
    """The entry in clear: ``public_body`` (the bytes the log serves and hashes) with
    each committed field replaced by its value from ``opening``, checked against its
    commitment, and without the ``committed`` marker — exactly the event as it would
    have been logged in clear. Raises :class:`OpeningMismatch` if anything differs."""
    public = orjson.loads(public_body)
    if not isinstance(public, dict):
        raise OpeningMismatch("the entry is not a JSON object")
    return _open(public, opening)


def verify_opening(public_body: bytes, opening: Opening) -> bool:
    """Whether ``opening`` opens the published entry ``public_body``."""
    try:
        open_entry(public_body, opening)
    except (OpeningMismatch, orjson.JSONDecodeError, TypeError):
        return False
    return True


def opened_event(public_body: bytes, opening: Opening | None) -> dict[str, Any]:
    """An entry as operators and auditors read it (admin API, CLI).

    A cleartext entry is returned as is. A committed one, opened and verified, is the
    cleartext event plus ``committed`` (which fields the public log hides) and
    ``opening: {"nonce": hex, "verified": true}`` — with which anyone holding the
    public entry can repeat the check. When the opening is missing (erased) or does
    not verify, the values are *not* substituted: the entry stays as published, with
    ``opening`` null or ``{"verified": false, "nonce": …, "claimed": {…}}``.
    """
    public: dict[str, Any] = orjson.loads(public_body)
    if COMMITTED not in public:
        return public
    if opening is None:
        return public | {OPENING: None}
    try:
        clear = _open(public, opening)
    except (OpeningMismatch, orjson.JSONDecodeError, TypeError):
        return public | {
            OPENING: {"verified": False, "nonce": opening.nonce.hex(), "claimed": _claimed(opening)}
        }
    return clear | {
        COMMITTED: public[COMMITTED],
        OPENING: {"nonce": opening.nonce.hex(), "verified": True},
    }


def _claimed(opening: Opening) -> Any:
    """What a failed opening claims, for an operator to look at: never substituted."""
    try:
        return orjson.loads(opening.values)
    except orjson.JSONDecodeError:
        return opening.values.decode("utf-8", errors="replace")
