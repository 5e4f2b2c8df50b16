"""The admin API over HTTP (in-process ASGI): authentication, the CLI's operations,
and precise errors that change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from clearance.accounts.models import OperatorRole
from clearance.container import Services
from clearance.server import build_app


@pytest.fixture
async def admin(sqlite_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    _, _, token = await sqlite_services.operators.create(
        "local:test", "root", OperatorRole.ADMIN, with_token=True
    )
    assert token is not None
    transport = httpx.ASGITransport(app=build_app(sqlite_services))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver/admin/v1",
        headers={"authorization": f"Bearer {token.secret}"},
    ) as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert response.headers["x-request-id"].startswith("req_")
    return error


@pytest.mark.parametrize(
    "header", [None, "Bearer ", "Bearer clro_nope", "Basic abc", "Bearer clr_" + "A" * 38]
)
async def test_requests_without_a_valid_operator_token_are_401(
    admin: httpx.AsyncClient, header: str | None
) -> None:
    headers = {"authorization": header} if header is not None else {}
    client = httpx.AsyncClient(
        transport=admin._transport, base_url=str(admin.base_url), headers=headers
    )
    async with client:
        response = await client.get("/orgs")
    assert response.status_code == 401
    assert error_of(response)["type"] == "authentication_error"


async def test_create_and_list_models_organizations_and_keys(admin: httpx.AsyncClient) -> None:
    model = await admin.post(
        "/models", json={"name": "m1", "upstream_url": "http://127.0.0.1:9/v1"}
    )
    assert model.status_code == 201, model.text
    assert model.json()["declaration"]["upstream_model"] == "m1"
    org = await admin.post("/orgs", json={"name": "Acme", "country": "gb", "reason": "pilot"})
    assert org.status_code == 201
    assert org.json()["country"] == "GB"
    assert org.json()["admission"] == "direct"
    key = await admin.post("/keys", json={"org": "Acme", "models": ["m1"]})
    assert key.status_code == 201
    secret = key.json()["key"]
    assert secret.startswith("clr_")
    listed = (await admin.get("/keys", params={"org": "Acme"})).json()
    assert [k["id"] for k in listed] == [key.json()["id"]]
    assert secret not in (await admin.get("/keys")).text
    assert [m["name"] for m in (await admin.get("/models")).json()] == ["m1"]
    assert (await admin.get("/orgs/Acme")).json()["id"] == org.json()["id"]


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("/models", {"name": "m", "upstream_url": "ftp://x"}, 400, "upstream_url"),
        ("/models", {"name": "bad name!", "upstream_url": "http://x/v1"}, 400, "name"),
        ("/models", {"name": "m", "upstream_url": "http://x/v1", "extra": 1}, 400, "extra"),
        ("/models", {"upstream_url": "http://x/v1"}, 400, "name"),
        ("/orgs", {"name": "Org", "country": "XX", "reason": "r"}, 400, "country"),
        ("/orgs", {"name": "Org\u202e", "country": "US", "reason": "r"}, 400, "name"),
        ("/orgs", {"name": "", "country": "US", "reason": "r"}, 400, "name"),
        ("/orgs", {"name": 5, "country": "US", "reason": "r"}, 400, "name"),
        ("/orgs", {"name": "Org", "country": "US", "reason": "   "}, 400, "reason"),
        ("/keys", {"org": "nobody"}, 404, None),
    ],
)
async def test_bad_input_is_refused_precisely_and_changes_nothing(
    admin: httpx.AsyncClient, path: str, body: object, status: int, param: str | None
) -> None:
    response = await admin.post(path, json=body)
    assert response.status_code == status, response.text
    assert error_of(response)["param"] == param
    assert (await admin.get("/orgs")).json() == []
    assert (await admin.get("/models")).json() == []


async def test_entitlements_carry_limits(admin: httpx.AsyncClient) -> None:
    await admin.post("/models", json={"name": "m1", "upstream_url": "http://127.0.0.1:9/v1"})
    await admin.post("/orgs", json={"name": "Acme", "country": "US", "reason": "pilot"})
    limits = {"key": {"rpm": 60}, "organization": {"daily_tokens": 2_000_000}}
    granted = await admin.post(
        "/entitlements", json={"org": "Acme", "model": "m1", "limits": limits}
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["limits"] == limits
    assert (await admin.get("/entitlements")).json()[0]["limits"] == limits
    for bad, param in (
        ({"planet": {"rpm": 1}}, "limits"),
        ({"key": {"rpm": -1}}, "limits.key"),
        ({"key": {"rps": 1}}, "limits.key"),
    ):
        body = {"org": "Acme", "model": "m1", "limits": bad}
        refused = await admin.post("/entitlements", json=body)
        assert refused.status_code == 400, refused.text
        assert error_of(refused)["param"] == param
    assert len((await admin.get("/entitlements")).json()) == 1


async def test_malformed_json_is_a_clear_400(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/orgs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in error_of(response)["message"]


async def test_duplicates_are_409(admin: httpx.AsyncClient) -> None:
    body = {"name": "Org", "country": "US", "reason": "r"}
    assert (await admin.post("/orgs", json=body)).status_code == 201
    response = await admin.post("/orgs", json=body)
    assert response.status_code == 409
    assert error_of(response)["code"] == "already_exists"


async def test_openapi_document_describes_the_routes(admin: httpx.AsyncClient) -> None:
    document = (await admin.get("http://testserver/admin/openapi.json")).json()
    assert {"/v1/models", "/v1/orgs", "/v1/keys", "/v1/audit", "/v1/usage"} <= set(
        document["paths"]
    )
