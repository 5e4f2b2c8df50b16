"""Every role on every admin route: allowed where the matrix says, 403 elsewhere, 401
without credentials. The table names each route's permission; it must cover every
route the API has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clearance.accounts.models import OperatorRole
from clearance.accounts.permissions import MATRIX
from clearance.accounts.permissions import Permission as P
from clearance.admin.app import build_admin_app
from tests.support.inprocess import InProcess, in_process

PUBLIC = "public"  # signing in needs no credentials
SELF = "self"  # any signed-in operator, acting on their own account

ROUTES: dict[str, P | str] = {
    "POST /v1/auth/login": PUBLIC,
    "POST /v1/auth/enrol": PUBLIC,
    "POST /v1/auth/logout": PUBLIC,
    "POST /v1/auth/password": SELF,
    "GET /v1/me": SELF,
    "GET /v1/me/tokens": SELF,
    "POST /v1/me/tokens": SELF,
    "POST /v1/me/tokens/{token_id}/revoke": SELF,
    "GET /v1/operators": P.OPERATORS_READ,
    "POST /v1/operators": P.OPERATORS_WRITE,
    "POST /v1/operators/{name}/status": P.OPERATORS_WRITE,
    "POST /v1/operators/{name}/reset": P.OPERATORS_WRITE,
    "GET /v1/models": P.MODELS_READ,
    "POST /v1/models": P.MODELS_WRITE,
    "GET /v1/models/{name}": P.MODELS_READ,
    "PUT /v1/models/{name}": P.MODELS_WRITE,
    "GET /v1/orgs": P.ORGS_READ,
    "POST /v1/orgs": P.ORGS_WRITE,
    "GET /v1/orgs/{org}": P.ORGS_READ,
    "POST /v1/orgs/{org}/suspend": P.ORGS_SUSPEND,
    "POST /v1/orgs/{org}/reinstate": P.ORGS_SUSPEND,
    "POST /v1/orgs/{org}/revoke": P.ORGS_SUSPEND,
    "GET /v1/orgs/{org}/members": P.MEMBERS_READ,
    "POST /v1/orgs/{org}/members": P.MEMBERS_WRITE,
    "POST /v1/members/{member_id}/verify": P.MEMBERS_VERIFY,
    "POST /v1/members/{member_id}/suspend": P.MEMBERS_SUSPEND,
    "POST /v1/members/{member_id}/reinstate": P.MEMBERS_SUSPEND,
    "POST /v1/members/{member_id}/remove": P.MEMBERS_WRITE,
    "GET /v1/orgs/{org}/service-accounts": P.MEMBERS_READ,
    "POST /v1/orgs/{org}/service-accounts": P.MEMBERS_WRITE,
    "GET /v1/orgs/{org}/end-users": P.END_USERS_READ,
    "POST /v1/orgs/{org}/end-users/status": P.END_USERS_SUSPEND,
    "GET /v1/keys": P.KEYS_READ,
    "POST /v1/keys": P.KEYS_WRITE,
    "POST /v1/keys/{key_id}/rotate": P.KEYS_WRITE,
    "POST /v1/keys/{key_id}/revoke": P.KEYS_REVOKE,
    "GET /v1/entitlements": P.ENTITLEMENTS_READ,
    "POST /v1/entitlements": P.ENTITLEMENTS_WRITE,
    "POST /v1/entitlements/{entitlement_id}/revoke": P.ENTITLEMENTS_WRITE,
    "GET /v1/cases": P.CASES_READ,
    "POST /v1/cases": P.CASES_WRITE,
    "GET /v1/cases/{case_id}": P.CASES_READ,
    "POST /v1/cases/{case_id}/close": P.CASES_WRITE,
    "POST /v1/cases/{case_id}/content": P.CONTENT_READ,
    "GET /v1/monitor/alerts": P.CASES_READ,
    "GET /v1/monitor/alerts/{alert_id}": P.CASES_READ,
    "POST /v1/monitor/alerts/{alert_id}/dismiss": P.CASES_WRITE,
    "POST /v1/monitor/alerts/{alert_id}/case": P.CASES_WRITE,
    "GET /v1/enforcement": P.CASES_READ,
    "POST /v1/enforcement": P.CASES_WRITE,
    "GET /v1/enforcement/{action_id}": P.CASES_READ,
    "POST /v1/enforcement/{action_id}/reverse": P.CASES_WRITE,
    "GET /v1/enforcement-appeals": P.CASES_READ,
    "POST /v1/enforcement-appeals": P.CASES_WRITE,
    "GET /v1/enforcement-appeals/stats": P.CASES_READ,
    "POST /v1/enforcement-appeals/{appeal_id}/decide": P.CASES_WRITE,
    "PUT /v1/orgs/{org}/webhook": P.ORGS_WRITE,
    "GET /v1/monitor/topics": P.USAGE_READ,
    "GET /v1/monitor": P.CASES_READ,
    "GET /v1/policy": P.POLICY_READ,
    "PUT /v1/policy": P.POLICY_WRITE,
    "POST /v1/policy/validate": P.POLICY_READ,
    "POST /v1/policy/explain": P.POLICY_READ,
    "GET /v1/program": P.POLICY_READ,
    "POST /v1/program": P.POLICY_WRITE,
    "GET /v1/audit": P.AUDIT_READ,
    "GET /v1/audit/checkpoint": P.AUDIT_READ,
    "GET /v1/audit/{index}/proof": P.AUDIT_READ,
    "GET /v1/usage": P.USAGE_READ,
    "GET /v1/usage/{request_id}": P.USAGE_READ,
    "POST /v1/applications": P.APPLICATIONS_WRITE,
    "GET /v1/applications": P.APPLICATIONS_READ,
    "GET /v1/applications/{application_id}": P.APPLICATIONS_READ,
    "POST /v1/applications/{application_id}/screen": P.APPLICATIONS_REVIEW,
    "POST /v1/screening/hits/{hit_id}/adjudicate": P.APPLICATIONS_REVIEW,
    "GET /v1/screening/check": P.APPLICATIONS_READ,
    "GET /v1/alerts": P.APPLICATIONS_READ,
    "POST /v1/applications/{application_id}/domain-challenge": P.APPLICATIONS_REVIEW,
    "POST /v1/applications/{application_id}/verify-domain": P.APPLICATIONS_REVIEW,
    "POST /v1/applications/{application_id}/email-link": P.APPLICATIONS_REVIEW,
    "POST /v1/applications/{application_id}/approve": P.APPLICATIONS_APPROVE,
    "POST /v1/applications/{application_id}/reject": P.APPLICATIONS_REVIEW,
    "POST /v1/applications/{application_id}/provision": P.ORGS_WRITE,
    "POST /v1/applications/{application_id}/revet": P.APPLICATIONS_REVIEW,
    "POST /v1/applications/{application_id}/activate": P.ORGS_WRITE,
    "POST /v1/applications/{application_id}/suspend": P.ORGS_SUSPEND,
    "POST /v1/applications/{application_id}/reinstate": P.ORGS_SUSPEND,
    "POST /v1/applications/{application_id}/revoke": P.ORGS_SUSPEND,
    "POST /v1/applications/{application_id}/appeals": P.APPLICATIONS_WRITE,
    "POST /v1/appeals/{appeal_id}/decide": P.APPLICATIONS_APPROVE,
    "POST /v1/terms": P.POLICY_WRITE,
    "POST /v1/revetting": P.ORGS_SUSPEND,
}


Scoped = dict[tuple[OperatorRole, OperatorRole], str]
"""A token for every (operator role, token scope): each role's own, and auditor."""

