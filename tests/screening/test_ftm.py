"""The FollowTheMoney JSON-lines importer."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.screening.entries import ListEntry, ListFormatError
from clearance.screening.formats import load


def test_parties_are_kept_and_the_rest_skipped(fixtures: Path) -> None:
    entries = load(fixtures / "ftm.jsonl", "ftm")
    assert [e.entry_id for e in entries] == [
        "ftm-person-1",
        "ftm-company-1",
        "ftm-org-1",
        "ftm-vessel-1",
        "ftm-plane-1",
        "ftm-legal-1",
        "ftm-public-1",
        "ftm-company-2",
        "ftm-person-2",
    ]  # no Address, Sanction, Ownership, nor the vessel without a name
    assert entries[0] == ListEntry(
        source="ftm",
        entry_id="ftm-person-1",
        kind="person",
        name="Aleksei Morozov",
        aliases=("Алексей Морозов", "MOROZOV, Aleksei", "Lyosha"),
        countries=("RU",),
        programs=("RUSSIA-EO14024",),
        list_name="us_ofac_sdn",
        remarks="Fictional person for tests.",
    )


def test_kinds_names_and_countries(fixtures: Path) -> None:
    by_id = {e.entry_id: e for e in load(fixtures / "ftm.jsonl", "ftm")}
    assert by_id["ftm-company-1"].aliases == ("华星电子有限公司", "Huaxing Microsystems")
    assert by_id["ftm-company-1"].countries == ("CN",)  # jurisdiction
    assert by_id["ftm-vessel-1"].kind == "vessel"
    assert by_id["ftm-vessel-1"].countries == ("PA",)  # flag
    assert by_id["ftm-plane-1"].kind == "aircraft"
    assert by_id["ftm-legal-1"].kind == "unknown"
    assert by_id["ftm-public-1"].kind == "organization"
    assert by_id["ftm-public-1"].countries == ("XK",)  # "suhh" has no alpha-2 code
    assert by_id["ftm-org-1"].list_name == "us_ofac_sdn, gb_hmt_sanctions"


def test_a_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "entities.ftm.json"
    path.write_text(
        '{"id": "a", "schema": "Person", "properties": {"name": ["A B"]}}\n'
        "\n"
        '{"id": "b", "schema": "Person", "properties": {"name": ["C D"]}\n',
        encoding="utf-8",
    )
    with pytest.raises(ListFormatError) as caught:
        load(path, "ftm")
    assert caught.value.line == 3
    assert str(caught.value).startswith(f"{path}, line 3: invalid JSON")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('["not", "an", "entity"]', "expected a JSON object"),
        ('{"schema": "Person"}', 'the entity has no "id"'),
        ('{"id": "x"}', 'entity x has no "schema"'),
        ('{"id": "x", "schema": "Person", "properties": {"name": "A"}}', "property 'name' must be"),
    ],
)
def test_malformed_entities_are_named(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ListFormatError, match=f"line 1: .*{problem}"):
        load(path, "ftm")
