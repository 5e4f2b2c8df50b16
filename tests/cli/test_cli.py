"""The CLI as a user types it: help, errors, refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from clearance.cli.main import app
from tests.support.processes import clearance

# The first command of each test runs as its own process, exactly as typed; the rest
# run in-process (each new process spends seconds importing before it does anything).
RUNNER = CliRunner()


def test_every_command_has_help() -> None:
    top = clearance("--help").stdout
    for command in ("init", "serve", "demo", "models", "orgs", "keys", "db"):
        assert command in top
    for group, sub in [("models", "add"), ("orgs", "add"), ("keys", "create"), ("keys", "list")]:
        assert "--data-dir" in RUNNER.invoke(app, [group, sub, "--help"]).output


def test_init_creates_private_secrets_and_refuses_to_overwrite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = json.loads(clearance("init", "--data-dir", str(data), "-o", "json").stdout)
    assert first["token"].startswith("clro_")
    for name in ("secrets/server-secret", "secrets/log-signing-key", "clearance.db"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((data / "secrets").stat().st_mode) == 0o700
    assert (data / "secrets/log-signing-key").read_text().startswith("PRIVATE+KEY+")

    again = clearance("init", "--data-dir", str(data), check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    replaced = json.loads(
        clearance("init", "--data-dir", str(data), "--force", "-o", "json").stdout
    )
    assert replaced["token"] != first["token"]


def test_commands_on_an_uninitialized_directory_say_so(tmp_path: Path) -> None:
    result = clearance("orgs", "list", "--data-dir", str(tmp_path / "missing"), check=False)
    assert result.returncode == 1
    assert "clearance init" in result.stderr


def test_commands_need_an_operator_token(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    clearance("init", "--data-dir", data)
    missing = clearance("orgs", "list", "--data-dir", data, check=False)
    assert missing.returncode == 1
    assert "CLEARANCE_TOKEN" in missing.stderr
    wrong = clearance("orgs", "list", "--data-dir", data, check=False, token="clro_" + "x" * 38)
    assert wrong.returncode == 1
    assert "invalid, expired or revoked" in wrong.stderr


def test_bad_input_gets_one_clear_line(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    token = json.loads(clearance("init", "--data-dir", data, "-o", "json").stdout)["token"]
    bad_country = clearance(
        "orgs",
        "add",
        "X",
        "--country",
        "ZZ",
        "--reason",
        "r",
        "--data-dir",
        data,
        check=False,
        token=token,
    )
    assert bad_country.returncode == 1
    assert "country" in bad_country.stderr
    assert "Traceback" not in bad_country.stderr
    env = {"CLEARANCE_TOKEN": token}
    missing_reason = RUNNER.invoke(
        app, ["orgs", "add", "X", "--country", "US", "--data-dir", data], env=env
    )
    assert missing_reason.exit_code == 2
    assert "--reason" in missing_reason.output
    no_org = RUNNER.invoke(app, ["keys", "create", "--org", "nobody", "--data-dir", data], env=env)
    assert no_org.exit_code == 1
    assert "no organization" in no_org.output
    assert "Traceback" not in no_org.output
    listed = RUNNER.invoke(app, ["keys", "list", "--data-dir", data, "-o", "json"], env=env)
    assert json.loads(listed.stdout) == []