SCOPES = [(role, scope) for role in OperatorRole for scope in sorted({role, OperatorRole.AUDITOR})]
FULL_SCOPE_ONLY = {"POST /v1/auth/password", "POST /v1/me/tokens"}
"""Managing one's credentials needs the operator's whole role, never a narrowed token."""


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[InProcess, Scoped]]:
    async with in_process(tmp_path / "data") as ip:
        tokens: Scoped = {}
        for role in OperatorRole:
            tokens[role, role] = await ip.token_for(role)
            caller = await ip.services.operators.authenticate(tokens[role, role])
            assert caller is not None
            _, narrowed = await ip.services.operators.issue_token(caller, OperatorRole.AUDITOR)
            tokens[role, OperatorRole.AUDITOR] = narrowed.secret
        yield ip, tokens


def concrete(path: str) -> str:
    """Fill path parameters with names that exist nowhere (so allowed calls change
    nothing: they fail on the missing thing, never on permission)."""
    return (
        path.replace("{index}", "999999")
        .replace("{name}", "nobody")
        .replace("{org}", "no-org")
        .replace("{member_id}", "mem_none")
        .replace("{key_id}", "key_none")
        .replace("{token_id}", "tok_none")
        .replace("{entitlement_id}", "ent_none")
        .replace("{case_id}", "case_none")
    )


