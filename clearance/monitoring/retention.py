"""Keeping request content per each model's retention rule, and purging it.

* ``none`` — nothing is kept (the default).
* ``digest`` — a keyed digest (HMAC-SHA256 under a key derived from the server
  secret): an investigator can confirm that a given text was sent, never read one.
* ``encrypted`` — the text, sealed with AES-256-GCM (bound to its request id) under
  the content key from settings (``content_key_file``, 64 hex characters) or, when
  that is not set, a key derived from the server secret; kept ``days`` days.

Rows past their time are deleted by :meth:`ContentStore.purge` (hourly in the server,
and ``clearance monitor purge``). Raw content is read back only through break-glass.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clearance.db.database import Database
from clearance.db.schema import UTCDateTime, metadata
from clearance.errors import SetupError
from clearance.registry.models import Retention

content_table = sa.Table(
    "usage_content",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("model", sa.String(128), nullable=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("kept_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True, index=True),
)
_content = content_table.c
_NONCE = 12


def read_content_key(path: Path | None, server_secret: bytes) -> bytes:
    """The AES-256 key for encrypted content."""
    if path is None:
        return hmac.new(server_secret, b"clearance content key", hashlib.sha256).digest()
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise SetupError(f"content_key_file {path}: cannot read a hex key ({exc})") from None
    if len(key) != 32:
        raise SetupError(f"content_key_file {path}: the key must be 64 hex characters")
    return key


class ContentStore:
    def __init__(self, db: Database, content_key: bytes, server_secret: bytes) -> None:
        self._db = db
        self._aead = AESGCM(content_key)
        self._digest_key = hmac.new(server_secret, b"clearance content digest", hashlib.sha256)

    def digest(self, text: str) -> bytes:
        mac = self._digest_key.copy()
        mac.update(text.encode())
        return mac.digest()

    def row(
        self, request_id: str, model: str | None, rule: Retention, text: str, now: datetime
    ) -> dict[str, Any] | None:
        """What to keep of ``text`` under ``rule`` (None: nothing)."""
        if rule.mode == "digest":
            data = self.digest(text)
        elif rule.mode == "encrypted":
            nonce = os.urandom(_NONCE)
            data = nonce + self._aead.encrypt(nonce, text.encode(), request_id.encode())
        else:
            return None
        expires = now + timedelta(days=rule.days) if rule.days > 0 else None
        return {
            "request_id": request_id,
            "model": model,
            "mode": rule.mode,
            "data": data,
            "kept_at": now,
            "expires_at": expires,
        }

    async def lookup(self, request_id: str) -> bytes | None:
        """The raw content of an encrypted request (break-glass only), or None."""
        async with self._db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(_content.mode, _content.data).where(_content.request_id == request_id)
                )
            ).first()
        if row is None or row.mode != "encrypted":
            return None
        data = bytes(row.data)
        try:
            return self._aead.decrypt(data[:_NONCE], data[_NONCE:], request_id.encode())
        except InvalidTag:
            raise SetupError(
                "stored content does not open with the configured content key"
            ) from None

    async def purge(self, now: datetime) -> int:
        async with self._db.transaction() as conn:
            done = await conn.execute(
                content_table.delete().where(
                    _content.expires_at.is_not(None) & (_content.expires_at <= now)
                )
            )
        return int(done.rowcount or 0)
