"""Test data shipped in the repository (tests/data), with its provenance beside it."""

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
RFC9162_VECTORS = DATA / "rfc9162"
SIGNED_NOTE_VECTORS = DATA / "signed-note"
