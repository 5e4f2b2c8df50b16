"""The Consolidated Screening List importer, CSV and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.screening.entries import ListEntry, ListFormatError
from clearance.screening.formats import load
from clearance.screening.formats.csl import COLUMNS


def test_the_csv_header_is_the_29_published_columns(fixtures: Path) -> None:
    header = (fixtures / "csl.csv").read_text(encoding="utf-8").splitlines()[0]
    assert tuple(header.split(",")) == COLUMNS
    assert len(COLUMNS) == 29


def test_csv_entries(fixtures: Path) -> None:
    entries = load(fixtures / "csl.csv", "csl")
    assert len(entries) == 15
    assert entries[0] == ListEntry(
        source="csl",
        entry_id="csl-0001",
        kind="organization",
        name="Romashka Trading LLC",
        aliases=("ООО Ромашка Трейдинг", "Romashka Trading House"),
        countries=("RU",),
        programs=("EAR",),
        list_name="Entity List (EL) - Bureau of Industry and Security",
        remarks="Fictional entry for tests.",
    )
    by_id = {e.entry_id: e for e in entries}
    assert by_id["csl-0002"].kind == "person"
    assert by_id["csl-0002"].countries == ("RU",)  # address "Russia", citizenship "RU"
    assert by_id["csl-0005"].programs == ("SDGT", "SYRIA")
    assert by_id["csl-0005"].countries == ("SY",)  # nationality written as a name
    assert by_id["csl-0007"].kind == "vessel"
    assert by_id["csl-0007"].countries == ("PA",)  # the flag
    assert by_id["csl-0008"].kind == "aircraft"
    assert by_id["csl-0008"].countries == ()
    assert by_id["csl-0013"].countries == ("AE", "CY")  # a code and a name, two addresses
    assert by_id["csl-0011"].kind == "organization"  # MEU list, type left empty
    assert by_id["csl-0014"].kind == "unknown"  # not an entity list, type left empty


def test_csv_and_json_give_the_same_entries(fixtures: Path) -> None:
    from_csv = load(fixtures / "csl.csv", "csl")
    from_json = load(fixtures / "csl.json", "csl")
    assert from_json == from_csv


def test_json_may_be_a_bare_list_of_results(fixtures: Path, tmp_path: Path) -> None:
    document = json.loads((fixtures / "csl.json").read_text(encoding="utf-8"))
    bare = tmp_path / "results.json"
    bare.write_text("\n  " + json.dumps(document["results"]), encoding="utf-8")
    assert load(bare, "csl") == load(fixtures / "csl.csv", "csl")


def test_v2_adds_two_entries(fixtures: Path) -> None:
    v1 = load(fixtures / "csl.csv", "csl")
    v2 = load(fixtures / "csl_v2.csv", "csl")
    assert v2[: len(v1)] == v1
    assert [e.name for e in v2[len(v1) :]] == ["Northwind Analytics LLC", "SOKOLOV, Andrei"]


def test_a_row_with_a_missing_column_names_file_and_line(fixtures: Path, tmp_path: Path) -> None:
    lines = (fixtures / "csl.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]  # drop the last (empty) cell of the third entry
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ListFormatError) as caught:
        load(broken, "csl")
    assert str(caught.value) == f"{broken}, line 4: expected 29 columns, found 28"
    assert caught.value.line == 4


def test_a_wrong_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,country\nAcme,RU\n", encoding="utf-8")
    with pytest.raises(ListFormatError, match=r"other\.csv, line 1: not a Consolidated Screening"):
        load(path, "csl")
    path.write_text(",".join(["id", *COLUMNS[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(ListFormatError, match="header column 1 is 'id', expected '_id'"):
        load(path, "csl")


def test_a_row_without_a_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "noname.csv"
    row = ["x"] * 29
    row[5] = " "
    path.write_text(",".join(COLUMNS) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    with pytest.raises(ListFormatError, match=r"line 2: the name column is empty"):
        load(path, "csl")


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "csl.json"
    path.write_text('{"results": [\n  {"name": "Acme"},\n  {"name": }\n]}', encoding="utf-8")
    with pytest.raises(ListFormatError, match=r"csl\.json, line 3: invalid JSON"):
        load(path, "csl")


def test_a_json_record_of_the_wrong_shape_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "csl.json"
    path.write_text('{"results": [{"name": "Acme"}, {"name": ["x"]}]}', encoding="utf-8")
    with pytest.raises(ListFormatError, match=r"record 2: 'name' must be a string"):
        load(path, "csl")
    path.write_text('{"total": 0}', encoding="utf-8")
    with pytest.raises(ListFormatError, match='expected a "results" list'):
        load(path, "csl")


def test_json_entries_without_ids_get_a_stable_one(tmp_path: Path) -> None:
    path = tmp_path / "csl.json"
    path.write_text('[{"name": "Acme Rocket Works", "source": "Entity List (EL)"}]', "utf-8")
    first, second = load(path, "csl"), load(path, "csl")
    assert first == second
    assert len(first[0].entry_id) == 16
    assert first[0].kind == "organization"
