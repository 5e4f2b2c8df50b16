"""Registering models, and the in-memory catalogue the gateway reads."""

from __future__ import annotations

import sqlalchemy as sa

from clearance import validation
from clearance.audit.events import ModelRegistered
from clearance.audit.services import AuditLog
from clearance.clock import Clock
from clearance.db import changes
from clearance.db.database import Database
from clearance.errors import AlreadyExists, NotFound
from clearance.ids import new_id
from clearance.registry.models import TOPIC, Model, models_table


class ModelRegistry:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def add(
        self,
        actor: str,
        name: str,
        upstream_url: str,
        upstream_model: str | None = None,
        upstream_key_env: str | None = None,
    ) -> Model:
        name = validation.slug(name, "name")
        upstream_url = validation.http_url(upstream_url, "upstream_url")
        upstream_model = validation.slug(upstream_model or name, "upstream_model", 256)
        if upstream_key_env is not None:
            upstream_key_env = validation.env_var_name(upstream_key_env, "upstream_key_env")
        model = Model(
            id=new_id("mdl"),
            name=name,
            upstream_url=upstream_url,
            upstream_model=upstream_model,
            upstream_key_env=upstream_key_env,
            created_at=self._clock.now(),
            created_by=actor,
        )
        async with self._db.transaction() as conn:
            taken = await conn.scalar(
                sa.select(models_table.c.id).where(models_table.c.name == name)
            )
            if taken is not None:
                raise AlreadyExists(f"a model named {name!r} already exists")
            await conn.execute(
                models_table.insert().values(
                    id=model.id,
                    name=model.name,
                    upstream_url=model.upstream_url,
                    upstream_model=model.upstream_model,
                    upstream_key_env=model.upstream_key_env,
                    created_at=model.created_at,
                    created_by=model.created_by,
                )
            )
            await self._audit.append(
                conn,
                ModelRegistered(
                    actor=actor,
                    model_id=model.id,
                    name=name,
                    upstream_url=upstream_url,
                    upstream_model=upstream_model,
                    upstream_key_env=upstream_key_env,
                ),
            )
            await changes.bump(conn, TOPIC)
        return model

    async def get(self, name_or_id: str) -> Model:
        query = sa.select(models_table).where(
            sa.or_(models_table.c.name == name_or_id, models_table.c.id == name_or_id)
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no model named {name_or_id!r}")
        return Model.from_row(row)

    async def list(self) -> list[Model]:
        async with self._db.read() as conn:
            rows = await conn.execute(sa.select(models_table).order_by(models_table.c.name))
            return [Model.from_row(row) for row in rows]


class ModelCatalog:
    """Every registered model by name, in memory, reloaded when the registry changes."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry
        self._by_name: dict[str, Model] = {}

    async def reload(self) -> None:
        self._by_name = {model.name: model for model in await self._registry.list()}

    def get(self, name: str) -> Model | None:
        return self._by_name.get(name)

    def all(self) -> list[Model]:
        return list(self._by_name.values())
