"""Signing in to the admin console: password, TOTP enrolment, replay, lock-out,
sessions, CSRF — each refusal with a clear error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clearance.accounts import totp
from clearance.accounts.models import OperatorRole
from tests.support.inprocess import InProcess, in_process


@pytest.fixture
async def ip(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process(tmp_path / "data", session_hours=1, max_failed_logins=3) as app:
        yield app


async def new_operator(ip: InProcess, name: str = "alice") -> str:
    created = await ip.client.post(
        "/admin/v1/operators",
        json={"name": name, "role": "reviewer"},
        headers=ip.as_operator(ip.admin_token),
    )
    assert created.status_code == 201, created.text
    password: str = created.json()["initial_password"]
    return password


async def login(ip: InProcess, name: str, password: str, code: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"name": name, "password": password}
    if code is not None:
        body["totp"] = code
    return await ip.client.post("/admin/v1/auth/login", json=body)


def error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def enrol(ip: InProcess, name: str, password: str) -> tuple[str, str]:
    """Sign in for the first time; returns (TOTP secret, CSRF token)."""
    first = await login(ip, name, password)
    assert first.json()["status"] == "enrolment_required"
    secret = first.json()["totp_secret"]
    assert first.json()["totp_uri"].startswith("otpauth://totp/Clearance:")
    assert "set-cookie" not in first.headers  # no session before TOTP is confirmed
    confirmed = await ip.client.post(
        "/admin/v1/auth/enrol",
        json={"ticket": first.json()["ticket"], "totp": totp.code_at(secret, ip.clock.now())},
    )
    assert confirmed.status_code == 200, confirmed.text
    cookie = confirmed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=strict" in cookie
    return secret, confirmed.json()["csrf_token"]


async def test_first_sign_in_enrols_totp_then_sessions_work(ip: InProcess) -> None:
    password = await new_operator(ip)
    await enrol(ip, "alice", password)
    me = await ip.client.get("/admin/v1/me")
    assert me.status_code == 200
    assert me.json()["operator"]["name"] == "alice"
    assert me.json()["via"].startswith("session:")


async def test_password_without_totp_is_not_enough(ip: InProcess) -> None:
    password = await new_operator(ip)
    await enrol(ip, "alice", password)
    ip.client.cookies.clear()
    response = await login(ip, "alice", password)
    assert response.status_code == 401
    assert error(response) == "totp_required"


async def test_wrong_password_and_wrong_totp_are_refused(ip: InProcess) -> None:
    password = await new_operator(ip)
    secret, _ = await enrol(ip, "alice", password)
    ip.clock.advance(seconds=60)
    wrong_password = await login(ip, "alice", password + "x", totp.code_at(secret, ip.clock.now()))
    assert (wrong_password.status_code, error(wrong_password)) == (401, "invalid_credentials")
    good = totp.code_at(secret, ip.clock.now())
    wrong_code = await login(ip, "alice", password, "000000" if good != "000000" else "111111")
    assert (wrong_code.status_code, error(wrong_code)) == (401, "invalid_totp")
    unknown = await login(ip, "nobody", password, good)
    assert (unknown.status_code, error(unknown)) == (401, "invalid_credentials")


async def test_a_totp_code_works_only_once(ip: InProcess) -> None:
    password = await new_operator(ip)
    secret, _ = await enrol(ip, "alice", password)
    ip.clock.advance(seconds=30)
    code = totp.code_at(secret, ip.clock.now())
    assert (await login(ip, "alice", password, code)).status_code == 200
    replayed = await login(ip, "alice", password, code)
    assert (replayed.status_code, error(replayed)) == (401, "totp_replayed")


async def test_repeated_failures_lock_the_account(ip: InProcess) -> None:
    password = await new_operator(ip)
    secret, _ = await enrol(ip, "alice", password)
    for _ in range(3):  # max_failed_logins=3 in this fixture
        assert (await login(ip, "alice", "wrong-password-1234")).status_code == 401
    ip.clock.advance(seconds=30)
    locked = await login(ip, "alice", password, totp.code_at(secret, ip.clock.now()))
    assert (locked.status_code, error(locked)) == (423, "account_locked")
    assert int(locked.headers["retry-after"]) > 0
    ip.clock.advance(minutes=16)
    assert (
        await login(ip, "alice", password, totp.code_at(secret, ip.clock.now()))
    ).status_code == 200
    kinds = [e.kind for e in await ip.services.audit.entries(limit=1000)]
    assert "account.locked" in kinds


async def test_sessions_expire(ip: InProcess) -> None:
    password = await new_operator(ip)
    await enrol(ip, "alice", password)
    ip.clock.advance(hours=2)  # session_hours=1
    expired = await ip.client.get("/admin/v1/me")
    assert (expired.status_code, error(expired)) == (401, "session_expired")


async def test_cookie_sessions_need_the_csrf_token_to_change_anything(ip: InProcess) -> None:
    password = await new_operator(ip, "carol")
    _, csrf = await enrol(ip, "carol", password)
    body = {"role": "auditor", "days": 1}
    missing = await ip.client.post("/admin/v1/me/tokens", json=body)
    assert (missing.status_code, error(missing)) == (403, "csrf_missing")
    wrong = await ip.client.post(
        "/admin/v1/me/tokens", json=body, headers={"x-csrf-token": "x" * 43}
    )
    assert (wrong.status_code, error(wrong)) == (403, "csrf_invalid")
    made = await ip.client.post("/admin/v1/me/tokens", json=body, headers={"x-csrf-token": csrf})
    assert made.status_code == 201
    assert made.json()["role"] == "auditor"


async def test_sign_out_ends_the_session(ip: InProcess) -> None:
    password = await new_operator(ip)
    await enrol(ip, "alice", password)
    cookie = ip.client.cookies.get("clearance_session")
    assert (await ip.client.post("/admin/v1/auth/logout")).status_code == 204
    ip.client.cookies.set("clearance_session", cookie or "", domain="clearance.test", path="/admin")
    after = await ip.client.get("/admin/v1/me")
    assert (after.status_code, error(after)) == (401, "invalid_session")


async def test_weak_passwords_are_refused(ip: InProcess) -> None:
    password = await new_operator(ip)
    _, csrf = await enrol(ip, "alice", password)
    for weak in ("short", "password1234", "aaaaaaaaaaaaaaaa", "alice-is-my-name-123"):
        response = await ip.client.post(
            "/admin/v1/auth/password",
            json={"current": password, "new": weak},
            headers={"x-csrf-token": csrf},
        )
        assert response.status_code == 400, weak
        assert response.json()["error"]["param"] == "password"
    changed = await ip.client.post(
        "/admin/v1/auth/password",
        json={"current": password, "new": "a correct horse staple, 2026"},
        headers={"x-csrf-token": csrf},
    )
    assert changed.status_code == 204


async def test_tokens_are_scoped_to_a_role_and_expire(ip: InProcess) -> None:
    token = await ip.token_for(OperatorRole.INVESTIGATOR, "ivan")
    headers = ip.as_operator(token)
    too_much = await ip.client.post("/admin/v1/me/tokens", json={"role": "admin"}, headers=headers)
    assert too_much.status_code == 403
    auditor = await ip.client.post(
        "/admin/v1/me/tokens", json={"role": "auditor", "days": 1}, headers=headers
    )
    scoped = ip.as_operator(auditor.json()["token"])
    assert (await ip.client.get("/admin/v1/me", headers=scoped)).json()["acting_role"] == "auditor"
    assert (
        await ip.client.post("/admin/v1/cases", json={"title": "x"}, headers=scoped)
    ).status_code == 403
    assert (
        await ip.client.post("/admin/v1/cases", json={"title": "x"}, headers=headers)
    ).status_code == 201
    ip.clock.advance(days=2)
    assert (await ip.client.get("/admin/v1/me", headers=scoped)).status_code == 401
