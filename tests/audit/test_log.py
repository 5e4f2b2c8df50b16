"""The log's storage and tree on each backend: sequencing, integration, checkpoints,
proofs, and resuming after a restart."""

from __future__ import annotations

import asyncio

import pytest

from clearance.audit.events import ModelRegistered
from clearance.audit.tlog import merkle
from clearance.audit.tlog.checkpoint import Checkpoint
from clearance.audit.tlog.note import open_note
from clearance.audit.tree import MerkleTree
from clearance.container import Services
from clearance.installation import read_log_signer


def event(index: int) -> ModelRegistered:
    return ModelRegistered(
        actor="local:test",
        model_id=f"mdl_{index}",
        name=f"model-{index}",
        spec={"upstream_url": "http://127.0.0.1:9/v1", "upstream_model": "m"},
    )


async def append(services: Services, count: int, per_transaction: int = 50) -> None:
    for start in range(0, count, per_transaction):
        async with services.db.transaction() as conn:
            await services.audit.append_many(
                conn, [event(i) for i in range(start, min(count, start + per_transaction))]
            )


async def test_entries_are_numbered_from_zero_without_gaps_under_concurrency(
    services: Services,
) -> None:
    async def one(index: int) -> int:
        async with services.db.transaction() as conn:
            return await services.audit.append(conn, event(index))

    numbers = await asyncio.gather(*(one(i) for i in range(40)))
    assert sorted(numbers) == list(range(40))
    stored = await services.audit.entries(limit=100)
    assert [e.seq for e in stored] == list(range(40))


async def test_integration_checkpoint_and_proofs(services: Services) -> None:
    await append(services, 600)
    checkpoint = await services.checkpoints.update(force=True)
    assert checkpoint is not None
    assert checkpoint.size == 600
    vkey = read_log_signer(services.settings).verifier()
    opened = open_note(checkpoint.note, [vkey])
    body = Checkpoint.parse(opened.text)
    assert (body.origin, body.size, body.root) == (vkey.name, 600, checkpoint.root)
    entries = await services.audit.entries(limit=1000)
    leaves = [merkle.leaf_hash(e.body) for e in entries]
    assert merkle.root_of(leaves) == checkpoint.root
    for index in (0, 1, 255, 256, 511, 599):
        proof = await services.tree.inclusion_proof(index, 600)
        merkle.verify_inclusion(leaves[index], index, 600, proof, checkpoint.root)


async def test_consistency_between_checkpoints(services: Services) -> None:
    await append(services, 300)
    first = await services.checkpoints.update(force=True)
    await append(services, 77)
    second = await services.checkpoints.update(force=True)
    assert first is not None
    assert second is not None
    proof = await services.tree.consistency_proof(first.size, second.size)
    merkle.verify_consistency(first.size, second.size, proof, first.root, second.root)


async def test_a_new_process_resumes_the_tree(services: Services) -> None:
    await append(services, 260)
    await services.tree.integrate()
    await append(services, 5)
    fresh = MerkleTree(services.db)  # no cached right edge: reads it from the store
    state = await fresh.integrate()
    entries = await services.audit.entries(limit=1000)
    assert state.size == 265
    assert state.root == merkle.root_of([merkle.leaf_hash(e.body) for e in entries])


async def test_checkpoints_wait_for_enough_entries_or_time(services: Services) -> None:
    await append(services, 3)
    assert await services.checkpoints.update() is not None  # the first is always due
    await append(services, 2)
    assert await services.checkpoints.update() is None  # neither 1000 entries nor 5 s
    assert (await services.checkpoints.latest()).size == 3  # type: ignore[union-attr]
    assert await services.checkpoints.update(force=True) is not None
    assert await services.checkpoints.update(force=True) is None  # nothing new to sign


async def test_an_oversized_entry_is_refused(services: Services) -> None:
    huge = ModelRegistered(actor="x" * 70_000, model_id="m", name="n", spec={})
    with pytest.raises(ValueError, match="over 65535"):
        async with services.db.transaction() as conn:
            await services.audit.append(conn, huge)
    assert await services.audit.count() == 0
