"""Sealing small secrets at rest (TOTP seeds) with AES-256-GCM under a key derived from
the server secret, bound to the row they belong to."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class Sealer:
    def __init__(self, server_secret: bytes, purpose: bytes) -> None:
        key = hmac.new(server_secret, b"clearance seal: " + purpose, hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, bound_to: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], bound_to.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise ValueError("sealed value does not open with this server secret") from exc
