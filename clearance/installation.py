"""The data directory: creating it (``clearance init``) and reading its secrets.

Layout::

    <data dir>/
      clearance.toml            settings (see clearance.settings)
      clearance.db              the SQLite database (embedded mode)
      secrets/                  0700
        server-secret           0600, 32 random bytes, hex: keys API keys' HMAC
        log-signing-key         0600, Ed25519 signer key in signed-note form; its name
                                is the audit log's origin
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from clearance.audit.tlog.keys import Signer
from clearance.audit.tlog.note import KeyFormatError, check_key_name
from clearance.errors import SetupError
from clearance.settings import CONFIG_FILE_NAME, Settings

CONFIG_TEMPLATE = """\
# Clearance settings. Every key can also be set as an environment variable
# CLEARANCE_<KEY>, which wins over this file. See the README for the full list.

# database_url = "postgresql+asyncpg://user@127.0.0.1:5432/clearance"
# host = "127.0.0.1"
# port = 8080
"""


def _write_secret(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def create(
    settings: Settings, log_origin: str, database_url: str | None = None, force: bool = False
) -> None:
    """Create the data directory with fresh secrets. Refuses to touch an existing one
    unless ``force``, which deletes it first."""
    try:
        check_key_name(log_origin)
    except KeyFormatError as exc:
        raise SetupError(f"log origin {log_origin!r} cannot name a signing key: {exc}") from None
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        if not force:
            raise SetupError(
                f"{data_dir} already exists and is not empty; use --force to replace it "
                "(this deletes its database and keys)"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.secrets_dir.mkdir(mode=0o700, exist_ok=True)
    if settings.is_sqlite and database_url is None:
        # SQLite gives its -wal and -shm files the database file's mode: create it
        # private before the first connection does.
        os.close(os.open(settings.data_dir / "clearance.db", os.O_CREAT | os.O_WRONLY, 0o600))
    _write_secret(settings.server_secret_file, secrets.token_hex(32) + "\n")
    _write_secret(settings.log_signing_key_file, Signer.generate(log_origin).to_skey() + "\n")
    config = data_dir / CONFIG_FILE_NAME
    if not config.exists():
        lines = [CONFIG_TEMPLATE]
        if database_url:
            lines.append(f"database_url = {_toml_string(database_url)}\n")
        config.write_text("".join(lines))


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def read_server_secret(settings: Settings) -> bytes:
    path = settings.server_secret_file
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise SetupError(
            f"{settings.data_dir} is not an initialized Clearance data directory "
            f"(no {path.name}); run 'clearance init --data-dir {settings.data_dir}' first"
        ) from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise SetupError(f"{path} is corrupt: it must hold 64 hex characters") from None
    if len(secret) != 32:
        raise SetupError(f"{path} is corrupt: it must hold 64 hex characters")
    return secret


def read_log_signer(settings: Settings) -> Signer:
    path = settings.log_signing_key_file
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise SetupError(f"the audit log signing key {path} is missing") from None
    try:
        return Signer.from_skey(text)
    except KeyFormatError as exc:
        raise SetupError(f"{path} is not a valid signer key: {exc}") from None
