"""C2SP signed notes: the format, parsing, signing and opening.

Implements c2sp.org/signed-note ("Format", "Signatures"). The keys that sign and
verify (Ed25519, type 0x01, and tlog-cosignature/v1, type 0x04) are in
:mod:`clearance.audit.tlog.keys`; anything with the :class:`NoteSigner` /
:class:`NoteVerifier` shape works here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
SIGNATURE_PREFIX = "\u2014 "


class NoteError(ValueError):
    """Base class for signed-note failures."""


class MalformedNoteError(NoteError):
    """The note does not follow the signed-note format."""


class InvalidSignatureError(NoteError):
    """A signature from a known key failed to verify."""


class UnverifiedNoteError(NoteError):
    """No signature from a known key was present."""


class KeyFormatError(NoteError):
    """A key name, verifier key or signer key string is invalid."""


def decode_base64(encoded: str) -> bytes:
    """Decode standard padded base64 (RFC 4648 §4), accepting only the canonical form."""
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64: {exc}") from None
    # Non-zero padding bits decode fine but would make one value have several spellings.
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise ValueError("non-canonical base64")
    return raw


def check_key_name(name: str) -> None:
    """Key names are non-empty UTF-8 without Unicode spaces, '+' or control characters."""
    if not name:
        raise KeyFormatError("key name is empty")
    if any(ch == "+" or ch.isspace() or ch < " " for ch in name):
        raise KeyFormatError(f"key name {name!r} contains a space, '+' or control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise KeyFormatError(f"key name {name!r} is not valid UTF-8") from None


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line; ``signature`` excludes the 4-byte key ID prefix."""

    name: str
    key_id: int
    signature: bytes
    timestamp: int | None = None
    """Cosignature time (POSIX seconds) once verified by a cosignature verifier."""

    @property
    def identity(self) -> str:
        """``name+hexid``, how keys are referred to in logs and configuration."""
        return f"{self.name}+{self.key_id:08x}"

    def to_line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class OpenedNote:
    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]
    """Signatures from unknown keys, ignored as the spec requires."""


class NoteVerifier(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> int: ...
    def verify(self, text: bytes, signature: bytes) -> bool: ...
    def timestamp(self, signature: bytes) -> int | None: ...


class NoteSigner(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> int: ...
    def sign(self, text: str) -> str: ...


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (which must end in a newline) with every signer, in order."""
    if not signers:
        raise ValueError("a note needs at least one signer")
    return check_text(text) + "\n" + "".join(signer.sign(text) for signer in signers)


def parse_note(note: str | bytes) -> tuple[str, tuple[NoteSignature, ...]]:
    """Split a note into its text and signatures WITHOUT verifying anything.

    The text must be ignored unless a trusted signature verifies: use ``open_note``.
    """
    note = _decode_note(note)
    if not note.endswith("\n"):
        raise MalformedNoteError("note does not end in a newline")
    # Text may contain blank lines; signature lines cannot, so the last one separates.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    lines = note[split + 2 : -1].split("\n") if note[split + 2 :] else []
    if not lines:
        raise MalformedNoteError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return note[: split + 1], tuple(_parse_signature_line(line) for line in lines)


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Verify a note against trusted keys per signed-note "Signatures".

    Unknown keys are ignored; a known key with a bad signature, a repeated
    known signature, or no verified known signature rejects the note.
    """
    known: dict[tuple[str, int], NoteVerifier] = {}
    for candidate in verifiers:
        if (candidate.name, candidate.key_id) in known:
            raise ValueError(f"two verifiers share name and key ID {candidate.name}")
        known[candidate.name, candidate.key_id] = candidate
    text, signatures = parse_note(note)
    body = text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    for signature in signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        if any(seen.identity == signature.identity for seen in verified):
            raise MalformedNoteError(f"repeated signature from {signature.identity}")
        if not verifier.verify(body, signature.signature):
            raise InvalidSignatureError(f"signature from {signature.identity} does not verify")
        verified.append(replace(signature, timestamp=verifier.timestamp(signature.signature)))
    if not verified:
        raise UnverifiedNoteError("note has no verified signature from a known key")
    return OpenedNote(text, tuple(verified), tuple(unverified))


def _decode_note(note: str | bytes) -> str:
    try:
        text = note.decode("utf-8") if isinstance(note, bytes) else note
        text.encode("utf-8")
    except UnicodeError:
        raise MalformedNoteError("note is not valid UTF-8") from None
    if any(ch < " " and ch != "\n" for ch in text):
        raise MalformedNoteError("note contains a control character other than newline")
    return text


def check_text(text: str) -> str:
    """``text`` as note text: valid, no control characters, ending in a newline."""
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end in a newline")
    return _decode_note(text)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line does not start with an em dash: {line!r}")
    name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    try:
        check_key_name(name)
        raw = decode_base64(encoded)
    except ValueError as exc:
        raise MalformedNoteError(f"bad signature line {line!r}: {exc}") from None
    if len(raw) < 5:
        raise MalformedNoteError(f"signature line {line!r} is too short")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])
