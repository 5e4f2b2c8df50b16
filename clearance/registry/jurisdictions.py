"""Country tables (jurisdiction tiers as data), the program's default table, and where
a request comes from (an offline GeoIP lookup).

The shipped preset is the January 2025 AI-diffusion table (``data/``); operators load
their own with ``clearance apply`` and switch the default. Changes reach every worker
within a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from geoip2fast import GeoIP2Fast
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation, yamlfile
from clearance.audit.events import CountryTableChanged, ProgramSettingChanged
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import InvalidInput, NotFound
from clearance.registry.models import (
    COUNTRY_TABLES_TOPIC,
    CountryTable,
    country_tables_table,
    registry_settings_table,
)

PRESETS = Path(__file__).parent / "data"
PRESET = "ai-diffusion-2025"
DEFAULT_TABLE_KEY = "default_country_table"
GEOIP_CACHE = 100_000  # addresses remembered (a lookup costs ~3 µs; a hit ~0.1 µs)
_tables = country_tables_table.c
_settings = registry_settings_table.c


def load_preset(name: str = PRESET) -> CountryTable:
    return table_from_document(yamlfile.load((PRESETS / f"{name}.yaml").read_text()))


def table_from_document(document: dict[str, Any]) -> CountryTable:
    """A country table from ``{name, source, default_tier, tiers: {tier: [codes]}}``."""
    if not isinstance(document, dict):
        raise InvalidInput("a country table must be a mapping", "country_tables")
    name = validation.slug(str(document.get("name", "")), "country_tables.name", 64)
    default_tier = document.get("default_tier", 2)
    tiers: dict[str, int] = {}
    for tier, countries in (document.get("tiers") or {}).items():
        if int(tier) not in (1, 2, 3) or not isinstance(countries, list):
            raise InvalidInput(f"{name}: tiers must map 1, 2 or 3 to lists of countries", "tiers")
        for country in countries:
            code = validation.country_code(str(country), f"{name}.tiers")
            if code in tiers and tiers[code] != int(tier):
                raise InvalidInput(f"{name}: {code} is listed in two tiers", "tiers")
            tiers[code] = int(tier)
    if default_tier not in (1, 2, 3):
        raise InvalidInput(f"{name}: default_tier must be 1, 2 or 3", "default_tier")
    return CountryTable(name, str(document.get("source", "")), int(default_tier), tiers)


class CountryTables:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def put(self, actor: str, table: CountryTable) -> bool:
        """Create or replace a table; False when it was already exactly this."""
        async with self._db.transaction() as conn:
            current = await _get(conn, table.name)
            if current == table:
                return False
            values = {
                "source": table.source,
                "default_tier": table.default_tier,
                "tiers": table.tiers,
                "updated_at": self._clock.now(),
                "updated_by": actor,
            }
            if current is None:
                await conn.execute(country_tables_table.insert().values(name=table.name, **values))
            else:
                await conn.execute(
                    country_tables_table.update().where(_tables.name == table.name).values(**values)
                )
            await self._audit.append(
                conn,
                CountryTableChanged(
                    actor=actor,
                    name=table.name,
                    source=table.source,
                    default_tier=table.default_tier,
                    tiers=dict(sorted(table.tiers.items())),
                ),
            )
            await changes.bump(conn, COUNTRY_TABLES_TOPIC)
        return True

    async def set_default(self, actor: str, name: str) -> bool:
        async with self._db.transaction() as conn:
            if await _get(conn, name) is None:
                raise NotFound(f"no country table named {name!r}")
            current = await conn.scalar(
                sa.select(_settings.value).where(_settings.key == DEFAULT_TABLE_KEY)
            )
            if current == name:
                return False
            if current is None:
                await conn.execute(
                    registry_settings_table.insert().values(key=DEFAULT_TABLE_KEY, value=name)
                )
            else:
                await conn.execute(
                    registry_settings_table.update()
                    .where(_settings.key == DEFAULT_TABLE_KEY)
                    .values(value=name)
                )
            await self._audit.append(
                conn, ProgramSettingChanged(actor=actor, key=DEFAULT_TABLE_KEY, value=name)
            )
            await changes.bump(conn, COUNTRY_TABLES_TOPIC)
        return True

    async def all(self) -> tuple[list[CountryTable], str | None]:
        """Every table, and the name of the default one."""
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(country_tables_table).order_by(_tables.name))
            tables = [_from_row(row) for row in rows]
            default = await conn.scalar(
                sa.select(_settings.value).where(_settings.key == DEFAULT_TABLE_KEY)
            )
        return tables, default


async def _get(conn: AsyncConnection, name: str) -> CountryTable | None:
    row = (await conn.execute(sa.select(country_tables_table).where(_tables.name == name))).first()
    return _from_row(row) if row is not None else None


def _from_row(row: Any) -> CountryTable:
    return CountryTable(row.name, row.source, int(row.default_tier), dict(row.tiers))


class Jurisdictions:
    """The hot path's view: each table in memory, the default, and GeoIP."""

    def __init__(self, tables: CountryTables, unknown_country_tier: int) -> None:
        self._tables = tables
        self._unknown_tier = unknown_country_tier
        self._by_name: dict[str, CountryTable] = {}
        self._default: CountryTable = load_preset()
        self._geo: GeoIP2Fast | None = None
        self._countries: dict[str, str | None] = {}

    async def reload(self) -> None:
        tables, default = await self._tables.all()
        self._by_name = {table.name: table for table in tables}
        self._default = self._by_name.get(default or PRESET) or load_preset()

    def table(self, name: str | None) -> CountryTable:
        """A model's table (unknown names fall back to the default, like None)."""
        return self._by_name.get(name, self._default) if name else self._default

    def tier(self, table: CountryTable, country: str | None) -> int:
        """A country's tier; where the country is unknown, the configured tier."""
        return table.tier(country) if country else self._unknown_tier

    def country_of(self, address: str | None) -> str | None:
        """ISO code of the country an IP address is registered in, or None (private,
        loopback, unknown)."""
        if not address:
            return None
        known = self._countries.get(address, "")
        if known != "":
            return known
        if len(self._countries) >= GEOIP_CACHE:
            self._countries.clear()
        self._countries[address] = country = self._lookup(address)
        return country

    def _lookup(self, address: str) -> str | None:
        if self._geo is None:
            # The IPv6 data file carries IPv4 too; loading takes ~0.1 s, once.
            self._geo = GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz")
        result = self._geo.lookup(address)
        code = getattr(result, "country_code", "") or ""
        return code.upper() if len(code) == 2 and code.isalpha() else None
