"""Tampering with stored entries, or rolling the log back, is caught by the verifier
with a message naming what broke; an unmodified log verifies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clearance.audit.tlog.keys import Signer
from clearance.audit.verify import SavedState, VerificationFailed, verify
from tests.audit.conftest import Published


async def verify_fails(published: Published, state: SavedState | None = None) -> str:
    with pytest.raises(VerificationFailed) as caught:
        await verify(published.fetch, published.vkey, state)
    return str(caught.value)


async def test_changing_an_entry(published: Published) -> None:
    await published.grow(300)
    await published.sql(
        "UPDATE audit_entries SET body = CAST(replace(body, 'model-7', 'model-X') AS BLOB) WHERE seq = 7"
    )
    message = await verify_fails(published)
    assert "entry 7" in message
    assert "altered" in message


async def test_deleting_an_entry(published: Published) -> None:
    await published.grow(300)
    await published.sql("DELETE FROM audit_entries WHERE seq = 260")
    message = await verify_fails(published)
    assert "tile/entries/001.p/44 holds 43 entries" in message
    assert "deleted" in message


async def test_reordering_entries(published: Published) -> None:
    await published.grow(300)
    await published.sql("UPDATE audit_entries SET seq = -1 WHERE seq = 3")
    await published.sql("UPDATE audit_entries SET seq = 3 WHERE seq = 4")
    await published.sql("UPDATE audit_entries SET seq = 4 WHERE seq = -1")
    message = await verify_fails(published)
    assert "entry 3" in message
    assert "committed as entry 4" in message


async def test_inserting_an_entry(published: Published) -> None:
    await published.grow(300)
    # Make room after entry 9 and slip a forged entry in.
    for seq in range(299, 9, -1):
        await published.sql(
            "UPDATE audit_entries SET seq = :new WHERE seq = :old", new=seq + 1, old=seq
        )
    await published.sql(
        "INSERT INTO audit_entries (seq, recorded_at, kind, actor, body) "
        "SELECT 10, recorded_at, kind, actor, CAST(replace(body, 'model-', 'forged-') AS BLOB) "
        "FROM audit_entries WHERE seq = 9"
    )
    message = await verify_fails(published)
    assert "entry 10" in message


async def test_changing_the_tree_itself(published: Published) -> None:
    await published.grow(300)
    await published.sql(
        "UPDATE audit_tree_nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 0"
    )
    message = await verify_fails(published)
    assert "tile/1/000.p/1" in message


async def test_rollback_and_fork_against_saved_state(published: Published, tmp_path: Path) -> None:
    db_file = published.services.settings.data_dir / "clearance.db"
    await published.grow(100)
    await published.services.db.dispose()
    shutil.copy(db_file, tmp_path / "old.db")
    await published.grow(50)
    first = await verify(published.fetch, published.vkey)
    state = SavedState(first.checkpoint.origin, first.checkpoint.size, first.checkpoint.root)

    await published.services.db.dispose()
    shutil.copy(tmp_path / "old.db", db_file)
    assert "rollback" in await verify_fails(published, state)

    await published.grow(80)  # a different history grown past the state's size
    message = await verify_fails(published, state)
    assert "fork" in message
    assert "150" in message


async def test_a_checkpoint_signed_by_another_key_is_refused(published: Published) -> None:
    await published.grow(5)
    other = Signer.generate(published.vkey.split("+")[0]).verifier().to_vkey()
    with pytest.raises(VerificationFailed, match="does not verify"):
        await verify(published.fetch, other)


async def test_a_same_size_tree_with_another_root_is_a_fork(
    published: Published, tmp_path: Path
) -> None:
    """A server restored to an earlier copy that grows back to the size an auditor
    pinned, with other entries, is caught at once — before anything is downloaded."""
    db_file = published.services.settings.data_dir / "clearance.db"
    await published.grow(100)
    await published.services.db.dispose()
    shutil.copy(db_file, tmp_path / "old.db")
    await published.grow(50)
    pinned = await verify(published.fetch, published.vkey)
    state = SavedState(pinned.checkpoint.origin, pinned.checkpoint.size, pinned.checkpoint.root)

    await published.services.db.dispose()
    shutil.copy(tmp_path / "old.db", db_file)
    await published.grow(50)  # the same size again, re-signed over other entries
    fetched: list[str] = []

    async def fetch(path: str) -> bytes:
        fetched.append(path)
        return await published.fetch(path)

    with pytest.raises(VerificationFailed) as caught:
        await verify(fetch, published.vkey, state)
    message = str(caught.value)
    assert message.startswith("fork: the log's checkpoint of 150 entries has a different root")
    assert "both signed by the log's key" in message
    assert fetched == ["checkpoint"]


async def test_a_rollback_names_the_evidence(published: Published) -> None:
    await published.grow(20)
    now = await verify(published.fetch, published.vkey)
    later = SavedState(now.checkpoint.origin, 30, now.checkpoint.root)
    message = await verify_fails(published, later)
    assert "rollback: the log now has 20 entries, fewer than the 30 verified before" in message
    assert "the state file is left unchanged" in message


def test_a_state_file_that_cannot_be_kept_is_refused_before_verifying(tmp_path: Path) -> None:
    assert SavedState.load(tmp_path / "new.json") is None  # a first run: created later
    with pytest.raises(VerificationFailed, match="is not a directory"):
        SavedState.load(tmp_path / "missing" / "state.json")
    (tmp_path / "bad.json").write_text('{"origin": "x", "size": 3, "root": "AAAA"}')
    with pytest.raises(VerificationFailed, match="unreadable: root is 3 bytes"):
        SavedState.load(tmp_path / "bad.json")
    with pytest.raises(VerificationFailed, match="cannot read state file"):
        SavedState.load(tmp_path)  # a directory
