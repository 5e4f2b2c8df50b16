"""The vetting commands as an operator types them: importing lists, checking a name,
submitting and screening an application, appeals. One check runs as a separate process
(no installation at all); the rest run the same command in-process, as scripts would
type it, to spare a second of start-up each."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from clearance.cli.main import app as cli_app
from tests.support.installation import install
from tests.support.leakscan import SCANNER
from tests.support.processes import FAST_PASSWORDS, clearance
from tests.vetting.test_vetting_flow import form

FIXTURES = Path(__file__).parents[1] / "screening" / "fixtures"


def test_check_a_name_against_a_list_file_without_an_installation() -> None:
    out = clearance(
        "screening",
        "check",
        "--name",
        "Romashka Trading OOO",
        "--list",
        str(FIXTURES / "csl.csv"),
        "--output",
        "json",
    ).stdout
    [match] = json.loads(out)
    assert match["name"] == "Romashka Trading LLC"
    assert match["score"] >= 0.7
    assert any("OOO" in why for why in match["why"])
    runner = CliRunner()
    listed = str(FIXTURES / "csl.csv")
    none = runner.invoke(
        cli_app, ["screening", "check", "--name", "Harmless Bakery Ltd", "--list", listed]
    )
    assert "No candidate matches." in none.stdout
    bad = runner.invoke(
        cli_app,
        [
            "screening",
            "check",
            "--name",
            "x",
            "--list",
            str(FIXTURES / "csl.json"),
            "--list-format",
            "ftm",
        ],
    )
    assert bad.exit_code == 1
    assert "error:" in bad.output


def test_import_submit_screen_reject_and_appeal(tmp_path: Path, upstream_url: str) -> None:
    installed = install(tmp_path / "inst")
    runner = CliRunner()
    env = {**FAST_PASSWORDS, "CLEARANCE_TOKEN": installed.admin_token}

    def cli(*args: str, check: bool = True) -> str:
        full = [*args, "--data-dir", str(installed.data_dir)]
        result = runner.invoke(cli_app, full, env=env)
        SCANNER.record_cli(tuple(full), result.output)
        if check:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output if not check else result.stdout

    cli("models", "add", "cyber-pro", "--upstream-url", upstream_url, "--upstream-model", "echo")
    imported = cli("screening", "import", str(FIXTURES / "sdn" / "sdn.csv"), "--format", "sdn")
    assert "Imported" in imported
    bad = cli("screening", "import", str(FIXTURES / "csl.csv"), "--format", "ftm", check=False)
    assert "error:" in bad
    listed = json.loads(cli("screening", "lists", "--output", "json"))
    assert [snap["format"] for snap in listed] == ["sdn"]
    path = tmp_path / "application.yaml"
    path.write_text(yaml.safe_dump(form(), allow_unicode=True), encoding="utf-8")
    submitted = json.loads(cli("applications", "submit", str(path), "--output", "json"))
    assert "in_review" in cli("applications", "screen", submitted["id"])
    cli("applications", "reject", submitted["id"], "--reason", "incomplete documentation")
    filed = cli("applications", "appeal", submitted["id"], "--grounds", "documents attached")
    assert "Filed appeal" in filed
    shown = json.loads(cli("applications", "show", submitted["id"], "--output", "json"))
    assert shown["status"] == "rejected"
    assert [row["action"] for row in shown["history"]][-2:] == ["reject", "appeal_filed"]
    refused = cli("applications", "approve", submitted["id"], check=False)
    assert "error: The admin role may not do this (needs applications:approve)" in refused
