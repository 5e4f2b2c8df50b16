"""Admin API routes for the rules: the policy set, country tables, the program file,
and explaining one decision."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.errors import InvalidInput, NotFound
from clearance.identity.index import KeyIndex
from clearance.policy.authorizer import Authorizer, Question
from clearance.policy.services import PolicyStore
from clearance.policy.source import PolicyError
from clearance.program.document import parse
from clearance.program.service import ProgramService
from clearance.registry.services import ModelCatalog

MAX_PROGRAM_BYTES = 2 * 1024 * 1024


class PolicyFiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, str] = Field(description="File name -> Cedar text.")


class PolicySetOut(BaseModel):
    version: int
    files: dict[str, str]


class ExplainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(max_length=40)
    model: str = Field(max_length=128)
    action: str = Field(default="invoke", pattern="^(invoke|embed|list_models)$")
    purpose: str = Field(default="", max_length=32)
    categories: list[str] = Field(default_factory=list, max_length=50)
    source_ip: str | None = Field(default=None, max_length=64)
    end_user: str | None = Field(default=None, max_length=256)


class ExplainOut(BaseModel):
    allowed: bool
    code: str | None
    reason: str
    policies: list[dict[str, str | None]]
    context: dict[str, Any]
    policy_version: int


class ChangeOut(BaseModel):
    what: str
    name: str
    detail: str


def policy_router(
    auth: AdminAuth,
    store: PolicyStore,
    program: ProgramService,
    authorizer: Authorizer,
    keys: KeyIndex,
    catalog: ModelCatalog,
) -> APIRouter:
    router = APIRouter(tags=["policy"])
    Read = Annotated[Caller, Depends(auth.requires(P.POLICY_READ))]
    Write = Annotated[Caller, Depends(auth.requires(P.POLICY_WRITE))]

    @router.get("/policy")
    async def current(_c: Read) -> PolicySetOut:
        active = await store.active()
        return PolicySetOut(version=active.version, files=active.files)

    @router.put("/policy")
    async def replace(body: PolicyFiles, caller: Write) -> PolicySetOut:
        try:
            applied = await store.apply(caller.actor, body.files)
        except PolicyError as exc:
            raise InvalidInput(str(exc), "files") from None
        return PolicySetOut(**vars(applied or await store.active()))

    @router.post("/policy/validate")
    async def validate(body: PolicyFiles, _c: Read) -> dict[str, str]:
        try:
            compiled = store.compile(body.files)
        except PolicyError as exc:
            raise InvalidInput(str(exc), "files") from None
        return {"status": "valid", "policy_hash": compiled.digest}

    @router.post("/policy/explain")
    async def explain(body: ExplainIn, _c: Read) -> ExplainOut:
        principal = keys.principal(body.key_id)
        model = catalog.get(body.model)
        if principal is None or model is None:
            raise NotFound("no such key or model")
        question = Question(
            action=body.action,
            purpose=body.purpose,
            categories=frozenset(body.categories),
            source_ip=body.source_ip,
            end_user=body.end_user,
        )
        decision = authorizer.decide(principal, model, question)
        return ExplainOut(
            allowed=decision.allowed,
            code=decision.code,
            reason=decision.reason,
            policies=[{"id": p, "where": authorizer.where(p)} for p in decision.policies],
            context=authorizer.context(principal, model, question),
            policy_version=authorizer.version,
        )

    @router.get("/program")
    async def export(_c: Read) -> dict[str, Any]:
        return await program.export()

    @router.post("/program")
    async def apply(
        request: Request,
        caller: Write,
        dry_run: Annotated[bool, Query(description="Only show what would change.")] = False,
    ) -> list[ChangeOut]:
        """Apply a program file (YAML, or JSON) and return what changed."""
        body = await request.body()
        if len(body) > MAX_PROGRAM_BYTES:
            raise InvalidInput("the program file is larger than 2 MiB", "body")
        try:
            parsed = parse(body.decode("utf-8"), base=None)
        except UnicodeDecodeError:
            raise InvalidInput("the program file is not UTF-8", "body") from None
        try:
            changes = await program.apply(caller.actor, parsed, dry_run)
        except PolicyError as exc:
            raise InvalidInput(str(exc), "policies") from None
        return [ChangeOut(what=c.what, name=c.name, detail=c.detail) for c in changes]

    return router
