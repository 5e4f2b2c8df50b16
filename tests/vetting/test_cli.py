"""The vetting commands as an operator types them: importing lists, checking a name,
submitting and screening an application, appeals."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.support.installation import install
from tests.support.processes import clearance
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
    none = clearance(
        "screening", "check", "--name", "Harmless Bakery Ltd", "--list", str(FIXTURES / "csl.csv")
    )
    assert "No candidate matches." in none.stdout
    bad = clearance(
        "screening",
        "check",
        "--name",
        "x",
        "--list",
        str(FIXTURES / "csl.json"),
        "--list-format",
        "ftm",
        check=False,
    )
    assert bad.returncode == 1
    assert "error:" in bad.stderr


def test_import_submit_screen_reject_and_appeal(tmp_path: Path, upstream_url: str) -> None:
    installed = install(tmp_path / "inst")
    data = ("--data-dir", str(installed.data_dir))

    def cli(*args: str, check: bool = True) -> str:
        result = clearance(*args, *data, token=installed.admin_token, check=check)
        return result.stdout + result.stderr

    cli("models", "add", "cyber-pro", "--upstream-url", upstream_url, "--upstream-model", "echo")
    assert "Imported" in cli(
        "screening", "import", str(FIXTURES / "sdn" / "sdn.csv"), "--format", "sdn"
    )
    bad = cli("screening", "import", str(FIXTURES / "csl.csv"), "--format", "ftm", check=False)
    assert "error:" in bad
    listed = json.loads(cli("screening", "lists", "--output", "json"))
    assert [snap["format"] for snap in listed] == ["sdn"]
    path = tmp_path / "application.yaml"
    path.write_text(yaml.safe_dump(form(), allow_unicode=True), encoding="utf-8")
    submitted = json.loads(cli("applications", "submit", str(path), "--output", "json"))
    assert "in_review" in cli("applications", "screen", submitted["id"])
    cli("applications", "reject", submitted["id"], "--reason", "incomplete documentation")
    assert "Filed appeal" in cli(
        "applications", "appeal", submitted["id"], "--grounds", "documents attached"
    )
    shown = json.loads(cli("applications", "show", submitted["id"], "--output", "json"))
    assert shown["status"] == "rejected"
    assert [row["action"] for row in shown["history"]][-2:] == ["reject", "appeal_filed"]
    refused = cli("applications", "approve", submitted["id"], check=False)
    assert "error: the admin role may not do this (needs applications:approve)" in refused