async def test_the_table_covers_every_route(app: tuple[InProcess, Scoped]) -> None:
    ip, _ = app
    document = (await ip.client.get("/admin/openapi.json")).json()
    routes = {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
    assert routes == set(ROUTES)


async def test_no_two_routes_share_a_method_and_path(
    app: tuple[InProcess, Scoped],
) -> None:
    """A second route on the same method and path would never be reached."""
    ip, _ = app
    seen: list[str] = []  # the routes as mounted: the OpenAPI document merges duplicates
    for route in build_admin_app(ip.services).routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            seen.append(f"{method} {getattr(route, 'path', '')}")
    duplicates = sorted({r for r in seen if seen.count(r) > 1})
    assert duplicates == []


async def test_every_route_for_every_role_and_token_scope(app: tuple[InProcess, Scoped]) -> None:
    """Allowed exactly where both the operator's role and the token's scope allow it:
    the narrower of the two decides, whoever holds the token."""
    ip, tokens = app
    outcomes = []
    for route, permission in ROUTES.items():
        method, path = route.split(" ", 1)
        url = "/admin" + concrete(path)
        if permission != PUBLIC:
            anonymous = await ip.client.request(method, url, json={})
            assert anonymous.status_code == 401, (route, anonymous.text)
        for (role, scope), token in tokens.items():
            response = await ip.client.request(method, url, json={}, headers=ip.as_operator(token))
            if permission == PUBLIC:
                allowed = True
            elif permission == SELF:
                allowed = scope is role or route not in FULL_SCOPE_ONLY
            else:
                allowed = permission in MATRIX[role] and permission in MATRIX[scope]
            if allowed:
                assert response.status_code not in {401, 403}, (route, role, scope, response.text)
            else:
                assert response.status_code == 403, (route, role, scope, response.text)
                assert response.json()["error"]["type"] == "permission_error"
            outcomes.append((route, role, scope, allowed))
    assert len(outcomes) == len(ROUTES) * len(SCOPES)


async def test_a_narrowed_token_cannot_reach_past_its_scope(app: tuple[InProcess, Scoped]) -> None:
    """The probe's escalation: an admin's auditor-scoped token minted an admin token,
    revoked its owner's other tokens and reached the password change."""
    ip, tokens = app
    admin, narrowed = (
        tokens[OperatorRole.ADMIN, OperatorRole.ADMIN],
        ip.as_operator(tokens[OperatorRole.ADMIN, OperatorRole.AUDITOR]),
    )
    for role in ("admin", "auditor", None):
        body = {"role": role} if role else {}
        minted = await ip.client.post("/admin/v1/me/tokens", json=body, headers=narrowed)
        assert minted.status_code == 403, minted.text
    listed = (await ip.client.get("/admin/v1/me/tokens", headers=narrowed)).json()
    admin_caller = await ip.services.operators.authenticate(admin)
    narrowed_caller = await ip.services.operators.authenticate(
        tokens[OperatorRole.ADMIN, OperatorRole.AUDITOR]
    )
    assert admin_caller is not None
    assert narrowed_caller is not None
    admin_id = admin_caller.via.removeprefix("token:")
    own_id = narrowed_caller.via.removeprefix("token:")
    assert {t["id"] for t in listed} == {admin_id, own_id}
    revoke = await ip.client.post(f"/admin/v1/me/tokens/{admin_id}/revoke", headers=narrowed)
    assert revoke.status_code == 403, revoke.text
    password = await ip.client.post(
        "/admin/v1/auth/password",
        json={"current": "x" * 12, "new": "a correct horse staple, 2026"},
        headers=narrowed,
    )
    assert password.status_code == 403, password.text
    suspend = await ip.client.post(
        "/admin/v1/orgs/no-org/suspend", json={"reason": "escalation probe"}, headers=narrowed
    )
    assert suspend.status_code == 403
    me = (await ip.client.get("/admin/v1/me", headers=narrowed)).json()
    assert me["acting_role"] == "auditor"
    assert all(p.endswith(":read") for p in me["permissions"])
    # The owner's own token still works; the narrowed one can end itself.
    assert (await ip.client.get("/admin/v1/me", headers=ip.as_operator(admin))).status_code == 200
    ended = await ip.client.post(f"/admin/v1/me/tokens/{own_id}/revoke", headers=narrowed)
    assert ended.status_code == 204
    assert (await ip.client.get("/admin/v1/me", headers=narrowed)).status_code == 401


def test_separation_of_duties_in_the_matrix() -> None:
    """Reviewers don't grant, approvers don't administer, only investigators read
    content, auditors only read."""
    assert P.CONTENT_READ in MATRIX[OperatorRole.INVESTIGATOR]
    assert all(
        P.CONTENT_READ not in MATRIX[r] for r in OperatorRole if r is not OperatorRole.INVESTIGATOR
    )
    assert P.ENTITLEMENTS_WRITE not in MATRIX[OperatorRole.REVIEWER]
    assert P.MEMBERS_VERIFY not in MATRIX[OperatorRole.APPROVER]
    assert all(p.value.endswith(":read") for p in MATRIX[OperatorRole.AUDITOR])


async def test_the_audit_entry_names_the_token_that_acted(app: tuple[InProcess, Scoped]) -> None:
    ip, tokens = app
    await ip.services.organizations.add_direct("local:test", "Acme", "US", "test")
    token = tokens[OperatorRole.ADMIN, OperatorRole.ADMIN]
    caller = await ip.services.operators.authenticate(token)
    assert caller is not None
    suspended = await ip.client.post(
        "/admin/v1/orgs/Acme/suspend", json={"reason": "audit check"}, headers=ip.as_operator(token)
    )
    assert suspended.status_code == 200, suspended.text
    (entry,) = await ip.services.audit.entries(limit=1000, kind="organization.status_changed")
    assert entry.fields()["actor"] == caller.actor
    assert entry.fields()["via"] == caller.via
    assert entry.public_fields()["via"] == caller.via  # token ids are public: the log shows it
    # Entries of other actors in the same process do not borrow it.
    (admitted,) = await ip.services.audit.entries(limit=1000, kind="organization.admitted")
    assert "via" not in admitted.fields()
