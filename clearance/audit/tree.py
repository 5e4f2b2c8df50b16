"""Integrating sequenced entries into the Merkle tree, and reading the tree back:
tiles, entry bundles and proofs.

Integration is idempotent and safe to run from several processes at once: it locks
the tree row, reads the integrated size, and appends only what lies beyond it. Every
complete subtree hash is stored by (level, index), so a tile is one range query and
any RFC 9162 proof is one lookup of ~2·log2(n) rows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from clearance.audit.models import (
    audit_entries_table,
    audit_head_table,
    audit_tree_nodes_table,
    audit_tree_table,
)
from clearance.audit.tlog import merkle
from clearance.audit.tlog.merkle import Node, TreeBuilder
from clearance.audit.tlog.tiles import TILE_HEIGHT, TILE_WIDTH
from clearance.db.database import Database

_nodes = audit_tree_nodes_table.c
_entries = audit_entries_table.c
INTEGRATE_BATCH = 20_000


@dataclass(frozen=True, slots=True)
class TreeState:
    """The integrated tree's size and root."""

    size: int
    root: bytes


_STATE = sa.select(audit_tree_table.c.size, audit_tree_table.c.root).where(
    audit_tree_table.c.id == 1
)


@functools.cache
def _nodes_query(count: int) -> sa.TextClause:
    """A lookup of ``count`` (level, idx) pairs, as an OR of pairs rather than a
    row-value IN: SQLite answers the OR with one primary-key search per pair but scans
    the table for the IN. Plain text, cached per count: building the equivalent
    expression costs ~1 ms, the lookup itself ~20 µs."""
    pairs = " OR ".join(f"(level = :l{i} AND idx = :i{i})" for i in range(count))
    return sa.text(f"SELECT level, idx, hash FROM audit_tree_nodes WHERE {pairs}")  # noqa: S608


def _fetch_nodes(conn: sa.Connection, nodes: Sequence[Node]) -> dict[Node, bytes]:
    if not nodes:
        return {}
    params: dict[str, int] = {}
    for i, (level, idx) in enumerate(nodes):
        params[f"l{i}"] = level
        params[f"i{i}"] = idx
    rows = conn.execute(_nodes_query(len(nodes)), params)
    return {(row.level, row.idx): bytes(row.hash) for row in rows}


def _locked_state(conn: sa.Connection) -> TreeState:
    """The tree row, locked until commit so concurrent integrators take turns."""
    row = conn.execute(_STATE.with_for_update()).one()
    return TreeState(int(row.size), bytes(row.root))


class MerkleTree:
    def __init__(self, db: Database) -> None:
        self._db = db
        # The builder survives between integrations while the stored size matches it,
        # so steady-state integration never re-reads the right edge.
        self._builder: TreeBuilder | None = None

    async def state(self) -> TreeState:
        async with self._db.read() as conn:
            return await self._state(conn)

    @staticmethod
    async def _state(conn: AsyncConnection) -> TreeState:
        row = (await conn.execute(_STATE)).one()
        return TreeState(int(row.size), bytes(row.root))

    async def integrate(self, limit: int = INTEGRATE_BATCH) -> TreeState:
        """Integrate up to ``limit`` sequenced entries; returns the new tree state."""
        state, builder = await self._db.run_sync(lambda conn: self._integrate(conn, limit))
        if builder is not None:
            self._builder = builder
        return state

    def _integrate(self, conn: sa.Connection, limit: int) -> tuple[TreeState, TreeBuilder | None]:
        state = _locked_state(conn)
        head = int(conn.scalar(sa.select(audit_head_table.c.next_seq)) or 0)
        if head <= state.size:
            return state, None
        rows = conn.execute(
            sa.select(_entries.seq, _entries.body)
            .where(_entries.seq >= state.size)
            .where(_entries.seq < min(head, state.size + limit))
            .order_by(_entries.seq)
        )
        builder = self._builder_at(conn, state.size)
        completed: list[tuple[int, int, bytes]] = []
        expected = state.size
        for row in rows:
            if row.seq != expected:
                # A committed entry below the head is missing: never build past a hole,
                # or the tree would silently renumber the log.
                raise RuntimeError(f"audit entry {expected} is missing; cannot integrate")
            completed.extend(builder.append(merkle.leaf_hash(bytes(row.body))))
            expected += 1
        if completed:
            conn.execute(
                audit_tree_nodes_table.insert(),
                [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed],
            )
        root = builder.root()
        conn.execute(
            audit_tree_table.update()
            .where(audit_tree_table.c.id == 1)
            .values(size=builder.size, root=root)
        )
        return TreeState(builder.size, root), builder

    def _builder_at(self, conn: sa.Connection, size: int) -> TreeBuilder:
        if self._builder is not None and self._builder.size == size:
            return TreeBuilder(size, self._builder.right_edge)
        nodes = merkle.right_edge_nodes(size)
        return TreeBuilder.from_store(size, _fetch_nodes(conn, nodes))

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return await self._prove(merkle.inclusion_plan(index, size), size)

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return await self._prove(merkle.consistency_plan(size1, size2), size2)

    async def _prove(self, plan: merkle.Plan, size: int) -> list[bytes]:
        def fetch(conn: sa.Connection) -> tuple[int, dict[Node, bytes]]:
            integrated = int(conn.execute(_STATE).one().size)
            return integrated, _fetch_nodes(conn, merkle.plan_nodes(plan))

        integrated, hashes = await self._db.read_sync(fetch)
        if size > integrated:
            raise ValueError(f"the tree has {integrated} entries integrated, not {size}")
        return merkle.resolve_plan(plan, hashes)

    async def tile_hashes(self, level: int, index: int, width: int) -> list[bytes]:
        """The hashes of tile ``level``/``index`` (tree level 8·level), up to ``width``."""
        first = index * TILE_WIDTH
        rows = await self._range(
            sa.select(_nodes.hash)
            .where(_nodes.level == level * TILE_HEIGHT)
            .where(_nodes.idx >= first)
            .where(_nodes.idx < first + width)
            .order_by(_nodes.idx)
        )
        return [bytes(row.hash) for row in rows]

    async def bundle_entries(self, index: int, width: int) -> list[bytes]:
        """The entries of bundle ``index``, up to ``width``, as stored (gaps and all)."""
        first = index * TILE_WIDTH
        rows = await self._range(
            sa.select(_entries.body)
            .where(_entries.seq >= first)
            .where(_entries.seq < first + width)
            .order_by(_entries.seq)
        )
        return [bytes(row.body) for row in rows]

    async def _range(self, query: sa.Select[tuple[bytes]]) -> Sequence[sa.Row[tuple[bytes]]]:
        return await self._db.read_sync(lambda conn: conn.execute(query).all())
