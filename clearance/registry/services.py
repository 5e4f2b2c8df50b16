"""Registering and updating models, and the in-memory catalogue the gateway reads."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance import validation
from clearance.audit.events import ModelRegistered, ModelUpdated
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import AlreadyExists, InvalidInput, NotFound
from clearance.ids import new_id
from clearance.registry import levels
from clearance.registry.models import (
    RELEASE_MODES,
    RETENTION_MODES,
    SAFEGUARDS,
    TOPIC,
    UPSTREAM_APIS,
    Model,
    ModelSpec,
    models_table,
)
from clearance.settings import environment_credential

_models = models_table.c
_EXPORT_CONTROL = re.compile(r"^[A-Z0-9][A-Z0-9.]{0,31}$")
_CONTENT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_CONTENT_TYPES = 20


def normalise(name: str, spec: ModelSpec) -> ModelSpec:
    """Validate a declaration; returns it in canonical form. Raises InvalidInput."""
    validation.slug(name, "name")
    risk = {domain: levels.parse(domain, label).label for domain, label in spec.risk.items()}
    if spec.upstream_api not in UPSTREAM_APIS:
        raise InvalidInput(
            f"upstream_api must be one of {', '.join(UPSTREAM_APIS)}", "upstream_api"
        )
    if spec.release_mode not in RELEASE_MODES:
        raise InvalidInput(
            f"release_mode must be one of {', '.join(RELEASE_MODES)}", "release_mode"
        )
    export = spec.export_control.strip().upper() if spec.export_control else None
    if export is not None and not _EXPORT_CONTROL.match(export):
        raise InvalidInput("export_control must look like 4E091 or EAR99", "export_control")
    if spec.retention.mode not in RETENTION_MODES:
        raise InvalidInput(
            f"retention.mode must be one of {', '.join(RETENTION_MODES)}", "retention"
        )
    if spec.retention.mode == "encrypted" and not 1 <= spec.retention.days <= 3650:
        raise InvalidInput("encrypted retention needs days between 1 and 3650", "retention")
    unknown = sorted(set(spec.safeguards) - set(SAFEGUARDS))
    if unknown:
        raise InvalidInput(f"unknown safeguards {', '.join(unknown)}", "safeguards")
    if not 1 <= spec.min_org_tier <= 3:
        raise InvalidInput("min_org_tier must be 1, 2 or 3", "min_org_tier")
    if spec.upstream_key_env and spec.upstream_key_file:
        raise InvalidInput(
            "give the upstream key by environment variable or file, not both", "upstream_key_file"
        )
    for kind in spec.content_types:
        if not _CONTENT_TYPE.match(kind):
            raise InvalidInput(
                f"content type {kind!r} must be a lowercase identifier", "content_types"
            )
    if len(set(spec.content_types)) > MAX_CONTENT_TYPES:
        raise InvalidInput(f"at most {MAX_CONTENT_TYPES} content types", "content_types")
    return replace(
        spec,
        content_types=tuple(sorted(set(spec.content_types))),
        upstream_url=validation.http_url(spec.upstream_url, "upstream_url"),
        upstream_model=validation.slug(spec.upstream_model or name, "upstream_model", 256),
        upstream_key_env=validation.env_var_name(spec.upstream_key_env, "upstream_key_env")
        if spec.upstream_key_env
        else None,
        aliases=tuple(dict.fromkeys(validation.slug(a, "aliases") for a in spec.aliases)),
        risk=risk,
        export_control=export,
        jurisdiction=validation.slug(spec.jurisdiction, "jurisdiction", 64)
        if spec.jurisdiction
        else None,
        safeguards=tuple(s for s in SAFEGUARDS if s in spec.safeguards),
    )


def _row(spec: ModelSpec) -> dict[str, Any]:
    return {
        "upstream_url": spec.upstream_url,
        "upstream_model": spec.upstream_model,
        "upstream_key_env": spec.upstream_key_env,
        "upstream_key_file": spec.upstream_key_file,
        "upstream_api": spec.upstream_api,
        "aliases": list(spec.aliases),
        "risk": {
            domain: {"level": levels.parse(domain, label).level, "label": label}
            for domain, label in spec.risk.items()
        },
        "release_mode": spec.release_mode,
        "export_control": spec.export_control,
        "jurisdiction": spec.jurisdiction,
        "retention": asdict(spec.retention),
        "safeguards": list(spec.safeguards),
        "min_org_tier": spec.min_org_tier,
        "limits": spec.limits.document(),
        "content_types": list(spec.content_types),
    }


def spec_document(spec: ModelSpec) -> dict[str, Any]:
    """A declaration as plain data (audit entries, diffs, program files)."""
    document = asdict(spec)
    document["aliases"] = list(spec.aliases)
    document["safeguards"] = list(spec.safeguards)
    document["limits"] = spec.limits.document()
    document["content_types"] = list(spec.content_types)
    return document


class ModelRegistry:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def add(self, actor: str, name: str, spec: ModelSpec) -> Model:
        spec = normalise(name, spec)
        async with self._db.transaction() as conn:
            await self._check_names(conn, name, spec.aliases, None)
            model_id = new_id("mdl")
            await conn.execute(
                models_table.insert().values(
                    id=model_id,
                    name=name,
                    created_at=self._clock.now(),
                    created_by=actor,
                    **_row(spec),
                )
            )
            await self._audit.append(
                conn,
                ModelRegistered(
                    actor=actor, model_id=model_id, name=name, spec=spec_document(spec)
                ),
            )
            await changes.bump(conn, TOPIC)
        return await self.get(model_id)

    async def update(self, actor: str, name: str, spec: ModelSpec) -> Model | None:
        """Replace a model's declaration; returns None when nothing changed."""
        spec = normalise(name, spec)
        async with self._db.transaction() as conn:
            current = await self._find(conn, name)
            before, after = spec_document(current.spec()), spec_document(spec)
            diff = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
            if not diff:
                return None
            await self._check_names(conn, name, spec.aliases, current.id)
            await conn.execute(
                models_table.update()
                .where(_models.id == current.id)
                .values(updated_at=self._clock.now(), **_row(spec))
            )
            await self._audit.append(
                conn, ModelUpdated(actor=actor, model_id=current.id, name=name, changes=diff)
            )
            await changes.bump(conn, TOPIC)
        return await self.get(current.id)

    async def _check_names(
        self, conn: AsyncConnection, name: str, aliases: tuple[str, ...], own_id: str | None
    ) -> None:
        taken: dict[str, str] = {}
        for model in map(Model.from_row, await conn.execute(sa.select(models_table))):
            if model.id == own_id:
                continue
            for used in (model.name, *model.aliases):
                taken[used] = model.name
        for wanted in (name, *aliases):
            if wanted in taken:
                raise AlreadyExists(
                    f"{wanted!r} is already the name or an alias of {taken[wanted]!r}"
                )

    async def get(self, name_or_id: str) -> Model:
        async with self._db.read() as conn:
            return await self._find(conn, name_or_id)

    @staticmethod
    async def _find(conn: AsyncConnection, name_or_id: str) -> Model:
        query = sa.select(models_table).where(
            sa.or_(_models.name == name_or_id, _models.id == name_or_id)
        )
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no model named {name_or_id!r}")
        return Model.from_row(row)

    async def list(self) -> list[Model]:
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(models_table).order_by(_models.name))
            return [Model.from_row(row) for row in rows]


class ModelCatalog:
    """Every registered model by name and alias, in memory, reloaded when the registry
    changes; also each model's upstream credential (read from its environment variable
    or file at load, never stored)."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry
        self._by_name: dict[str, Model] = {}
        self._models: list[Model] = []
        self._credentials: dict[str, str | None] = {}

    async def reload(self) -> None:
        models = await self._registry.list()
        self._by_name = {alias: m for m in models for alias in (m.name, *m.aliases)}
        self._models = models
        self._credentials = {m.id: _credential(m) for m in models}

    def get(self, name: str) -> Model | None:
        return self._by_name.get(name)

    def all(self) -> list[Model]:
        return list(self._models)

    def credential(self, model: Model) -> str | None:
        return self._credentials.get(model.id)


def _credential(model: Model) -> str | None:
    if model.upstream_key_env:
        return environment_credential(model.upstream_key_env)
    if model.upstream_key_file:
        try:
            return Path(model.upstream_key_file).read_text().strip() or None
        except OSError:
            return None
    return None
