"""Loading by format name: dispatch, CSV/JSON sniffing, snapshot digests, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from clearance.screening.entries import ListFormatError
from clearance.screening.formats import load, load_snapshot, sniff_csl


def test_snapshot_digest_is_the_file_sha256(fixtures: Path) -> None:
    path = fixtures / "csl.csv"
    result = load_snapshot(path, "csl")
    assert result.format == "csl"
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.entries == tuple(load(path, "csl"))


def test_the_csl_form_is_sniffed() -> None:
    assert sniff_csl(b'\xef\xbb\xbf \n {"results": []}') == "json"
    assert sniff_csl(b"[]") == "json"
    assert sniff_csl(b"_id,source") == "csv"


def test_an_unknown_format_is_refused(fixtures: Path) -> None:
    with pytest.raises(ListFormatError, match="unknown list format 'xml'"):
        load(fixtures / "csl.csv", "xml")


def test_a_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ListFormatError, match=r"nowhere\.csv: file not found"):
        load(tmp_path / "nowhere.csv", "csl")
    with pytest.raises(ListFormatError, match="is a directory"):
        load(tmp_path, "ftm")


def test_format_errors_are_value_errors(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.csv, line 1: the file is empty"):
        load(path, "csl")
