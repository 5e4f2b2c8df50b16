"""What an applicant's officer reaches without an account: the one-time link e-mailed
to them. Opening it (GET) shows the application and the terms of access; confirming it
(POST, naming the terms version accepted) verifies the address and records acceptance.

Served under ``/verify-email``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from clearance.admin import errors
from clearance.vetting.checks import Checks


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept_terms_version: str = Field(max_length=64)


def build_verify_app(checks: Checks) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    errors.install(app)

    @app.get("/{token}")
    async def show(token: str) -> dict[str, Any]:
        application, terms = await checks.link_details(token)
        return {
            "organization": application.form.legal_name,
            "officer": application.form.officer.email,
            "terms": {"version": terms.version, "sha256": terms.sha256, "text": terms.text},
        }

    @app.post("/{token}")
    async def confirm(token: str, body: ConfirmIn) -> dict[str, Any]:
        application = await checks.confirm_email(token, body.accept_terms_version)
        return {
            "organization": application.form.legal_name,
            "email_verified": True,
            "terms_version": application.terms_version,
            "terms_sha256": application.terms_sha256,
        }

    return app
