"""The common data model every list importer produces, and the error they raise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

EntryKind = Literal["organization", "person", "vessel", "aircraft", "unknown"]
ListFormat = Literal["csl", "sdn", "ftm"]

ENTRY_KINDS: frozenset[str] = frozenset(get_args(EntryKind))
LIST_FORMATS: tuple[str, ...] = get_args(ListFormat)


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed party, whatever list it came from.

    ``source`` is the importer ("csl", "sdn", "ftm"); ``entry_id`` is stable within
    that source; ``countries`` are upper-case ISO 3166-1 alpha-2 codes where one could
    be derived; ``list_name`` is the list the party is on, as the source names it.
    """

    source: str
    entry_id: str
    kind: EntryKind
    name: str
    aliases: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    list_name: str = ""
    remarks: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the aliases: everything a match can hit."""
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file an import read, with the SHA-256 of its bytes."""

    path: Path
    sha256: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The entries of one list snapshot and the files they came from.

    ``sha256`` identifies the snapshot: the digest of the single file for CSL and
    FtM; for the SDN set (several files) a digest over each file's name and digest.
    """

    format: ListFormat
    entries: tuple[ListEntry, ...]
    files: tuple[SourceFile, ...]
    sha256: str


class ListFormatError(ValueError):
    """A list file is not in the format it claims to be in.

    The message names the file, the line (or record) and what is wrong, e.g.
    ``csl.csv, line 7: expected 29 columns, found 28``.
    """

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        line: int | None = None,
        record: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.problem = problem
        self.line = line
        self.record = record
        where = [str(self.path)]
        if line is not None:
            where.append(f"line {line}")
        if record is not None:
            where.append(f"record {record}")
        super().__init__(f"{', '.join(where)}: {problem}")
