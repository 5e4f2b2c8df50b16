"""The organization portal: an officer signs in (password + TOTP) and manages their own
members and keys, within the organization's entitlements and nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clearance.accounts import totp
from clearance.identity.keys import KeyScope
from clearance.identity.models import MemberRole
from clearance.registry.models import ModelSpec
from tests.support.inprocess import InProcess, in_process

ACTOR = "local:test"


@pytest.fixture
async def officer(tmp_path: Path, upstream_url: str) -> AsyncIterator[tuple[InProcess, str]]:
    """An app with an officer of "Org" signed in to the portal; yields the CSRF token."""
    async with in_process(tmp_path / "data") as ip:
        s = ip.services
        for name in ("model-a", "model-b"):
            await s.models.add(ACTOR, name, ModelSpec(upstream_url, "echo"))
        await s.organizations.add_direct(ACTOR, "Org", "US", "test")
        await s.organizations.add_direct(ACTOR, "Other", "FR", "test")
        await s.entitlements.grant(ACTOR, "Org", "model-a", ["cyber"])
        _, password = await s.members.add(
            ACTOR, "Org", "Olga", "olga@org.example", MemberRole.OFFICER
        )
        assert password is not None
        first = await ip.client.post(
            "/portal/v1/auth/login", json={"name": "olga@org.example", "password": password}
        )
        secret = first.json()["totp_secret"]
        signed_in = await ip.client.post(
            "/portal/v1/auth/enrol",
            json={"ticket": first.json()["ticket"], "totp": totp.code_at(secret, ip.clock.now())},
        )
        assert signed_in.status_code == 200, signed_in.text
        await ip.refresh()
        yield ip, signed_in.json()["csrf_token"]


async def test_officer_manages_members_of_their_own_organization(
    officer: tuple[InProcess, str],
) -> None:
    ip, csrf = officer
    h = {"x-csrf-token": csrf}
    me = (await ip.client.get("/portal/v1/me")).json()
    assert me["role"] == "officer"
    added = await ip.client.post(
        "/portal/v1/members", json={"name": "Max", "email": "max@org.example"}, headers=h
    )
    assert added.status_code == 201
    assert added.json()["initial_password"] is None  # plain members have no portal account
    admin = await ip.client.post(
        "/portal/v1/members",
        json={"name": "Ann", "email": "ann@org.example", "role": "admin"},
        headers=h,
    )
    assert admin.json()["initial_password"]
    officer_again = await ip.client.post(
        "/portal/v1/members",
        json={"name": "Oz", "email": "oz@org.example", "role": "officer"},
        headers=h,
    )
    assert officer_again.status_code == 403
    names = {m["name"] for m in (await ip.client.get("/portal/v1/members")).json()}
    assert names == {"Olga", "Max", "Ann"}
    removed = await ip.client.post(
        f"/portal/v1/members/{added.json()['member']['id']}/remove",
        json={"reason": "left"},
        headers=h,
    )
    assert removed.json()["status"] == "removed"
    no_csrf = await ip.client.post(
        "/portal/v1/members", json={"name": "X", "email": "x@org.example"}
    )
    assert no_csrf.status_code == 403


async def test_keys_stay_within_the_entitlements(officer: tuple[InProcess, str]) -> None:
    ip, csrf = officer
    h = {"x-csrf-token": csrf}
    made = await ip.client.post(
        "/portal/v1/keys", json={"models": ["model-a"], "purposes": ["cyber"]}, headers=h
    )
    assert made.status_code == 201, made.text
    await ip.refresh()
    works = await ip.client.post(
        "/v1/chat/completions",
        json={"model": "model-a", "messages": [{"role": "user", "content": "hi"}]},
        headers=ip.as_key(made.json()["key"]),
    )
    assert works.status_code == 200, works.text
    for body in ({"models": ["model-b"]}, {"models": ["model-a"], "purposes": ["bio"]}):
        refused = await ip.client.post("/portal/v1/keys", json=body, headers=h)
        assert refused.status_code == 403, body
    unscoped = await ip.client.post("/portal/v1/keys", json={}, headers=h)
    assert (unscoped.status_code, unscoped.json()["error"]["param"]) == (400, "models")
    rotated = await ip.client.post(
        f"/portal/v1/keys/{made.json()['id']}/rotate", json={"grace_seconds": 0}, headers=h
    )
    assert rotated.status_code == 201
    revoked = await ip.client.post(
        f"/portal/v1/keys/{rotated.json()['id']}/revoke", json={"reason": "not needed"}, headers=h
    )
    assert revoked.status_code == 204


async def test_another_organizations_keys_are_invisible(officer: tuple[InProcess, str]) -> None:
    ip, csrf = officer
    theirs = await ip.services.keys.create(ACTOR, "Other", KeyScope())
    assert all(k["id"] != theirs.id for k in (await ip.client.get("/portal/v1/keys")).json())
    for action, body in (("revoke", {"reason": "x"}), ("rotate", {})):
        response = await ip.client.post(
            f"/portal/v1/keys/{theirs.id}/{action}", json=body, headers={"x-csrf-token": csrf}
        )
        assert response.status_code == 404


async def test_the_portal_needs_a_session(officer: tuple[InProcess, str]) -> None:
    ip, _ = officer
    ip.client.cookies.clear()
    response = await ip.client.get("/portal/v1/keys")
    assert response.status_code == 401
    operator = await ip.client.get("/portal/v1/keys", headers=ip.as_operator(ip.admin_token))
    assert operator.status_code == 401  # operator tokens are not portal sessions


async def test_members_sign_in_with_their_email(tmp_path: Path) -> None:
    """The portal's sign-in field is ``email`` (what a member's account is keyed by);
    ``name``, its old name, still works; a wrong one says which was wrong."""
    async with in_process(tmp_path / "data") as ip:
        s = ip.services
        await s.organizations.add_direct(ACTOR, "Org", "US", "test")
        _, password = await s.members.add(
            ACTOR, "Org", "Olga", "Olga@Org.example", MemberRole.OFFICER
        )
        assert password is not None
        first = await ip.client.post(
            "/portal/v1/auth/login", json={"email": " olga@org.EXAMPLE ", "password": password}
        )
        assert first.json()["status"] == "enrolment_required", first.text
        secret = first.json()["totp_secret"]
        enrolled = await ip.client.post(
            "/portal/v1/auth/enrol",
            json={"ticket": first.json()["ticket"], "totp": totp.code_at(secret, ip.clock.now())},
        )
        assert enrolled.json()["status"] == "signed_in"

        ip.clock.advance(seconds=30)  # the next code: each works once
        code = totp.code_at(secret, ip.clock.now())
        by_old_name = await ip.client.post(
            "/portal/v1/auth/login",
            json={"name": "olga@org.example", "password": password, "totp": code},
        )
        assert by_old_name.json()["status"] == "signed_in", by_old_name.text
        assert (await ip.client.get("/portal/v1/me")).json()["email"] == "olga@org.example"

        both = await ip.client.post(
            "/portal/v1/auth/login",
            json={"email": "olga@org.example", "name": "olga@org.example", "password": password},
        )
        assert (both.status_code, both.json()["error"]["param"]) == (400, "name")
        wrong = await ip.client.post(
            "/portal/v1/auth/login", json={"email": "olga@org.example", "password": "nope"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["message"] == "Wrong e-mail address or password."
        schema = (await ip.client.get("/portal/openapi.json")).json()["components"]["schemas"]
        assert set(schema["MemberLoginIn"]["required"]) == {"email", "password"}
