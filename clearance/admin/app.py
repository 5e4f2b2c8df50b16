"""The admin API application: every domain's router, behind operator authentication and
the permission matrix.

Served under ``/admin``; the OpenAPI document is at ``/admin/openapi.json``.
"""

from __future__ import annotations

from fastapi import FastAPI

from clearance import __version__
from clearance.accounts.views import accounts_router
from clearance.admin import errors
from clearance.admin.auth import AdminAuth
from clearance.admin.reference import reference_route
from clearance.audit.views import audit_router
from clearance.container import Services
from clearance.identity.key_views import keys_router
from clearance.identity.views import organizations_router
from clearance.monitoring.enforcement_views import monitoring_router
from clearance.monitoring.views import cases_router
from clearance.policy.views import policy_router
from clearance.registry.views import registry_router
from clearance.usage.views import usage_router
from clearance.vetting.views import vetting_router


def build_admin_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Clearance admin API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI comes from a CDN: the page below needs nothing
        redoc_url=None,
    )
    app.add_route("/docs", reference_route(app.openapi, "openapi.json"), include_in_schema=False)
    errors.install(app)
    auth = AdminAuth(services.operators, services.logins)
    s = services
    for router in (
        accounts_router(auth, s.logins, s.operators),
        registry_router(auth, s.models),
        organizations_router(auth, s.organizations, s.members, s.service_accounts, s.end_users),
        keys_router(auth, s.keys, s.entitlements),
        cases_router(auth, s.cases, s.break_glass),
        monitoring_router(auth, s),
        policy_router(auth, s.policies, s.program, s.authorizer, s.key_index, s.catalog),
        audit_router(auth, s.audit, s.checkpoints, s.prover),
        usage_router(auth, s.usage),
        vetting_router(
            auth,
            s.applications,
            s.vetting_checks,
            s.decisions,
            s.aftercare,
            s.screening,
            s.settings.revet_reminder_days,
        ),
    ):
        app.include_router(router, prefix="/v1")
    return app
