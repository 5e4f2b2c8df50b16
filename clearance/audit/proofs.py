"""Proving one entry: the entry, its leaf hash, and an RFC 9162 inclusion proof in a
signed checkpoint — everything a third party needs to check it alone."""

from __future__ import annotations

from dataclasses import dataclass

from clearance.audit.checkpoints import Checkpointer
from clearance.audit.models import AuditEntry, StoredCheckpoint
from clearance.audit.services import AuditLog
from clearance.audit.tlog import merkle
from clearance.audit.tree import MerkleTree
from clearance.errors import InvalidInput, InvalidState, NotFound


@dataclass(frozen=True)
class EntryProof:
    entry: AuditEntry
    leaf_hash: bytes
    checkpoint: StoredCheckpoint
    proof: list[bytes]


class Prover:
    def __init__(self, audit: AuditLog, tree: MerkleTree, checkpoints: Checkpointer) -> None:
        self._audit = audit
        self._tree = tree
        self._checkpoints = checkpoints

    async def prove(self, index: int, size: int | None = None) -> EntryProof:
        """Prove entry ``index`` in the checkpoint of ``size`` (default: the latest,
        signing a new one first if the entry is not yet covered)."""
        entry = await self._audit.entry(index)
        if entry is None:
            raise NotFound(f"there is no audit entry {index}")
        checkpoint = await self._checkpoint(index, size)
        proof = await self._tree.inclusion_proof(index, checkpoint.size)
        leaf = merkle.leaf_hash(entry.body)
        try:
            merkle.verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root)
        except merkle.ProofError as exc:
            raise InvalidState(
                f"the stored tree does not prove entry {index} ({exc}): "
                "the database may have been tampered with"
            ) from None
        return EntryProof(entry, leaf, checkpoint, proof)

    async def _checkpoint(self, index: int, size: int | None) -> StoredCheckpoint:
        if size is not None:
            chosen = await self._checkpoints.at_size(size)
            if chosen is None or size <= index:
                raise InvalidInput(
                    f"there is no checkpoint of size {size} containing entry {index}", "size"
                )
            return chosen
        latest = await self._checkpoints.latest()
        if latest is None or latest.size <= index:
            latest = await self._checkpoints.update(force=True) or latest
        if latest is None or latest.size <= index:
            raise InvalidState(f"entry {index} is not yet in a checkpoint")
        return latest
