"""Country names and codes as lists write them, turned into ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from rigour.territories import lookup_territory


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """The upper-case alpha-2 code for a country name or code, or None.

    Accepts codes in any case ("ru", "RU"), names ("Russia", "Korea, North") and the
    names of places inside one country (a sub-national territory such as "Moscow"
    gives its country). Historic territories without an alpha-2 code give None.
    """
    text = value.strip().strip(".")
    if not text:
        return None
    territory = lookup_territory(text)
    if territory is None:
        return None
    code = territory.code
    if "-" in code:
        code = code.split("-", 1)[0]
    if len(code) != 2 or not code.isalpha():
        return None
    return code.upper()


def country_codes(values: Iterable[str]) -> tuple[str, ...]:
    """Codes for ``values`` in first-seen order, without duplicates or unknowns."""
    seen: dict[str, None] = {}
    for value in values:
        code = country_code(value)
        if code is not None:
            seen.setdefault(code, None)
    return tuple(seen)


def address_country(address: str) -> str | None:
    """The country of a free-text address: its last comma-separated part."""
    last = address.rsplit(",", 1)[-1]
    return country_code(last)
