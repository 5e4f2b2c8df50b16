"""The US Consolidated Screening List (trade.gov), as its CSV download or its JSON.

Both forms carry the same fields; both are reduced to a `CslRecord` first so that the
same data gives the same `ListEntry` whichever form it came in.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from clearance.screening.countries import address_country, country_codes
from clearance.screening.entries import EntryKind, ListEntry, ListFormatError
from clearance.screening.formats.common import decode, split_multi, unique

COLUMNS: tuple[str, ...] = (
    "_id", "source", "entity_number", "type", "programs", "name", "title", "addresses",
    "federal_register_notice", "start_date", "end_date", "standard_order",
    "license_requirement", "license_policy", "call_sign", "vessel_type", "gross_tonnage",
    "gross_registered_tonnage", "vessel_flag", "vessel_owner", "remarks", "source_list_url",
    "alt_names", "citizenships", "dates_of_birth", "nationalities", "places_of_birth",
    "source_information_url", "ids",
)  # fmt: skip
MULTI_SEPARATOR = "; "

_KINDS: dict[str, EntryKind] = {
    "entity": "organization",
    "individual": "person",
    "vessel": "vessel",
    "aircraft": "aircraft",
}
# Lists whose entries are all organisations and which leave `type` empty.
_ENTITY_LISTS = ("entity list", "unverified list", "military end user")


@dataclass(frozen=True, slots=True)
class CslRecord:
    """The fields of one CSL row the screening model uses, already split."""

    id: str
    entity_number: str
    source: str
    type: str
    name: str
    programs: list[str]
    alt_names: list[str]
    address_countries: list[str | None]
    citizenships: list[str]
    nationalities: list[str]
    vessel_flag: str
    remarks: str


def to_entry(record: CslRecord) -> ListEntry:
    name = " ".join(record.name.split())
    entry_id = record.id or record.entity_number
    if not entry_id:
        digest = hashlib.sha256(f"{record.source}\x1f{name}".encode()).hexdigest()
        entry_id = digest[:16]
    kind = _kind(record.type, record.source)
    flags = [record.vessel_flag] if kind == "vessel" else []
    countries = unique(
        [c for c in record.address_countries if c]
        + list(country_codes([*record.citizenships, *record.nationalities, *flags]))
    )
    return ListEntry(
        source="csl",
        entry_id=entry_id,
        kind=kind,
        name=name,
        aliases=unique(record.alt_names, exclude=[name]),
        countries=countries,
        programs=unique(record.programs),
        list_name=record.source.strip(),
        remarks=record.remarks.strip(),
    )


def _kind(type_: str, source: str) -> EntryKind:
    kind = _KINDS.get(type_.strip().lower())
    if kind is not None:
        return kind
    if not type_.strip() and any(name in source.lower() for name in _ENTITY_LISTS):
        return "organization"
    return "unknown"


def parse_csv(path: Path, data: bytes) -> list[ListEntry]:
    reader = csv.reader(io.StringIO(decode(data), newline=""))
    header = next(reader, None)
    if header is None:
        raise ListFormatError(path, "the file is empty; expected the CSL CSV header", line=1)
    _check_header(path, header)
    entries: list[ListEntry] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            raise ListFormatError(
                path,
                f"expected {len(COLUMNS)} columns, found {len(row)}",
                line=reader.line_num,
            )
        cells = dict(zip(COLUMNS, row, strict=True))
        if not cells["name"].strip():
            raise ListFormatError(path, "the name column is empty", line=reader.line_num)
        entries.append(to_entry(_csv_record(cells)))
    return entries


def _check_header(path: Path, header: list[str]) -> None:
    cleaned = [cell.strip() for cell in header]
    if tuple(cleaned) == COLUMNS:
        return
    if len(cleaned) != len(COLUMNS):
        problem = f"the header has {len(cleaned)} columns, the CSL CSV has {len(COLUMNS)}"
    else:
        index = next(i for i, (a, b) in enumerate(zip(cleaned, COLUMNS, strict=True)) if a != b)
        problem = f"header column {index + 1} is {cleaned[index]!r}, expected {COLUMNS[index]!r}"
    raise ListFormatError(path, f"not a Consolidated Screening List CSV: {problem}", line=1)


def _csv_record(cells: dict[str, str]) -> CslRecord:
    return CslRecord(
        id=cells["_id"].strip(),
        entity_number=cells["entity_number"].strip(),
        source=cells["source"],
        type=cells["type"],
        name=cells["name"],
        programs=split_multi(cells["programs"], MULTI_SEPARATOR),
        alt_names=split_multi(cells["alt_names"], MULTI_SEPARATOR),
        address_countries=[
            address_country(a) for a in split_multi(cells["addresses"], MULTI_SEPARATOR)
        ],
        citizenships=split_multi(cells["citizenships"], MULTI_SEPARATOR),
        nationalities=split_multi(cells["nationalities"], MULTI_SEPARATOR),
        vessel_flag=cells["vessel_flag"],
        remarks=cells["remarks"],
    )


def parse_json(path: Path, data: bytes) -> list[ListEntry]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        line = data[: exc.pos].count(b"\n") + 1
        raise ListFormatError(path, f"invalid JSON: {exc.msg}", line=line) from None
    if isinstance(document, dict):
        results = document.get("results")
        if not isinstance(results, list):
            raise ListFormatError(path, 'expected a "results" list in the JSON object')
    elif isinstance(document, list):
        results = document
    else:
        raise ListFormatError(path, "expected a JSON object with results, or a list")
    entries: list[ListEntry] = []
    for number, item in enumerate(results, start=1):
        if not isinstance(item, dict):
            raise ListFormatError(path, "expected a JSON object", record=number)
        entries.append(to_entry(_json_record(path, number, item)))
    return entries


def _json_record(path: Path, number: int, item: dict[str, Any]) -> CslRecord:
    def text(key: str) -> str:
        value = item.get(key)
        if value is None:
            return ""
        if isinstance(value, str | int):
            return str(value)
        raise ListFormatError(path, f"{key!r} must be a string", record=number)

    def texts(key: str) -> list[str]:
        value = item.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return split_multi(value, MULTI_SEPARATOR)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value if v.strip()]
        raise ListFormatError(path, f"{key!r} must be a list of strings", record=number)

    name = text("name")
    if not name.strip():
        raise ListFormatError(path, "the name is missing or empty", record=number)
    return CslRecord(
        id=(text("id") or text("_id")).strip(),
        entity_number=text("entity_number").strip(),
        source=text("source"),
        type=text("type"),
        name=name,
        programs=texts("programs"),
        alt_names=texts("alt_names"),
        address_countries=_json_address_countries(path, number, item.get("addresses")),
        citizenships=texts("citizenships"),
        nationalities=texts("nationalities"),
        vessel_flag=text("vessel_flag"),
        remarks=text("remarks"),
    )


def _json_address_countries(path: Path, number: int, value: object) -> list[str | None]:
    if value is None:
        return []
    if isinstance(value, str):
        return [address_country(a) for a in split_multi(value, MULTI_SEPARATOR)]
    if not isinstance(value, list):
        raise ListFormatError(path, "'addresses' must be a list", record=number)
    countries: list[str | None] = []
    for address in value:
        if isinstance(address, str):
            countries.append(address_country(address))
        elif isinstance(address, dict):
            country = address.get("country")
            countries.append(address_country(country) if isinstance(country, str) else None)
        else:
            raise ListFormatError(path, "each address must be an object or a string", record=number)
    return countries
