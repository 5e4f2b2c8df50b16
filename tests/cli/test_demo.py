"""The README's first command: ``clearance demo`` prints a curl line that works, and
takes its throwaway data directory with it when stopped."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from tests.support.processes import CONSOLE_SCRIPT, PYTHON, free_port


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


@pytest.mark.parametrize(
    ("stop", "keep"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "ctrl-c-keep"],
)
def test_stopping_the_demo_removes_its_data_directory_unless_kept(
    tmp_path: Path, stop: signal.Signals, keep: bool
) -> None:
    port = free_port()
    # As a user types it, with the temporary directory under this test's own.
    with subprocess.Popen(
        [CONSOLE_SCRIPT, "demo", "--port", str(port), *(["--keep"] if keep else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    ) as process:
        try:
            found = re.search(r"^Clearance demo in (.+)$", _read_until_serving(process), re.M)
            assert found is not None
            data_dir = Path(found[1])
            assert data_dir.parent == tmp_path
            assert (data_dir / "clearance.toml").is_file()
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            process.send_signal(stop)
            rest, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, rest
    if keep:
        assert (data_dir / "clearance.toml").is_file()
        assert rest.splitlines()[-1] == f"Demo data kept in {data_dir}"
    else:
        assert not data_dir.exists(), rest
        assert "kept" not in rest
