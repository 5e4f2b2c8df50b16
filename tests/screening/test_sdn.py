"""The OFAC SDN legacy CSV importer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearance.screening.entries import ListEntry, ListFormatError
from clearance.screening.formats import load, load_snapshot
from clearance.screening.formats.sdn import LIST_NAME, reorder_person


@pytest.fixture
def sdn_dir(fixtures: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sdn"
    shutil.copytree(fixtures / "sdn", target)
    return target


def test_entries_with_aliases_and_addresses(fixtures: Path) -> None:
    entries = load(fixtures / "sdn" / "sdn.csv", "sdn")
    assert len(entries) == 12
    by_id = {e.entry_id: e for e in entries}
    assert by_id["101"] == ListEntry(
        source="sdn",
        entry_id="101",
        kind="person",
        name="PETRENKO, Oleksandr",
        aliases=(
            "Oleksandr PETRENKO",
            "Петренко Олександр",
            "PETRENKO, Aleksandr",
            "Aleksandr PETRENKO",
        ),
        countries=("UA",),
        programs=("UKRAINE-EO13660",),
        list_name=LIST_NAME,
        remarks="DOB 12 Mar 1971; nationality Ukraine; Gender Male.",
    )
    assert by_id["102"].kind == "organization"  # SDN_Type -0-
    assert by_id["102"].aliases == ("ООО Волна Шиппинг", "VOLNA SHIPPING LLC")
    assert by_id["103"].kind == "vessel"
    assert by_id["103"].countries == ("IR",)  # the flag
    assert by_id["104"].kind == "aircraft"
    assert by_id["106"].programs == ("SDGT", "IRGC")
    assert by_id["106"].countries == ("HK", "IR")
    assert by_id["112"].countries == ("KP",)  # "Korea, North"


def test_empty_markers_become_empty(fixtures: Path) -> None:
    by_id = {e.entry_id: e for e in load(fixtures / "sdn" / "sdn.csv", "sdn")}
    assert by_id["102"].remarks == ""
    assert by_id["111"].countries == ()  # an address of nothing but -0-
    assert all("-0-" not in value for e in by_id.values() for value in (e.remarks, *e.aliases))


def test_the_trailing_end_of_file_character_is_ignored(fixtures: Path) -> None:
    for name in ("sdn.csv", "alt.csv", "add.csv"):
        assert (fixtures / "sdn" / name).read_bytes().endswith(b"\r\n\x1a")
    entries = load(fixtures / "sdn" / "sdn.csv", "sdn")
    assert entries[-1].name == "EASTERN PEARL LIMITED"


def test_alt_and_add_are_optional(sdn_dir: Path) -> None:
    (sdn_dir / "alt.csv").unlink()
    (sdn_dir / "add.csv").unlink()
    result = load_snapshot(sdn_dir / "sdn.csv", "sdn")
    assert len(result.entries) == 12
    assert [f.path.name for f in result.files] == ["sdn.csv"]
    petrenko = result.entries[0]
    assert petrenko.aliases == ("Oleksandr PETRENKO",)
    assert petrenko.countries == ("UA",)  # from the remarks


def test_snapshot_digest_covers_all_three_files(fixtures: Path, sdn_dir: Path) -> None:
    before = load_snapshot(fixtures / "sdn" / "sdn.csv", "sdn")
    assert [f.path.name for f in before.files] == ["sdn.csv", "alt.csv", "add.csv"]
    alt = sdn_dir / "alt.csv"
    alt.write_bytes(
        alt.read_bytes().rstrip(b"\x1a") + b'112,212,"aka","EASTERN PEARL LTD",-0- \r\n'
    )
    after = load_snapshot(sdn_dir / "sdn.csv", "sdn")
    assert after.files[0].sha256 == before.files[0].sha256
    assert after.sha256 != before.sha256
    assert after.entries[-1].aliases == ("EASTERN PEARL LTD",)


def test_a_row_with_too_few_columns_names_file_and_line(sdn_dir: Path) -> None:
    path = sdn_dir / "sdn.csv"
    lines = path.read_bytes().split(b"\r\n")
    lines[4] = b'105,"NASSER, Yusuf","individual","SDGT"'
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(ListFormatError) as caught:
        load(path, "sdn")
    assert str(caught.value).startswith(f"{path}, line 5: expected 12 columns (ent_num, SDN_Name")
    assert str(caught.value).endswith("found 4")


def test_a_bad_alias_row_names_alt_csv(sdn_dir: Path) -> None:
    with (sdn_dir / "alt.csv").open("ab") as alt:
        alt.write(b'\r\nabc,1,"aka","X",-0- \r\n')
    with pytest.raises(ListFormatError, match=r"alt\.csv, line 13: ent_num 'abc' is not a number"):
        load(sdn_dir / "sdn.csv", "sdn")


def test_an_unknown_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sdn.csv"
    path.write_text('1,"ACME","spaceship","X",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n', "utf-8")
    with pytest.raises(ListFormatError, match="line 1: unknown SDN_Type 'spaceship'"):
        load(path, "sdn")


def test_latin_1_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "sdn.csv"
    path.write_bytes(
        '7,"MÜLLER, José","individual","X",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n'.encode("latin-1")
    )
    (entry,) = load(path, "sdn")
    assert entry.name == "MÜLLER, José"
    assert entry.aliases == ("José MÜLLER",)


def test_reorder_person() -> None:
    assert reorder_person("IVANOV, Ivan") == "Ivan IVANOV"
    assert reorder_person("MADONNA") is None
    assert reorder_person("ODD, ") is None
