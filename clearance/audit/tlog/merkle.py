"""RFC 9162 Merkle hash trees: hashing, storage-oriented proof planning, verification.

Implements RFC 9162 §2.1 (the RFC 6962 tree with SHA-256):

* §2.1.1 hashing: ``leaf_hash``, ``node_hash``, ``EMPTY_ROOT`` and ``root_of`` (MTH);
* an incremental appender, ``TreeBuilder``, that reports every complete subtree as
  it closes so a log can persist them in a table keyed ``(level, index)``;
* proof *planning* (§2.1.3.1 PATH and §2.1.4.1 SUBPROOF) expressed as the stored
  complete subtrees each proof element is made of, so a caller fetches every hash
  it needs in one query and then calls ``resolve_plan``;
* verification exactly as §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).

Node ``(level, index)`` is the complete subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 is a leaf hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
MAX_UINT64 = 2**64 - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]
"""A complete subtree ``(level, index)``."""

Plan = list[list[Node]]
"""One entry per proof element: the complete subtrees, left to right, that make it."""


class ProofError(ValueError):
    """A Merkle proof (or its parameters) failed verification."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over already-hashed leaves (``EMPTY_ROOT`` for none).

    Works bottom-up: pairing neighbours and promoting an odd last node unchanged
    builds the same left-balanced tree as the RFC's "largest power of two smaller
    than n" split, without recursion or slicing.
    """
    for position, value in enumerate(leaf_hashes):
        _check_hash(f"leaf_hashes[{position}]", value, ValueError)
    if not leaf_hashes:
        return EMPTY_ROOT
    layer = list(leaf_hashes)
    while len(layer) > 1:
        paired = [node_hash(layer[i], layer[i + 1]) for i in range(0, len(layer) - 1, 2)]
        if len(layer) % 2:
            paired.append(layer[-1])
        layer = paired
    return layer[0]


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """Combine consecutive complete-subtree hashes of decreasing size into one MTH.

    Only valid for ranges that start at a multiple of a power of two at least as
    large as the range (every proof element and every tree prefix): there MTH
    splits off the largest subtree first, so the fold runs from the right.
    """
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def subtree_nodes(start: int, end: int) -> list[Node]:
    """Decompose leaves ``[start, end)`` into maximal complete subtrees, left to right."""
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            # A subtree must be aligned: it cannot be larger than start's lowest set bit.
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def right_edge_nodes(size: int) -> list[Node]:
    """The complete subtrees along the right border of a tree of ``size`` leaves.

    Folding their hashes (``fold_subtrees``) yields the root; a ``TreeBuilder``
    resumes from exactly these hashes.
    """
    return subtree_nodes(0, size)


def _split(count: int) -> int:
    """Largest power of two strictly smaller than ``count`` (``count`` >= 2)."""
    return 1 << ((count - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges of PATH(index, D[0:size]) (§2.1.3.1), leaf to root."""
    ranges: list[tuple[int, int]] = []
    low, high = 0, size
    while high - low > 1:
        middle = low + _split(high - low)
        if index < middle:
            ranges.append((middle, high))
            high = middle
        else:
            ranges.append((low, middle))
            low = middle
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges of PROOF(size1, D[0:size2]) (§2.1.4.1), in proof order."""
    outer: list[tuple[int, int]] = []
    low, high = 0, size2
    # SUBPROOF's flag b: stays true while the old tree is the left prefix being descended.
    whole_old_tree = True
    while high != size1:
        middle = low + _split(high - low)
        if size1 <= middle:
            outer.append((middle, high))
            high = middle
        else:
            outer.append((low, middle))
            low = middle
            whole_old_tree = False
    outer.reverse()
    # When the old tree is itself a node of the new one the verifier already has its hash.
    return outer if whole_old_tree else [(low, high), *outer]


def inclusion_plan(index: int, size: int) -> Plan:
    """Plan the inclusion proof for leaf ``index`` in a tree of ``size`` leaves."""
    _check_uint64("index", index, ValueError)
    _check_uint64("size", size, ValueError)
    if index >= size:
        raise ValueError(f"leaf index {index} is not below tree size {size}")
    return [subtree_nodes(start, end) for start, end in _inclusion_ranges(index, size)]


def consistency_plan(size1: int, size2: int) -> Plan:
    """Plan the consistency proof from ``size1`` to ``size2`` (empty if equal)."""
    _check_uint64("size1", size1, ValueError)
    _check_uint64("size2", size2, ValueError)
    if not 0 < size1 <= size2:
        raise ValueError(f"consistency needs 0 < size1 <= size2, got {size1} and {size2}")
    if size1 == size2:
        return []
    return [subtree_nodes(start, end) for start, end in _consistency_ranges(size1, size2)]


def plan_nodes(plan: Iterable[Sequence[Node]]) -> list[Node]:
    """Every distinct node a plan needs, sorted, for a single batched lookup."""
    return sorted({node for element in plan for node in element})


def resolve_plan(plan: Iterable[Sequence[Node]], hashes: Mapping[Node, bytes]) -> list[bytes]:
    """Turn a plan into proof hashes; raises ``KeyError`` naming a missing node."""
    return [fold_subtrees([hashes[node] for node in element]) for element in plan]


class TreeBuilder:
    """Append-only Merkle tree state kept as its right edge (one hash per set bit of size).

    ``append`` returns every complete subtree the new leaf closes, so storing
    those rows keeps a ``(level, index)`` table able to answer any plan.
    """

    __slots__ = ("_edge", "_size")

    def __init__(self, size: int = 0, right_edge: Sequence[bytes] = ()) -> None:
        _check_uint64("size", size, ValueError)
        if len(right_edge) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} has {size.bit_count()} right-edge hashes, "
                f"got {len(right_edge)}"
            )
        for position, value in enumerate(right_edge):
            _check_hash(f"right_edge[{position}]", value, ValueError)
        self._size = size
        self._edge = list(right_edge)

    @classmethod
    def from_store(cls, size: int, hashes: Mapping[Node, bytes]) -> TreeBuilder:
        """Resume from stored complete-subtree hashes (see ``right_edge_nodes``)."""
        return cls(size, [hashes[node] for node in right_edge_nodes(size)])

    @property
    def size(self) -> int:
        return self._size

    @property
    def right_edge(self) -> tuple[bytes, ...]:
        """Hashes of ``right_edge_nodes(size)``, largest subtree first."""
        return tuple(self._edge)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return ``(level, index, hash)`` of each subtree it completes."""
        _check_hash("leaf hash", leaf, ValueError)
        if self._size == MAX_UINT64:
            raise ValueError("tree size would exceed 2**64 - 1")
        level, index, current = 0, self._size, leaf
        completed = [(level, index, current)]
        # Each set low bit of the old size is a same-sized sibling waiting on the edge.
        while (self._size >> level) & 1:
            current = node_hash(self._edge.pop(), current)
            level += 1
            index >>= 1
            completed.append((level, index, current))
        self._edge.append(current)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append several leaf hashes; return all subtrees they complete."""
        completed: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            completed.extend(self.append(leaf))
        return completed

    def root(self) -> bytes:
        return fold_subtrees(self._edge)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: check ``proof`` places ``leaf`` at ``index`` under ``root``."""
    _check_uint64("leaf index", index)
    _check_uint64("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    _check_hash("leaf hash", leaf)
    _check_hash("root", root)
    _check_proof_hashes(proof)
    expected = len(_inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof for index {index} in size {size} needs {expected} hashes, "
            f"got {len(proof)}"
        )
    computed, fn, sn = leaf, index, size - 1
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            computed = node_hash(element, computed)
            # On the right border, skip levels where this node has no sibling.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            computed = node_hash(computed, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if computed != root:
        raise ProofError("inclusion proof does not lead to the expected root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2: check the tree ``(size2, root2)`` extends ``(size1, root1)``."""
    _check_uint64("size1", size1)
    _check_uint64("size2", size2)
    if size1 == 0:
        raise ProofError("consistency proofs are only defined for size1 > 0")
    if size1 > size2:
        raise ProofError(f"size1 {size1} is larger than size2 {size2}")
    if size1 == size2:
        # Same tree: nothing to prove; roots compared as opaque bytes like the reference.
        if proof:
            raise ProofError(f"consistency proof for equal sizes must be empty, got {len(proof)}")
        if root1 != root2:
            raise ProofError("roots differ for equal tree sizes")
        return
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    _check_proof_hashes(proof)
    expected = len(_consistency_ranges(size1, size2))
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from {size1} to {size2} needs {expected} hashes, got {len(proof)}"
        )
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a complete subtree of the new one, so the proof omits it.
        path.insert(0, root1)
    old, new = _consistency_roots(size1, size2, path)
    if old != root1:
        raise ProofError("consistency proof does not reproduce root1")
    if new != root2:
        raise ProofError("consistency proof does not reproduce root2")


def _consistency_roots(size1: int, size2: int, path: Sequence[bytes]) -> tuple[bytes, bytes]:
    """Steps 3-7 of §2.1.4.2: rebuild both roots from the (possibly extended) path."""
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old, new = path[0], path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            old = node_hash(element, old)
            new = node_hash(element, new)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            new = node_hash(new, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    return old, new


def _check_uint64(what: str, value: int, error: type[ValueError] = ProofError) -> None:
    if not 0 <= value <= MAX_UINT64:
        raise error(f"{what} {value} is not an unsigned 64-bit integer")


def _check_hash(what: str, value: bytes, error: type[ValueError] = ProofError) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, element in enumerate(proof):
        _check_hash(f"proof[{position}]", element)
