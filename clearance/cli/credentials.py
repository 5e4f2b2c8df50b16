"""Where ``clearance login`` keeps the operator token the CLI then acts with.

One file per OS user and installation: ``~/.config/clearance/tokens/<installation>``,
mode 0600 in directories of mode 0700. Not in the data directory: ``secrets/`` is
copied to every replica, and a person's sign-in must not travel with it. The
``<installation>`` part is derived from the installation's server secret (an HMAC,
which tells nothing about it), so every data directory of one installation — the
replicas of one PostgreSQL database — finds the same sign-in, while an installation
made anew (``init --force``) finds none.

``CLEARANCE_TOKEN``, when set, wins over the file (``settings.operator_token``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
from pathlib import Path

from clearance import installation
from clearance.errors import SetupError
from clearance.settings import Settings

TOKENS_DIR = Path(".config") / "clearance" / "tokens"
"""Under the home directory."""


def token_file(settings: Settings) -> Path:
    """The file holding this OS user's sign-in to the installation of ``settings``."""
    secret = installation.read_server_secret(settings)
    name = hmac.new(secret, b"clearance cli token file", hashlib.sha256).hexdigest()[:16]
    try:
        home = Path.home()
    except RuntimeError:
        raise SetupError(
            "cannot tell your home directory, where 'clearance login' keeps its token; "
            "use 'clearance login --print' and CLEARANCE_TOKEN"
        ) from None
    return home / TOKENS_DIR / name


def read(path: Path) -> str | None:
    """The stored token, or None if there is none. Refuses one others may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"cannot read the stored sign-in {path}: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise SetupError(
            f"{path} holds an operator token but others may read it: "
            f"run 'chmod 600 {path}', or 'clearance login' again"
        )
    return text or None


def store(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` (mode 0600, replacing any there), atomically: a
    reader sees the old token or the new one, never part of one, and never a file
    that others could read."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise SetupError(f"cannot store the sign-in token in {path}: {exc}") from None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def check_writable(path: Path) -> None:
    """Fail now, before anyone signs in, if ``path`` could not be written later."""
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise SetupError(f"cannot create {directory} to keep the sign-in token: {exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SetupError(f"cannot write to {directory}, where the sign-in token is kept")
