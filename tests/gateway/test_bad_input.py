"""Bad input to the gateway: a precise error in OpenAI's shape, a request id, and no
state changed beyond the request's own usage record."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.installation import Live, finished_usage


def post(live: Live, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{live.v1}/chat/completions",
        content=content,
        headers={
            "authorization": f"Bearer {live.api_key}",
            "content-type": "application/json",
            **(headers or {}),
        },
    )


def admin(live: Live, path: str) -> Any:
    response = httpx.get(f"{live.base_url}/admin/v1/{path}", headers=live.admin_headers())
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"", None),
        (b"[1, 2]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": 7, "messages": []}', "model"),
        (b'{"model": "stub-chat"}', "messages"),
        (b'{"model": "stub-chat", "messages": []}', "messages"),
        (b'{"model": "stub-chat", "messages": ["hi"]}', "messages[0]"),
        (b'{"model": "stub-chat", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
    ],
)
def test_malformed_requests_get_400_with_the_offending_field(
    live: Live, body: bytes, param: str | None
) -> None:
    last_seq = admin(live, "audit?limit=1000")[-1]["seq"]
    response = post(live, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]
    request_id = response.headers["x-request-id"]
    new_entries = admin(live, f"audit?after={last_seq}")
    assert {entry["kind"] for entry in new_entries} <= {"usage.batch"}
    (record,) = [r for r in admin(live, "usage?limit=1000") if r["request_id"] == request_id]
    assert (record["status_code"], record["error_code"]) == (400, "invalid_request_error")


def test_oversized_body_is_413(live: Live) -> None:
    response = post(live, b'{"model": "stub-chat", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert response.headers["x-request-id"]


def test_unknown_route_and_method_use_the_error_shape(live: Live) -> None:
    missing = httpx.get(f"{live.v1}/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert missing.headers["x-request-id"]
    wrong_method = httpx.get(f"{live.v1}/chat/completions")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_health_endpoints(live: Live) -> None:
    assert httpx.get(f"{live.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_a_forged_forwarded_for_is_not_believed_without_a_trusted_proxy(live: Live) -> None:
    """The server trusts X-Forwarded-For only from `trusted_proxies` (none here) — not
    from loopback, as the HTTP server underneath would by default."""
    body = b'{"model": "stub-chat", "messages": [{"role": "user", "content": "hi"}]}'
    response = post(live, body, {"x-forwarded-for": "203.0.113.9"})
    assert response.status_code == 200
    record = finished_usage(live, response.headers["x-request-id"])
    assert record["source_ip"] == "127.0.0.1"
