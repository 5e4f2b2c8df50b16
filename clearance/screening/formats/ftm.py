"""OpenSanctions FollowTheMoney entities, one JSON object a line.

Only parties are kept (people, organisations, vessels, aircraft); the other schemata
in a FtM export (Address, Sanction, Ownership, Directorship, ...) describe relations
between parties and are skipped, as are parties that carry no name at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from clearance.screening.countries import country_codes
from clearance.screening.entries import EntryKind, ListEntry, ListFormatError
from clearance.screening.formats.common import decode, unique

PARTY_SCHEMATA: dict[str, EntryKind] = {
    "Person": "person",
    "Organization": "organization",
    "Company": "organization",
    "PublicBody": "organization",
    "LegalEntity": "unknown",  # a person or an organisation: FtM does not say which
    "Vessel": "vessel",
    "Airplane": "aircraft",
}
NAME_PROPERTIES = ("name", "alias", "previousName", "weakAlias")
COUNTRY_PROPERTIES = ("country", "jurisdiction", "nationality", "citizenship", "flag")


def parse(path: Path, data: bytes) -> list[ListEntry]:
    entries: list[ListEntry] = []
    for number, line in enumerate(decode(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ListFormatError(path, f"invalid JSON: {exc.msg}", line=number) from None
        if not isinstance(item, dict):
            raise ListFormatError(path, "expected a JSON object (an entity)", line=number)
        entry = _entry(path, number, item)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(path: Path, line: int, item: dict[str, Any]) -> ListEntry | None:
    entity_id = item.get("id")
    schema = item.get("schema")
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise ListFormatError(path, 'the entity has no "id"', line=line)
    if not isinstance(schema, str) or not schema:
        raise ListFormatError(path, f'entity {entity_id} has no "schema"', line=line)
    kind = PARTY_SCHEMATA.get(schema)
    if kind is None:
        return None
    properties = item.get("properties", {})
    if not isinstance(properties, dict):
        raise ListFormatError(
            path, f'entity {entity_id}: "properties" must be an object', line=line
        )

    def values(prop: str) -> list[str]:
        value = properties.get(prop, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ListFormatError(
                path, f"entity {entity_id}: property {prop!r} must be a list of strings", line=line
            )
        return value

    names = unique(v for prop in NAME_PROPERTIES for v in values(prop))
    caption = item.get("caption")
    caption = " ".join(caption.split()) if isinstance(caption, str) else ""
    primary = caption if caption in names or (caption and not names) else ""
    primary = primary or (names[0] if names else "")
    if not primary:
        return None
    datasets = item.get("datasets", [])
    return ListEntry(
        source="ftm",
        entry_id=entity_id.strip(),
        kind=kind,
        name=primary,
        aliases=unique(names, exclude=[primary]),
        countries=country_codes(v for prop in COUNTRY_PROPERTIES for v in values(prop)),
        programs=unique(values("program")),
        list_name=", ".join(d for d in datasets if isinstance(d, str)),
        remarks="; ".join(unique(values("notes"))),
    )
