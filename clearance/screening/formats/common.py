"""Helpers the list importers share: reading bytes as text, tidying cells."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from clearance.screening.entries import ListFormatError


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a `ListFormatError` saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ListFormatError(path, "file not found") from None
    except IsADirectoryError:
        raise ListFormatError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise ListFormatError(path, f"cannot be read ({exc.strerror})") from None


def decode(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else latin-1, which never fails."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_multi(cell: str, separator: str = ";") -> list[str]:
    """The non-empty, stripped parts of a multi-valued cell ("a; b; c")."""
    return [part.strip() for part in cell.split(separator) if part.strip()]


def unique(values: Iterable[str], *, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """Stripped, non-empty values in first-seen order, without duplicates.

    Values equal to one in ``exclude`` are dropped (case-sensitively: an alias that
    differs from the name only in case is still informative to a reader)."""
    seen: dict[str, None] = dict.fromkeys(v.strip() for v in exclude)
    out: list[str] = []
    for value in values:
        text = " ".join(value.split())
        if text and text not in seen:
            seen[text] = None
            out.append(text)
    return tuple(out)
