"""Every gateway request leaves one access line in the server's log — ids, model,
status, tokens, latency, never a key or a word of content — unless ``access_log`` is
off; and with ``log_json`` every line the server writes is JSON, uvicorn's own too."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from clearance.gateway.access import ATOMIC_WRITE, AccessLog
from tests.support.installation import Cli, Live, serving

ACCESS_FIELDS = {
    "request_id",
    "endpoint",
    "org_id",
    "key_id",
    "model",
    "stream",
    "status",
    "code",
    "prompt_tokens",
    "completion_tokens",
    "latency_ms",
    "client_ip",
    "event",
    "pid",
    "level",
    "timestamp",
}


def lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def access_lines(log: Path, request_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    """The access lines of ``request_id``, once there is one (written just after the
    response's last byte)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            line
            for line in lines(log)
            if line.get("event") == "request" and line.get("request_id") == request_id
        ]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no access line for {request_id}")


def test_a_request_leaves_one_access_line_with_its_metadata_only(live: Live) -> None:
    words = f"access-line-probe {uuid.uuid4().hex}"
    with openai.OpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="stub-chat", messages=[{"role": "user", "content": words}]
        )
    reply = raw.parse()
    assert reply.usage is not None
    (line,) = access_lines(live.log, raw.headers["x-request-id"])
    assert set(line) == ACCESS_FIELDS
    assert line["org_id"].startswith("org_")
    assert line["key_id"].startswith("key_")
    assert (line["endpoint"], line["model"], line["stream"]) == (
        "chat.completions",
        "stub-chat",
        False,
    )
    assert (line["status"], line["code"], line["level"]) == (200, None, "info")
    assert (line["prompt_tokens"], line["completion_tokens"]) == (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    )
    assert isinstance(line["latency_ms"], float)
    log = live.log.read_text()
    assert live.api_key not in log
    assert live.api_key.split("_")[-1][-12:] not in log  # nor any piece of it
    assert words.split()[1] not in log


def test_streams_and_refusals_leave_one_line_each(live: Live) -> None:
    sdk = anthropic.Anthropic(base_url=live.base_url, api_key=live.api_key, max_retries=0)
    with (
        sdk,
        sdk.messages.stream(
            model="claude-stub", max_tokens=20, messages=[{"role": "user", "content": "a b c"}]
        ) as stream,
    ):
        text = stream.get_final_text()
        request_id = stream.response.headers["x-request-id"]
    assert text
    (line,) = access_lines(live.log, request_id)
    assert (line["endpoint"], line["stream"], line["status"]) == ("messages", True, 200)
    assert line["completion_tokens"] > 0

    client = openai.OpenAI(base_url=live.v1, api_key=live.api_key, max_retries=0)
    unknown = f"no-such-model-{uuid.uuid4().hex}"
    with client, pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model=unknown, messages=[{"role": "user", "content": "x"}])
    request_id = refused.value.response.headers["x-request-id"]
    (line,) = access_lines(live.log, request_id)
    assert (line["status"], line["code"], line["model"]) == (404, "model_not_found", None)
    assert unknown not in live.log.read_text()  # the client's text, not a registered name


def test_with_log_json_every_line_is_json_uvicorns_own_included(live: Live) -> None:
    text = live.log.read_text()
    parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    from_uvicorn = [line for line in parsed if line.get("logger", "").startswith("uvicorn")]
    assert any(line["event"].startswith("Started server process") for line in from_uvicorn)
    assert all({"level", "timestamp", "pid"} <= set(line) for line in from_uvicorn)


def test_access_log_off_leaves_no_line(tmp_path: Path, upstream_url: str) -> None:
    def setup(cli: Cli) -> str:
        cli("models", "add", "chat", "--upstream-url", upstream_url, "--upstream-model", "echo")
        cli("orgs", "add", "Quiet Lab", "--country", "US", "--reason", "test")
        cli("entitlements", "grant", "--org", "Quiet Lab", "--model", "chat")
        return str(
            json.loads(cli("keys", "create", "--org", "Quiet Lab", "--output", "json"))["key"]
        )

    with serving(tmp_path, setup, env={"CLEARANCE_ACCESS_LOG": "false"}) as quiet:
        sdk = openai.OpenAI(base_url=quiet.v1, api_key=quiet.api_key, max_retries=0)
        with sdk:
            for _ in range(3):
                raw = sdk.chat.completions.with_raw_response.create(
                    model="chat", messages=[{"role": "user", "content": "hello"}]
                )
                assert raw.http_response.status_code == 200
    logged = lines(quiet.log)  # the server has stopped: all it would write is there
    assert logged, "the server logs (JSON) as ever"
    assert [line for line in logged if line.get("event") == "request"] == []


def test_waiting_lines_go_out_in_writes_a_pipe_keeps_whole() -> None:
    """Several processes share the log pipe (serve --workers N): a write of at most
    PIPE_BUF bytes never interleaves with another's, so the batch goes in such writes,
    each of whole lines (a longer line alone)."""
    writes: list[str] = []
    access = AccessLog(writes.append)
    lines = [json.dumps({"n": n, "pad": "x" * 90}) for n in range(256)]
    access._pending = [*lines, "y" * 5000, "z"]
    access.flush()
    assert "\n".join(writes).split("\n") == [*lines, "y" * 5000, "z"]  # all, in order
    assert len(writes) > 1
    assert all(len(w) + 1 <= ATOMIC_WRITE for w in writes if "y" * 5000 not in w)
    assert "y" * 5000 in writes  # alone
