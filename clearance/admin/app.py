"""The admin API application: every domain's router, behind operator authentication.

Served under ``/admin``; the OpenAPI document is at ``/admin/openapi.json``.
"""

from __future__ import annotations

from fastapi import FastAPI

from clearance import __version__
from clearance.admin import errors
from clearance.admin.auth import operator_dependency
from clearance.audit.views import audit_router
from clearance.container import Services
from clearance.identity.views import identity_router
from clearance.registry.views import registry_router
from clearance.usage.views import usage_router


def build_admin_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Clearance admin API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    current_operator = operator_dependency(services.operators)
    app.include_router(registry_router(services.models, current_operator), prefix="/v1")
    app.include_router(
        identity_router(services.organizations, services.keys, current_operator), prefix="/v1"
    )
    app.include_router(
        audit_router(services.audit, services.checkpoints, services.prover, current_operator),
        prefix="/v1",
    )
    app.include_router(usage_router(services.usage, current_operator), prefix="/v1")
    return app
