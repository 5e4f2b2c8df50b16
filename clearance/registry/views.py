"""Admin API routes for the model registry."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.errors import InvalidInput
from clearance.registry.models import Model
from clearance.registry.schemas import ModelDeclaration, ModelIn
from clearance.registry.services import ModelRegistry, spec_document


class RiskOut(BaseModel):
    level: int
    name: str
    label: str


class ModelOut(BaseModel):
    id: str
    name: str
    declaration: dict[str, object]
    risk: dict[str, RiskOut]
    controlled: bool
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, model: Model) -> "ModelOut":
        return cls(
            id=model.id,
            name=model.name,
            declaration=spec_document(model.spec()),
            risk={
                domain: RiskOut(level=level.level, name=level.name, label=level.label)
                for domain, level in model.risk.items()
            },
            controlled=model.controlled,
            created_at=model.created_at,
            created_by=model.created_by,
        )


def registry_router(auth: AdminAuth, registry: ModelRegistry) -> APIRouter:
    router = APIRouter(tags=["models"])
    Read = Annotated[Caller, Depends(auth.requires(P.MODELS_READ))]
    Write = Annotated[Caller, Depends(auth.requires(P.MODELS_WRITE))]

    @router.get("/models")
    async def list_models(_c: Read) -> list[ModelOut]:
        return [ModelOut.of(model) for model in await registry.list()]

    @router.post("/models", status_code=201)
    async def add_model(body: ModelIn, caller: Write) -> ModelOut:
        return ModelOut.of(await registry.add(caller.actor, body.name, body.spec()))

    @router.get("/models/{name}")
    async def get_model(name: str, _c: Read) -> ModelOut:
        return ModelOut.of(await registry.get(name))

    @router.put("/models/{name}")
    async def replace_model(name: str, body: ModelDeclaration, caller: Write) -> ModelOut:
        """Replace a model's whole declaration (audited with what changed)."""
        updated = await registry.update(caller.actor, name, body.spec())
        if updated is None:
            raise InvalidInput("nothing changed", "body")
        return ModelOut.of(updated)

    return router
