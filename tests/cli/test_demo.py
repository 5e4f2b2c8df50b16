"""The README's first command: ``clearance demo`` prints a curl line that works."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

import orjson

from tests.support.processes import PYTHON, free_port


def _read_until_serving(process: subprocess.Popen[str], timeout: float = 60) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Serving on"):
            return "".join(lines)
    raise AssertionError("demo did not start:\n" + "".join(lines))


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=False)
        if result.returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_demo_prints_a_working_curl_line(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [
            PYTHON,
            "-m",
            "clearance",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            _check_demo(process, port)
        finally:
            process.terminate()
            process.wait(timeout=20)


def _check_demo(process: subprocess.Popen[str], port: int) -> None:
    output = _read_until_serving(process)
    curl_line = next(line for line in output.splitlines() if line.startswith("curl "))
    assert "from openai import OpenAI" in output
    _wait_for(f"http://127.0.0.1:{port}/healthz")

    reply = orjson.loads(
        subprocess.run(shlex.split(curl_line), capture_output=True, check=True).stdout
    )
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "Hello"

    wrong = re.sub(r"Bearer clr_\w+", "Bearer clr_wrongkey", curl_line)
    refused = subprocess.run(
        [*shlex.split(wrong), "-w", "\n%{http_code}"], capture_output=True, check=True, text=True
    )
    body, status = refused.stdout.rsplit("\n", 1)
    assert status == "401"
    assert orjson.loads(body)["error"]["code"] == "invalid_api_key"
