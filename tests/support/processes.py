"""Starting real processes (the stub upstream, ``clearance serve``) on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.leakscan import SCANNER

PYTHON = sys.executable
CONSOLE_SCRIPT = str(Path(sys.executable).parent / "clearance")
"""``clearance`` as a user types it (``python -m`` would read ``./clearance`` first)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Cheap argon2id for tests: the cost parameters are settings, and the suite creates
# many accounts. Production keeps the defaults (RFC 9106's second recommendation).
FAST_PASSWORDS = {
    "CLEARANCE_PASSWORD_TIME_COST": "1",
    "CLEARANCE_PASSWORD_MEMORY_KIB": "64",
    "CLEARANCE_PASSWORD_PARALLELISM": "1",
}


def clearance(
    *args: str, env: dict[str, str] | None = None, check: bool = True, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``clearance`` CLI as a user would (as the operator ``token``, if given)."""
    extra = {"CLEARANCE_TOKEN": token} if token else {}
    result = subprocess.run(
        [PYTHON, "-m", "clearance", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **FAST_PASSWORDS, **extra, **(env or {})},
        timeout=120,
        check=False,
    )
    SCANNER.record_cli(args, result.stdout + result.stderr)
    if check and result.returncode != 0:
        raise AssertionError(
            f"clearance {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    timeout: float = 30.0,
    verify: ssl.SSLContext | bool = True,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {url} was up")
        try:
            if httpx.get(url, timeout=1, verify=verify).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not come up within {timeout}s")


@contextmanager
def running(
    args: Sequence[str],
    ready_url: str,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` (in ``cwd``) until the block ends; its output goes to ``log``
    (``verify``: how to check the certificate of an https ``ready_url``)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **FAST_PASSWORDS, **(env or {})},
            cwd=cwd,
        )
        try:
            wait_until_up(ready_url, process, verify=verify)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def stub_upstream(log: Path) -> Iterator[str]:
    """The stand-in OpenAI-compatible upstream as its own process; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    with running(
        [PYTHON, "-m", "clearance.demo.stub_upstream", "--port", str(port)], f"{base}/models", log
    ):
        yield base
