"""Tests for clearance.audit.tlog.merkle: RFC 9162 vectors, reference cross-checks, properties."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clearance.audit.tlog.merkle import (
    EMPTY_ROOT,
    MAX_UINT64,
    Node,
    ProofError,
    TreeBuilder,
    consistency_plan,
    fold_subtrees,
    inclusion_plan,
    leaf_hash,
    node_hash,
    plan_nodes,
    resolve_plan,
    right_edge_nodes,
    root_of,
    subtree_nodes,
    verify_consistency,
    verify_inclusion,
)
from tests.support.data import RFC9162_VECTORS

VECTORS = RFC9162_VECTORS
INCLUSION_FILES = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((VECTORS / "consistency").rglob("*.json"))

# RFC 6962 reference leaves (as used by the Certificate Transparency test suites).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _leaves(count: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(count)]


# Straight transcriptions of the RFC 9162 §2.1 definitions, used as an oracle.
def _mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, hashes[:k]), _mth(hashes[k:])]
    return [*_path(m - k, hashes[k:]), _mth(hashes[:k])]


def _subproof(m: int, hashes: list[bytes], complete: bool) -> list[bytes]:
    if m == len(hashes):
        return [] if complete else [_mth(hashes)]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), _mth(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _mth(hashes[:k])]


def _store(hashes: list[bytes]) -> dict[Node, bytes]:
    builder = TreeBuilder()
    return {(level, index): value for level, index, value in builder.extend(hashes)}


# --- RFC 9162 vectors -----------------------------------------------------------------


def test_vector_counts() -> None:
    assert len(INCLUSION_FILES) == 98
    assert len(CONSISTENCY_FILES) == 98


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_inclusion_vectors(path: Path) -> None:
    case = _load(path)
    proof = [_b64(p) for p in case["proof"] or []]
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_consistency_vectors(path: Path) -> None:
    case = _load(path)
    proof = [_b64(p) for p in case["proof"] or []]
    args = (case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# --- hashing --------------------------------------------------------------------------


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert root_of([]) == EMPTY_ROOT


def test_known_roots() -> None:
    hashes = [leaf_hash(leaf) for leaf in CT_LEAVES]
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert root_of(hashes[:size]).hex() == expected


def test_root_of_matches_recursive_definition() -> None:
    hashes = _leaves(70)
    for size in range(71):
        assert root_of(hashes[:size]) == _mth(hashes[:size])


def test_root_of_rejects_bad_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        root_of([b"short"])


def test_subtree_nodes() -> None:
    assert subtree_nodes(0, 0) == []
    assert subtree_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert subtree_nodes(3, 11) == [(0, 3), (2, 1), (1, 4), (0, 10)]
    assert right_edge_nodes(13) == [(3, 0), (2, 2), (0, 12)]
    with pytest.raises(ValueError, match="invalid leaf range"):
        subtree_nodes(5, 4)


# --- planning ---------------------------------------------------------------------------


def test_plans_match_reference_proofs() -> None:
    hashes = _leaves(70)
    store = _store(hashes)
    for size in range(1, 71):
        for index in range(size):
            got = resolve_plan(inclusion_plan(index, size), store)
            assert got == _path(index, hashes[:size]), (index, size)
        for size1 in range(1, size + 1):
            got = resolve_plan(consistency_plan(size1, size), store)
            expected = [] if size1 == size else _subproof(size1, hashes[:size], True)
            assert got == expected, (size1, size)


def test_plan_shapes() -> None:
    # Only the right-border element of a non-power-of-two tree needs several subtrees.
    assert inclusion_plan(0, 7) == [[(0, 1)], [(1, 1)], [(1, 2), (0, 6)]]
    assert inclusion_plan(6, 7) == [[(1, 2)], [(2, 0)]]
    assert consistency_plan(4, 8) == [[(2, 1)]]
    assert consistency_plan(3, 7) == [[(0, 2)], [(0, 3)], [(1, 0)], [(1, 2), (0, 6)]]
    assert consistency_plan(5, 5) == []
    assert plan_nodes(inclusion_plan(0, 7)) == [(0, 1), (0, 6), (1, 1), (1, 2)]


@pytest.mark.parametrize(
    ("index", "size"), [(-1, 4), (4, 4), (0, 0), (0, MAX_UINT64 + 1), (MAX_UINT64, MAX_UINT64)]
)
def test_inclusion_plan_rejects(index: int, size: int) -> None:
    with pytest.raises(ValueError, match=r"unsigned 64-bit|not below"):
        inclusion_plan(index, size)


@pytest.mark.parametrize(("size1", "size2"), [(0, 0), (0, 5), (6, 5), (1, MAX_UINT64 + 1)])
def test_consistency_plan_rejects(size1: int, size2: int) -> None:
    with pytest.raises(ValueError, match=r"unsigned 64-bit|0 < size1 <= size2"):
        consistency_plan(size1, size2)


def test_planning_is_logarithmic() -> None:
    size = 2**40 - 1
    plan = inclusion_plan(2**40 - 1000, size)
    assert len(plan) == 40
    assert len(plan_nodes(plan)) <= 2 * 40
    first, last = inclusion_plan(0, size)[0], inclusion_plan(0, size)[-1]
    assert first == [(0, 1)]
    assert len(last) == 39  # the right edge of a 2**40 - 1 tree, minus its largest subtree
    consistency = consistency_plan(2**39 + 12345, 2**41 - 3)
    assert 40 <= len(consistency) <= 45
    assert len(plan_nodes(consistency)) <= 3 * 41
    assert len(inclusion_plan(0, MAX_UINT64)) == 64
    assert len(inclusion_plan(MAX_UINT64 - 1, MAX_UINT64)) == 63


def test_resolve_plan_reports_missing_node() -> None:
    with pytest.raises(KeyError):
        resolve_plan(inclusion_plan(0, 2), {})


# --- TreeBuilder ------------------------------------------------------------------------


def test_tree_builder_reports_completed_subtrees() -> None:
    builder = TreeBuilder()
    a, b, c = _leaves(3)
    assert builder.append(a) == [(0, 0, a)]
    assert builder.append(b) == [(0, 1, b), (1, 0, node_hash(a, b))]
    assert builder.append(c) == [(0, 2, c)]
    assert builder.size == 3
    assert builder.right_edge == (node_hash(a, b), c)
    assert builder.root() == root_of([a, b, c])
    assert TreeBuilder().root() == EMPTY_ROOT


def test_tree_builder_validation() -> None:
    with pytest.raises(ValueError, match="right-edge"):
        TreeBuilder(3, [bytes(32)])
    with pytest.raises(ValueError, match="32 bytes"):
        TreeBuilder(1, [b"x"])
    with pytest.raises(ValueError, match="32 bytes"):
        TreeBuilder().append(b"x")
    full = TreeBuilder(MAX_UINT64, [bytes(32)] * 64)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        full.append(bytes(32))


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 300), st.binary(min_size=1, max_size=8))
@example(300, b"largest")
def test_store_proofs_verify_for_all_sizes(count: int, salt: bytes) -> None:
    hashes = _leaves(count, salt)
    builder = TreeBuilder()
    store: dict[Node, bytes] = {}
    roots = [EMPTY_ROOT]
    for value in hashes:
        for level, index, node in builder.append(value):
            assert (level, index) not in store
            store[level, index] = node
        roots.append(builder.root())
    for (level, index), node in store.items():
        assert node == root_of(hashes[index << level : (index + 1) << level])
    for size in range(1, len(hashes) + 1):
        assert roots[size] == root_of(hashes[:size])
        assert resolve_plan([right_edge_nodes(size)], store) == [roots[size]]
        for index in range(size):
            proof = resolve_plan(inclusion_plan(index, size), store)
            verify_inclusion(hashes[index], index, size, proof, roots[size])
        for size1 in range(1, size + 1):
            proof = resolve_plan(consistency_plan(size1, size), store)
            verify_consistency(size1, size, proof, roots[size1], roots[size])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.data())
def test_tampered_proofs_fail(size: int, data: st.DataObject) -> None:
    hashes = _leaves(size, b"t")
    store = _store(hashes)
    root = root_of(hashes)
    index = data.draw(st.integers(0, size - 1))
    proof = resolve_plan(inclusion_plan(index, size), store)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof]
        bad[position] = bytes(32)
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, size, bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, size, proof[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, size, [*proof, bytes(32)], root)
    size1 = data.draw(st.integers(1, size))
    if size1 < size:
        root1 = root_of(hashes[:size1])
        proof = resolve_plan(consistency_plan(size1, size), store)
        with pytest.raises(ProofError):
            verify_consistency(size1, size, proof, root1, EMPTY_ROOT)
        with pytest.raises(ProofError):
            verify_consistency(size1, size, proof[1:], root1, root)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_tree_builder_resumes_identically(first: int, second: int) -> None:
    hashes = _leaves(first + second, b"r")
    continuous = TreeBuilder()
    continuous.extend(hashes[:first])
    store = _store(hashes[:first])
    resumed = TreeBuilder(continuous.size, continuous.right_edge)
    from_store = TreeBuilder.from_store(first, store)
    assert from_store.right_edge == continuous.right_edge
    for value in hashes[first:]:
        expected = continuous.append(value)
        assert resumed.append(value) == expected
        assert from_store.append(value) == expected
    assert resumed.root() == continuous.root() == root_of(hashes)


def test_fold_subtrees() -> None:
    a, b, c = _leaves(3)
    assert fold_subtrees([]) == EMPTY_ROOT
    assert fold_subtrees([a]) == a
    assert fold_subtrees([a, b, c]) == node_hash(a, node_hash(b, c))


# --- verification edge cases --------------------------------------------------------------


def test_verify_inclusion_messages() -> None:
    hashes = _leaves(5)
    store = _store(hashes)
    root = root_of(hashes)
    proof = resolve_plan(inclusion_plan(2, 5), store)
    verify_inclusion(hashes[2], 2, 5, proof, root)
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(hashes[2], 5, 5, proof, root)
    with pytest.raises(ProofError, match="unsigned 64-bit"):
        verify_inclusion(hashes[2], 2, 2**64, proof, root)
    with pytest.raises(ProofError, match="needs 3 hashes, got 2"):
        verify_inclusion(hashes[2], 2, 5, proof[:2], root)
    with pytest.raises(ProofError, match=r"proof\[1\] must be 32 bytes"):
        verify_inclusion(hashes[2], 2, 5, [proof[0], b"", proof[2]], root)
    with pytest.raises(ProofError, match="expected root"):
        verify_inclusion(hashes[3], 2, 5, proof, root)


def test_verify_consistency_edge_cases() -> None:
    hashes = _leaves(9)
    store = _store(hashes)
    root4, root9 = root_of(hashes[:4]), root_of(hashes)
    proof = resolve_plan(consistency_plan(4, 9), store)
    verify_consistency(4, 9, proof, root4, root9)
    verify_consistency(9, 9, [], root9, root9)
    with pytest.raises(ProofError, match="size1 > 0"):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="larger than"):
        verify_consistency(9, 4, proof, root9, root4)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(9, 9, proof, root9, root9)
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(9, 9, [], root4, root9)
    with pytest.raises(ProofError, match="does not reproduce root2"):
        verify_consistency(4, 9, proof, root9, root9)
    proof = resolve_plan(consistency_plan(5, 9), store)
    with pytest.raises(ProofError, match="does not reproduce root1"):
        verify_consistency(5, 9, proof, root4, root9)
    with pytest.raises(ProofError, match="root2 must be 32 bytes"):
        verify_consistency(4, 9, proof, root4, root9[:31])
