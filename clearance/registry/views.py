"""Admin API routes for the model registry."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.registry.services import ModelRegistry


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128, description="The name clients use in requests.")
    upstream_url: str = Field(
        max_length=2048, description="The upstream's OpenAI base URL, e.g. http://host:8000/v1"
    )
    upstream_model: str | None = Field(
        default=None, max_length=256, description="The upstream's name for it (default: name)."
    )
    upstream_key_env: str | None = Field(
        default=None,
        max_length=128,
        description="Environment variable holding the upstream API key.",
    )


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    upstream_url: str
    upstream_model: str
    upstream_key_env: str | None
    created_at: datetime
    created_by: str


def registry_router(auth: AdminAuth, registry: ModelRegistry) -> APIRouter:
    router = APIRouter(tags=["models"])
    Read = Annotated[Caller, Depends(auth.requires(P.MODELS_READ))]
    Write = Annotated[Caller, Depends(auth.requires(P.MODELS_WRITE))]

    @router.get("/models")
    async def list_models(_c: Read) -> list[ModelOut]:
        return [ModelOut.model_validate(model) for model in await registry.list()]

    @router.post("/models", status_code=201)
    async def add_model(body: ModelIn, caller: Write) -> ModelOut:
        model = await registry.add(
            caller.actor,
            body.name,
            body.upstream_url,
            body.upstream_model,
            body.upstream_key_env,
        )
        return ModelOut.model_validate(model)

    @router.get("/models/{name}")
    async def get_model(name: str, _c: Read) -> ModelOut:
        return ModelOut.model_validate(await registry.get(name))

    return router
