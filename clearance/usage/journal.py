"""The usage journal: a usage record made durable in microseconds, on SQLite.

Committing each record to SQLite costs ~80 µs and writes five 4 KiB pages (the table
and its indexes) to SQLite's log: 40 MB a second at 2,000 requests a second, whose
checkpoints then stall commits for tens of milliseconds. Instead each record is
appended to a journal file with one ``write()`` — from then on it survives the
process being killed, exactly as a SQLite commit does in WAL mode with
``synchronous=NORMAL`` (only a power loss can take back the last ones) — and the
recorder moves the journal into the database in batches, every 5 ms while records arrive.

A journal file belongs to one process, which holds an exclusive ``flock`` on it. At
start, every journal file no live process holds is replayed into the database
(idempotently: usage rows are unique by request id) and deleted. The recorder
starts a new file when the current one grows past ``ROTATE_BYTES``, and deletes the
old one once everything in it is in the database.

Each entry is a frame: payload length and CRC-32 (two little-endian ``uint32``),
then the payload, JSON ``{"r": record}`` or ``{"o": outcome}``. A frame cut short or
failing its CRC (a power loss mid-write) ends the replay of that file.

On PostgreSQL the same files, in the same directory, hold what the database could
not take while it was unreachable (see ``usage.fallback``); they are replayed the
same way.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from clearance.usage.models import UsageOutcome, UsageRecord

log = structlog.get_logger(__name__)

ROTATE_BYTES = 32 * 1024 * 1024
_HEADER = struct.Struct("<II")
_TIMES = {"started_at", "finished_at"}

Row = UsageRecord | UsageOutcome


def encode(row: Row) -> bytes:
    payload = orjson.dumps(
        {"r" if isinstance(row, UsageRecord) else "o": row}, option=orjson.OPT_UTC_Z
    )
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> Row:
    document: dict[str, Any] = orjson.loads(payload)
    ((tag, values),) = document.items()
    kind: type[Row] = UsageRecord if tag == "r" else UsageOutcome
    names = {f.name for f in fields(kind)}
    row = {name: values[name] for name in names if name in values}  # older: fewer fields
    for name in _TIMES & names:
        row[name] = datetime.fromisoformat(row[name])
    return kind(**row)


def read(data: bytes) -> tuple[list[Row], int]:
    """The rows framed in ``data``, and how many bytes at the end were unreadable."""
    rows: list[Row] = []
    at = 0
    while at + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, at)
        payload = data[at + _HEADER.size : at + _HEADER.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            break
        rows.append(_decode(payload))
        at += _HEADER.size + length
    return rows, len(data) - at


class Journal:
    """This process's journal file (opened at its first append)."""

    def __init__(self, directory: Path, suffix: str = ".journal") -> None:
        """``suffix``: another one keeps the file out of the replay (see ``orphans``)."""
        self.directory = directory
        self.suffix = suffix
        self._fd: int | None = None
        self.path: Path | None = None
        self.size = 0

    def open(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}.{time.time_ns()}{self.suffix}"
        # Locked before it takes its name: a replay never finds it unlocked, and so
        # never takes a live process's new journal for an orphan.
        unnamed = path.with_name(path.name + ".new")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        fd = os.open(unnamed, flags, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(unnamed, path)
        self._fd, self.path, self.size = fd, path, 0

    def append(self, frames: bytes) -> None:
        """Write ``frames`` (see :func:`encode`); raises ``OSError`` if they could not
        all be written."""
        if self._fd is None:
            self.open()
        assert self._fd is not None
        view = memoryview(frames)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(frames)

    def rotate(self) -> Path | None:
        """Continue in a new file; return the old one (delete it once its rows are in
        the database)."""
        old = self.path
        self.close()
        self.open()
        return old

    def detach(self) -> tuple[Path, int] | None:
        """Stop appending to the current file (the next append starts a new one) and
        hand it over, still open and so still locked: no other process replays it
        while its rows are being stored. Close the descriptor once it is deleted."""
        if self._fd is None or self.path is None:
            return None
        detached = (self.path, self._fd)
        self._fd, self.path, self.size = None, None, 0
        return detached

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
        self._fd, self.path = None, None


def orphans(directory: Path) -> Iterator[tuple[Path, list[Row]]]:
    """Journal files no live process holds, with their rows; each is locked while the
    caller handles it (delete it then)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.journal")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # another process replayed it meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process's journal
            if not path.exists():
                continue
            rows, unreadable = read(path.read_bytes())
            if unreadable:
                log.warning("usage_journal_tail_unreadable", path=str(path), bytes=unreadable)
            yield path, rows
        finally:
            os.close(fd)
