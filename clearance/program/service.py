"""Planning, applying and exporting a program: each change audited as its own kind
(model registered or updated, country table changed, default changed, policy changed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearance.errors import InvalidInput, NotFound
from clearance.policy.services import PolicyStore, unified_diff
from clearance.program.document import Program
from clearance.registry.jurisdictions import CountryTables
from clearance.registry.models import CountryTable
from clearance.registry.services import ModelRegistry, normalise, spec_document


@dataclass(frozen=True)
class Change:
    what: str
    """``model``, ``country table``, ``default country table`` or ``policies``."""
    name: str
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.what} {self.name}: {self.detail}"
            if self.name
            else f"{self.what}: {self.detail}"
        )


def _table_changes(old: CountryTable | None, new: CountryTable) -> str:
    if old is None:
        return f"new ({len(new.tiers)} countries listed, others tier {new.default_tier})"
    moves = [
        f"{code} {old.tiers.get(code, '-')}→{new.tiers.get(code, '-')}"
        for code in sorted(set(old.tiers) | set(new.tiers))
        if old.tiers.get(code) != new.tiers.get(code)
    ]
    if old.default_tier != new.default_tier:
        moves.append(f"others {old.default_tier}→{new.default_tier}")
    if old.source != new.source:
        moves.append("source changed")
    return ", ".join(moves)


class ProgramService:
    def __init__(self, models: ModelRegistry, tables: CountryTables, policies: PolicyStore) -> None:
        self._models = models
        self._tables = tables
        self._policies = policies

    async def plan(self, program: Program) -> list[Change]:
        """What applying ``program`` would change (validating all of it first)."""
        changes: list[Change] = []
        tables, default = await self._tables.all()
        current = {t.name: t for t in tables}
        for table in program.country_tables:
            if current.get(table.name) != table:
                changes.append(
                    Change(
                        "country table", table.name, _table_changes(current.get(table.name), table)
                    )
                )
        known_tables = set(current) | {t.name for t in program.country_tables}
        if program.default_country_table and program.default_country_table != default:
            if program.default_country_table not in known_tables:
                raise InvalidInput(
                    f"no country table named {program.default_country_table!r}",
                    "default_country_table",
                )
            changes.append(
                Change("default country table", "", f"{default} → {program.default_country_table}")
            )
        existing = {m.name: m for m in await self._models.list()}
        for name, declared in program.models.items():
            spec = normalise(name, declared)
            if spec.jurisdiction and spec.jurisdiction not in known_tables:
                raise InvalidInput(
                    f"models.{name}.jurisdiction: no country table {spec.jurisdiction!r}",
                    "jurisdiction",
                )
            if name not in existing:
                changes.append(Change("model", name, "new"))
                continue
            before, after = spec_document(existing[name].spec()), spec_document(spec)
            diff = [f"{k} {before[k]!r} → {after[k]!r}" for k in after if before[k] != after[k]]
            if diff:
                changes.append(Change("model", name, "; ".join(diff)))
        if program.policies is not None:
            compiled = self._policies.compile(program.policies)
            active = await self._policies.active()
            if self._policies.compile(active.files).digest != compiled.digest:
                changes.append(
                    Change("policies", "", "\n" + unified_diff(active.files, program.policies))
                )
        return changes

    async def apply(self, actor: str, program: Program, dry_run: bool = False) -> list[Change]:
        changes = await self.plan(program)
        if dry_run or not changes:
            return changes
        for table in program.country_tables:
            await self._tables.put(actor, table)
        if program.default_country_table:
            await self._tables.set_default(actor, program.default_country_table)
        existing = {m.name for m in await self._models.list()}
        for name, spec in program.models.items():
            if name in existing:
                await self._models.update(actor, name, spec)
            else:
                await self._models.add(actor, name, spec)
        if program.policies is not None:
            await self._policies.apply(actor, program.policies)
        return changes

    async def export(self) -> dict[str, Any]:
        """The program as it stands, in program-file form (policies inline)."""
        tables, default = await self._tables.all()
        active = await self._policies.active()
        return {
            "default_country_table": default,
            "country_tables": [
                {
                    "name": t.name,
                    "source": t.source,
                    "default_tier": t.default_tier,
                    "tiers": t.by_tier(),
                }
                for t in tables
            ],
            "models": {
                m.name: _without_defaults(spec_document(m.spec()))
                for m in await self._models.list()
            },
            "policies": active.files,
        }

    async def table(self, name: str) -> CountryTable:
        tables, _ = await self._tables.all()
        for table in tables:
            if table.name == name:
                return table
        raise NotFound(f"no country table named {name!r}")


def _without_defaults(document: dict[str, Any]) -> dict[str, Any]:
    empty: tuple[Any, ...] = (None, [], {}, ())
    return {
        k: v for k, v in document.items() if v not in empty and v != {"mode": "none", "days": 0}
    }
