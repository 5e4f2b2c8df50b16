"""OFAC's legacy SDN CSV set: ``sdn.csv`` with ``alt.csv`` and ``add.csv`` beside it.

None of the files has a header row. ``-0-`` marks an empty cell; a file may end with
a DOS end-of-file character (``\\x1a``) on a line of its own.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from clearance.screening.countries import country_code, country_codes
from clearance.screening.entries import EntryKind, ListEntry, ListFormatError
from clearance.screening.formats.common import decode, unique

LIST_NAME = "Specially Designated Nationals (SDN) - Treasury Department"
SDN_COLUMNS = (
    "ent_num", "SDN_Name", "SDN_Type", "Program", "Title", "Call_Sign", "Vess_type",
    "Tonnage", "GRT", "Vess_flag", "Vess_owner", "Remarks",
)  # fmt: skip
ALT_COLUMNS = ("ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks")
ADD_COLUMNS = ("ent_num", "add_num", "address", "city_state_postal", "country", "add_remarks")
EMPTY = "-0-"

_KINDS: dict[str, EntryKind] = {
    "individual": "person",
    "vessel": "vessel",
    "aircraft": "aircraft",
    "": "organization",
}
_NATIONALITY = re.compile(r"\b(?:nationality|citizen)\s*:?\s+([A-Za-z][A-Za-z ,'.-]*?)\s*[;.]")


@dataclass
class _Party:
    ent_num: str
    name: str
    kind: EntryKind
    programs: list[str]
    remarks: str
    aliases: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)


def clean(cell: str) -> str:
    """A cell's text with ``-0-`` (the SDN files' empty marker) turned into ""."""
    text = cell.strip()
    return "" if text == EMPTY else text


def reorder_person(name: str) -> str | None:
    """``"LAST, First"`` written ``"First LAST"``; None when the name has no comma."""
    last, sep, first = name.partition(",")
    if not sep or not last.strip() or not first.strip():
        return None
    return f"{first.strip()} {last.strip()}"


def companions(path: Path) -> tuple[Path, Path]:
    """Where ``alt.csv`` and ``add.csv`` belong for the ``sdn.csv`` at ``path``."""
    return path.with_name("alt.csv"), path.with_name("add.csv")


def parse(
    path: Path, data: bytes, alt_data: bytes | None = None, add_data: bytes | None = None
) -> list[ListEntry]:
    """The entries of ``sdn.csv`` (``data``), with aliases from ``alt.csv`` and
    countries from ``add.csv`` (their bytes, or None when the file is absent)."""
    parties: dict[str, _Party] = {}
    for line, row in _rows(path, data, SDN_COLUMNS):
        ent_num, name, sdn_type, program = (clean(c) for c in row[:4])
        if not name:
            raise ListFormatError(path, "SDN_Name is empty", line=line)
        kind = _KINDS.get(sdn_type.lower())
        if kind is None:
            raise ListFormatError(path, f"unknown SDN_Type {sdn_type!r}", line=line)
        if ent_num in parties:
            raise ListFormatError(path, f"ent_num {ent_num} appears twice", line=line)
        remarks = clean(row[11])
        party = _Party(ent_num, " ".join(name.split()), kind, _programs(program), remarks)
        party.countries.extend(country_codes(_NATIONALITY.findall(remarks + ";")))
        if kind == "vessel" and (flag := country_code(clean(row[9]))):
            party.countries.append(flag)
        parties[ent_num] = party
    alt_path, add_path = companions(path)
    if alt_data is not None:
        _read_aliases(alt_path, alt_data, parties)
    if add_data is not None:
        _read_addresses(add_path, add_data, parties)
    return [_entry(party) for party in parties.values()]


def _entry(party: _Party) -> ListEntry:
    names = list(party.aliases)
    if party.kind == "person":
        reordered = [reorder_person(n) for n in [party.name, *party.aliases]]
        names = [*[r for r in reordered[:1] if r], *names, *[r for r in reordered[1:] if r]]
    return ListEntry(
        source="sdn",
        entry_id=party.ent_num,
        kind=party.kind,
        name=party.name,
        aliases=unique(names, exclude=[party.name]),
        countries=unique(party.countries),
        programs=unique(party.programs),
        list_name=LIST_NAME,
        remarks=party.remarks,
    )


def _programs(cell: str) -> list[str]:
    # "[SDGT] [IRGC]" is written without the outer brackets: "SDGT] [IRGC".
    return [p.strip(" []") for p in cell.split("] [") if p.strip(" []")]


def _read_aliases(path: Path, data: bytes, parties: dict[str, _Party]) -> None:
    for line, row in _rows(path, data, ALT_COLUMNS):
        name = clean(row[3])
        if not name:
            raise ListFormatError(path, "alt_name is empty", line=line)
        party = parties.get(clean(row[0]))
        if party is not None:  # an alias of an entry not in sdn.csv has nothing to join
            party.aliases.append(name)


def _read_addresses(path: Path, data: bytes, parties: dict[str, _Party]) -> None:
    for _line, row in _rows(path, data, ADD_COLUMNS):
        party = parties.get(clean(row[0]))
        code = country_code(clean(row[4]))
        if party is not None and code is not None:
            party.countries.append(code)


def _rows(path: Path, data: bytes, columns: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(line number, cells) for each record, after checking the column count and
    that ``ent_num`` is a number."""
    reader = csv.reader(io.StringIO(decode(data), newline=""))
    rows: list[tuple[int, list[str]]] = []
    for row in reader:
        if not any(cell.strip(" \t\r\n\x1a") for cell in row):
            continue  # blank line or the trailing end-of-file marker
        line = reader.line_num
        if len(row) != len(columns):
            raise ListFormatError(
                path,
                f"expected {len(columns)} columns ({', '.join(columns)}), found {len(row)}",
                line=line,
            )
        if not clean(row[0]).isdigit():
            raise ListFormatError(path, f"ent_num {row[0].strip()!r} is not a number", line=line)
        rows.append((line, row))
    return rows
