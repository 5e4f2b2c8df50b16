"""Admin API routes: signing in, one's own account and tokens, and operator accounts."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from clearance.accounts.logins import Logins
from clearance.accounts.models import Caller, OperatorRole
from clearance.accounts.operators import Operators
from clearance.accounts.permissions import Permission, granted
from clearance.accounts.web import EnrolIn, LoginIn, PasswordIn, SignInOut, answer, source_ip
from clearance.admin.auth import SESSION_COOKIE, AdminAuth

COOKIE_PATH = "/admin"


class OperatorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: OperatorRole
    status: str
    created_at: datetime
    created_by: str


class MeOut(BaseModel):
    operator: OperatorOut
    acting_role: OperatorRole
    via: str
    permissions: list[str]


class OperatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    role: OperatorRole


class OperatorCreated(BaseModel):
    operator: OperatorOut
    initial_password: str = Field(description="Shown only in this response.")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(pattern="^(active|disabled)$")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: OperatorRole | None = Field(default=None, description="Default: your role.")
    days: int | None = Field(default=None, ge=1, le=3650)
    label: str | None = Field(default=None, max_length=128)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    lookup: str
    role: OperatorRole
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret. Shown only in this response.")


class PasswordReset(BaseModel):
    initial_password: str = Field(description="Shown only in this response.")


def accounts_router(auth: AdminAuth, logins: Logins, operators: Operators) -> APIRouter:
    router = APIRouter()
    Me = Annotated[Caller, Depends(auth.signed_in())]
    Owner = Annotated[Caller, Depends(auth.own_credentials())]
    Readers = Annotated[Caller, Depends(auth.requires(Permission.OPERATORS_READ))]
    Writers = Annotated[Caller, Depends(auth.requires(Permission.OPERATORS_WRITE))]

    @router.post("/auth/login", tags=["auth"])
    async def login(body: LoginIn, request: Request, response: Response) -> SignInOut:
        result = await logins.sign_in(
            "operator", body.name, body.password, body.totp, source_ip(request)
        )
        return answer(result, response, SESSION_COOKIE, COOKIE_PATH)

    @router.post("/auth/enrol", tags=["auth"])
    async def enrol(body: EnrolIn, request: Request, response: Response) -> SignInOut:
        result = await logins.confirm_enrolment(body.ticket, body.totp, source_ip(request))
        return answer(result, response, SESSION_COOKIE, COOKIE_PATH)

    @router.post("/auth/logout", tags=["auth"], status_code=204)
    async def logout(request: Request, response: Response) -> None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            await logins.sign_out(cookie)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=True, httponly=True)

    @router.post("/auth/password", tags=["auth"], status_code=204)
    async def change_password(body: PasswordIn, caller: Owner) -> None:
        await logins.change_password(caller.operator.id, body.current, body.new)

    @router.get("/me", tags=["auth"])
    async def me(caller: Me) -> MeOut:
        return MeOut(
            operator=OperatorOut.model_validate(caller.operator),
            acting_role=caller.role,
            via=caller.via,
            permissions=sorted(p.value for p in granted(caller.operator.role, caller.role)),
        )

    @router.get("/me/tokens", tags=["auth"])
    async def my_tokens(caller: Me) -> list[TokenOut]:
        return [TokenOut.model_validate(t) for t in await operators.tokens(caller.operator.id)]

    @router.post("/me/tokens", tags=["auth"], status_code=201)
    async def create_token(body: TokenIn, caller: Owner) -> TokenCreated:
        token, issued = await operators.issue_token(caller, body.role, body.days, body.label)
        return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=issued.secret)

    @router.post("/me/tokens/{token_id}/revoke", tags=["auth"], status_code=204)
    async def revoke_token(token_id: str, caller: Me) -> None:
        await operators.revoke_token(caller, token_id)

    @router.get("/operators", tags=["operators"])
    async def list_operators(_caller: Readers) -> list[OperatorOut]:
        return [OperatorOut.model_validate(o) for o in await operators.all()]

    @router.post("/operators", tags=["operators"], status_code=201)
    async def create_operator(body: OperatorIn, caller: Writers) -> OperatorCreated:
        operator, initial, _ = await operators.create(caller.actor, body.name, body.role)
        return OperatorCreated(
            operator=OperatorOut.model_validate(operator), initial_password=initial
        )

    @router.post("/operators/{name}/status", tags=["operators"])
    async def set_status(name: str, body: StatusIn, caller: Writers) -> OperatorOut:
        return OperatorOut.model_validate(
            await operators.set_status(caller.actor, name, body.status)
        )

    @router.post("/operators/{name}/reset", tags=["operators"])
    async def reset(name: str, caller: Writers) -> PasswordReset:
        return PasswordReset(initial_password=await operators.reset(caller.actor, name))

    return router
