"""Read a restricted-party list from a local file: ``load(path, "csl" | "sdn" | "ftm")``.

``load_snapshot`` also returns the SHA-256 of what was read, so a caller can record
which version of a list a screening decision used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from clearance.screening.entries import (
    LIST_FORMATS,
    ImportResult,
    ListEntry,
    ListFormat,
    ListFormatError,
    SourceFile,
)
from clearance.screening.formats import csl, ftm, sdn
from clearance.screening.formats.common import read_bytes, sha256_hex

__all__ = ["load", "load_snapshot", "sniff_csl"]

_BOM = b"\xef\xbb\xbf"


def sniff_csl(data: bytes) -> str:
    """ "json" when the first non-space byte opens a JSON object or array, else "csv"."""
    head = data.removeprefix(_BOM).lstrip()[:1]
    return "json" if head in (b"{", b"[") else "csv"


def load(path: Path | str, format: ListFormat | str) -> list[ListEntry]:
    """The entries of the list in ``path``, in file order.

    Raises `ListFormatError` (a `ValueError`) naming the file and line or record when
    the file is missing, unreadable or not in ``format``.
    """
    return list(load_snapshot(path, format).entries)


def load_snapshot(path: Path | str, format: ListFormat | str) -> ImportResult:
    """Like `load`, with the SHA-256 of every file read.

    For "sdn", ``path`` is ``sdn.csv``; ``alt.csv`` and ``add.csv`` are read from the
    same directory when present and are part of the snapshot digest.
    """
    path = Path(path)
    data = read_bytes(path)
    files = [SourceFile(path, sha256_hex(data))]
    if format == "csl":
        entries = (
            csl.parse_json(path, data) if sniff_csl(data) == "json" else csl.parse_csv(path, data)
        )
        fmt: ListFormat = "csl"
    elif format == "sdn":
        extras: list[bytes | None] = []
        for extra in sdn.companions(path):
            extra_data = read_bytes(extra) if extra.is_file() else None
            if extra_data is not None:
                files.append(SourceFile(extra, sha256_hex(extra_data)))
            extras.append(extra_data)
        entries = sdn.parse(path, data, *extras)
        fmt = "sdn"
    elif format == "ftm":
        entries = ftm.parse(path, data)
        fmt = "ftm"
    else:
        raise ListFormatError(
            path, f"unknown list format {format!r}; expected one of {', '.join(LIST_FORMATS)}"
        )
    return ImportResult(fmt, tuple(entries), tuple(files), _snapshot_digest(files))


def _snapshot_digest(files: list[SourceFile]) -> str:
    if len(files) == 1:
        return files[0].sha256
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.path.name}\t{file.sha256}\n".encode())
    return digest.hexdigest()
