"""Ed25519 keys for signed notes (type 0x01) and tlog-cosignature/v1 cosignatures
(type 0x04, Ed25519 part of c2sp.org/tlog-cosignature).

Keys use the text encodings of golang.org/x/mod/sumdb/note: a verifier key
(vkey) is ``name+hexid+base64(type || public key)`` and a signer key is
``PRIVATE+KEY+name+hexid+base64(0x01 || 32-byte seed)``, where ``hexid`` is the
8-digit hex key ID ``SHA-256(name || 0x0A || type || public key)[:4]``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Self, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clearance.audit.tlog.note import (
    SIG_TYPE_COSIGNATURE_V1,
    SIG_TYPE_ED25519,
    KeyFormatError,
    NoteSignature,
    check_key_name,
    check_text,
    decode_base64,
)

_SIGNER_KEY_PREFIX = "PRIVATE+KEY+"
_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_MAX_TIMESTAMP = 2**63 - 1


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """Key ID: big-endian uint32 of SHA-256(name || 0x0A || type || public key)[:4]."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


@dataclass(frozen=True, slots=True)
class _Ed25519Key:
    """Shared public-key half of both verifier kinds; subclasses fix the type byte."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)
    sig_type: ClassVar[int] = SIG_TYPE_ED25519

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        """Parse ``name+hexid+base64(type || key)``, rejecting a mismatched key ID."""
        name, declared_id, sig_type, public_key = _split_key(vkey)
        _check_type(sig_type, cls.sig_type)
        verifier = cls(name, public_key)
        if verifier.key_id != declared_id:
            raise KeyFormatError(f"verifier key ID {declared_id:08x} does not match the key")
        return verifier

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != _KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key must be 32 bytes, not {len(self.public_key)}")
        try:
            parsed = Ed25519PublicKey.from_public_bytes(self.public_key)
        except ValueError as exc:
            raise KeyFormatError(f"invalid Ed25519 public key: {exc}") from None
        object.__setattr__(self, "_key", parsed)
        object.__setattr__(self, "key_id", key_id(self.name, self.sig_type, self.public_key))

    def to_vkey(self) -> str:
        material = base64.b64encode(bytes([self.sig_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def _valid(self, signature: bytes, message: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Verifier(_Ed25519Key):
    """Verifies signed-note Ed25519 signatures (type 0x01) over the note text."""

    def verify(self, text: bytes, signature: bytes) -> bool:
        return len(signature) == _ED25519_SIG_SIZE and self._valid(signature, text)

    def timestamp(self, signature: bytes) -> int | None:
        return None


@dataclass(frozen=True, slots=True)
class CosignatureVerifier(_Ed25519Key):
    """Verifies tlog-cosignature/v1 Ed25519 cosignatures (type 0x04) on a checkpoint."""

    sig_type: ClassVar[int] = SIG_TYPE_COSIGNATURE_V1

    def verify(self, text: bytes, signature: bytes) -> bool:
        stamp = self.timestamp(signature)
        if stamp is None:
            return False
        return self._valid(signature[8:], cosigned_message(text, stamp))

    def timestamp(self, signature: bytes) -> int | None:
        if len(signature) != 8 + _ED25519_SIG_SIZE:
            return None
        stamp = int.from_bytes(signature[:8], "big")
        # The spec caps timestamps at 2**63 - 1 so they fit signed 64-bit time types.
        return stamp if stamp <= _MAX_TIMESTAMP else None


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """tlog-cosignature "Ed25519 signed message": header and time lines, then the body."""
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def verifier_from_vkey(vkey: str) -> Verifier | CosignatureVerifier:
    """Parse a vkey of either supported type, chosen by its type byte."""
    sig_type = _split_key(vkey)[2]
    for kind in (Verifier, CosignatureVerifier):
        if sig_type == kind.sig_type:
            return kind.from_vkey(vkey)
    raise KeyFormatError(f"unsupported verifier key signature type 0x{sig_type:02x}")


_V = TypeVar("_V", Verifier, CosignatureVerifier)


class _Ed25519KeyPair(Generic[_V]):
    """Private key plus its verifier; the seed never appears in ``repr``."""

    __slots__ = ("_private", "_verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != _KEY_SIZE:
            raise KeyFormatError(f"Ed25519 seed must be 32 bytes, not {len(seed)}")
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        public_key = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._verifier: _V = self._make_verifier(name, public_key)

    def _make_verifier(self, name: str, public_key: bytes) -> _V:
        raise NotImplementedError

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, key_id={self.key_id:08x})"

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    def verifier(self) -> _V:
        return self._verifier


class Signer(_Ed25519KeyPair[Verifier]):
    """Ed25519 note signer (type 0x01)."""

    __slots__ = ()

    def _make_verifier(self, name: str, public_key: bytes) -> Verifier:
        return Verifier(name, public_key)

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        if not skey.startswith(_SIGNER_KEY_PREFIX):
            raise KeyFormatError("signer key must start with PRIVATE+KEY+")
        name, declared_id, sig_type, seed = _split_key(skey.removeprefix(_SIGNER_KEY_PREFIX))
        _check_type(sig_type, SIG_TYPE_ED25519)
        signer = cls(name, seed)
        if signer.key_id != declared_id:
            raise KeyFormatError(f"signer key ID {declared_id:08x} does not match the key")
        return signer

    def to_skey(self) -> str:
        material = base64.b64encode(bytes([SIG_TYPE_ED25519]) + self._private.private_bytes_raw())
        return f"{_SIGNER_KEY_PREFIX}{self.name}+{self.key_id:08x}+{material.decode()}"

    def sign(self, text: str) -> str:
        """Return the signature line (with its newline) for ``text``."""
        raw = self._private.sign(check_text(text).encode("utf-8"))
        return NoteSignature(self.name, self.key_id, raw).to_line()


class Cosigner(_Ed25519KeyPair[CosignatureVerifier]):
    """tlog-cosignature/v1 Ed25519 cosigner (type 0x04); ``text`` is a checkpoint body."""

    __slots__ = ()

    def _make_verifier(self, name: str, public_key: bytes) -> CosignatureVerifier:
        return CosignatureVerifier(name, public_key)

    def sign(self, text: str, timestamp: int | None = None) -> str:
        """Return the cosignature line; ``timestamp`` defaults to the current time."""
        stamp = int(time.time()) if timestamp is None else timestamp
        if not 0 <= stamp <= _MAX_TIMESTAMP:
            raise ValueError(f"cosignature timestamp {stamp} is out of range")
        body = check_text(text).encode("utf-8")
        raw = self._private.sign(cosigned_message(body, stamp))
        return NoteSignature(self.name, self.key_id, stamp.to_bytes(8, "big") + raw).to_line()


def _split_key(encoded: str) -> tuple[str, int, int, bytes]:
    """Parse ``name+hexid+base64(type || material)``; the base64 may itself hold '+'."""
    parts = encoded.split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("key must look like name+hexid+base64")
    name, hex_id, material = parts
    check_key_name(name)
    if len(hex_id) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in hex_id):
        raise KeyFormatError(f"key ID {hex_id!r} is not 8 hex digits")
    try:
        raw = decode_base64(material)
    except ValueError as exc:
        raise KeyFormatError(f"key material: {exc}") from None
    if not raw:
        raise KeyFormatError("key material is empty")
    return name, int(hex_id, 16), raw[0], raw[1:]


def _check_type(actual: int, expected: int) -> None:
    if actual != expected:
        raise KeyFormatError(f"expected signature type 0x{expected:02x}, got 0x{actual:02x}")
