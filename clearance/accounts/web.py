"""Shared pieces of the sign-in HTTP routes (admin console and organization portal)."""

from datetime import datetime

from fastapi import Request, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from clearance.accounts.logins import SignIn


class LoginIn(BaseModel):
    """An operator's sign-in (the admin console's)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=320, description="Operator name.")
    password: str = Field(max_length=256)
    totp: str | None = Field(default=None, max_length=16, description="Authenticator code.")


class MemberLoginIn(BaseModel):
    """A member's sign-in (the portal's): their e-mail address, which their sign-in
    account is keyed by. ``name``, what the field was called before, is still accepted
    in its place (not both)."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(
        max_length=320,
        validation_alias=AliasChoices("email", "name"),
        description="Your e-mail address (as your organization added you).",
    )
    password: str = Field(max_length=256)
    totp: str | None = Field(default=None, max_length=16, description="Authenticator code.")


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: str = Field(max_length=128)
    totp: str = Field(max_length=16)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(max_length=256)
    new: str = Field(max_length=256)


class SignInOut(BaseModel):
    status: str
    """``signed_in`` or ``enrolment_required``."""
    csrf_token: str | None = None
    expires_at: datetime | None = None
    ticket: str | None = None
    totp_secret: str | None = None
    totp_uri: str | None = None


def source_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def answer(result: SignIn, response: Response, cookie: str, path: str) -> SignInOut:
    """Turn a sign-in outcome into the response: a session cookie, or enrolment."""
    if result.session_token is None:
        return SignInOut(
            status="enrolment_required",
            ticket=result.enrolment_ticket,
            totp_secret=result.totp_secret,
            totp_uri=result.totp_uri,
        )
    response.set_cookie(
        cookie,
        result.session_token,
        expires=result.expires_at,
        path=path,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return SignInOut(status="signed_in", csrf_token=result.csrf_token, expires_at=result.expires_at)
