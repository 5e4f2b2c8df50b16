"""``clearance usage list`` and ``usage show``: the usage records of a serving
installation, filtered, and the same as the admin API's ``/admin/v1/usage``."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.support.installation import Live, finished_usage

ORG = "Usage Readers Ltd"


def ask(live: Live, key: str, model: str) -> httpx.Response:
    return httpx.post(
        f"{live.v1}/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hello"}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def admin(live: Live, route: str) -> Any:
    response = httpx.get(f"{live.base_url}/admin/v1{route}", headers=live.admin_headers())
    assert response.status_code == 200, response.text
    return response.json()


def test_usage_list_and_show_as_the_admin_api(live: Live) -> None:
    # An organization and key of this test's own, so other tests' requests stay out.
    live.cli("orgs", "add", ORG, "--country", "US", "--reason", "usage test")
    live.cli("entitlements", "grant", "--org", ORG, "--model", "stub-chat")
    key = json.loads(live.cli("keys", "create", "--org", ORG, "-o", "json"))
    deadline = time.monotonic() + 10
    while (served := ask(live, key["key"], "stub-chat")).status_code == 401:
        assert time.monotonic() < deadline, "the server never saw the new key"
        time.sleep(0.1)  # it notices new keys within state_refresh_interval
    assert served.status_code == 200, served.text
    refused = ask(live, key["key"], "stub-fixed")  # a model the organization may not use
    assert refused.status_code == 403, refused.text
    ok, no = (finished_usage(live, r.headers["x-request-id"]) for r in (served, refused))

    listed = json.loads(live.cli("usage", "list", "--key", key["id"], "-o", "json"))
    assert listed == admin(live, f"/usage?org={ok['org_id']}")
    assert [r["request_id"] for r in listed] == [no["request_id"], ok["request_id"]]
    by_org_name = json.loads(live.cli("usage", "list", "--org", ORG, "-o", "json"))
    assert by_org_name == listed
    only_ok = json.loads(live.cli("usage", "list", "--org", ORG, "--status", "200", "-o", "json"))
    assert only_ok == [ok]
    by_model = live.cli("usage", "list", "--org", ORG, "--model", "stub-fixed", "-o", "json")
    assert json.loads(by_model) == [no]
    later = live.cli("usage", "list", "--org", ORG, "--since", "2999-01-01T00:00:00Z", "-o", "json")
    assert json.loads(later) == []
    newest = live.cli("usage", "list", "--org", ORG, "--limit", "1", "-o", "json")
    assert json.loads(newest) == [no]

    shown = json.loads(live.cli("usage", "show", ok["request_id"], "-o", "json"))
    assert shown == admin(live, f"/usage/{ok['request_id']}") == ok
    text = live.cli("usage", "show", ok["request_id"])
    assert f"request_id         {ok['request_id']}" in text.splitlines()
    table = live.cli("usage", "list", "--org", ORG).splitlines()  # piped: tab-separated
    assert table[0].split("\t")[:3] == ["request", "started", "org"]
    assert [line.split("\t")[0] for line in table[1:]] == [no["request_id"], ok["request_id"]]

    missing = live.cli("usage", "show", "req_nothing", check=False)
    assert missing == ""  # the error is one line on stderr (see test_cli)
