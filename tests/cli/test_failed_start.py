"""``clearance serve`` that cannot start says why in one ``error:`` line and exits 1 —
no traceback — as every other command's errors do."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.installation import Installed, install
from tests.support.processes import clearance, free_port


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("failed-start"))


def serve(installed: Installed, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return clearance("serve", "--data-dir", str(installed.data_dir), *args, env=env, check=False)


def the_one_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line, having checked there is nothing like a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    assert len(output.splitlines()) <= 5, output
    return errors[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_in_use(installed: Installed, taken_port: int) -> None:
    error = the_one_error(serve(installed, "--port", str(taken_port)))
    assert error == f"error: cannot listen on 127.0.0.1:{taken_port}: address already in use"


def test_an_unreachable_database(installed: Installed) -> None:
    url = f"postgresql+asyncpg://clearance:hunter2@127.0.0.1:{free_port()}/clearance"
    result = serve(installed, "--port", str(free_port()), CLEARANCE_DATABASE_URL=url)
    error = the_one_error(result)
    assert error.startswith("error: cannot reach the database at postgresql+asyncpg://")
    assert error.endswith(": connection refused")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_application_startup(installed: Installed, workers: str) -> None:
    # Something only the serving application trips over: a usage journal it cannot
    # read (a directory where a journal file should be).
    broken = Path(installed.data_dir) / "usage-journal" / "broken.journal"
    broken.mkdir(parents=True)
    try:
        result = serve(installed, "--port", str(free_port()), "--workers", workers)
    finally:
        broken.rmdir()
    if workers == "1":
        error = the_one_error(result)
        assert error.startswith("error: the server could not start: IsADirectoryError")
        assert "broken.journal" in error
        return
    # Each worker that failed says so, in one line of its own.
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors, output
    assert all("IsADirectoryError" in line and "broken.journal" in line for line in errors)
