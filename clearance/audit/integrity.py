"""Checking the stored log against its own Merkle tree and signed checkpoints.

Why this exists: checks that read ``audit_entries`` (``clearance audit check-usage``
recomputing usage digests) can only look at the rows still there. Someone with write
access to the database deletes an entry and nothing is left to recompute — unless the
check also consults what committed to that entry: the tree's stored leaf hashes
(``audit_tree_nodes`` level 0), the tree's size and root (``audit_tree``), and the
checkpoints the log's key signed over them (``audit_checkpoints``). So this reads them
all, in entry order, and reports

* entries the tree counts but ``audit_entries`` no longer holds (deleted), and gaps
  below the sequence head among entries not yet integrated;
* entries whose leaf hash differs from the tree's (altered), and missing tree leaves;
* a stored tree, or stored entries, that do not hash to the signed checkpoints' roots
  (rewritten), a tree smaller than a checkpoint (rolled back), and a latest
  checkpoint whose signature does not verify.

What it cannot see: a database rolled back as a whole to an earlier consistent copy,
or history rewritten and re-signed by someone holding the signing key. Only an
auditor's kept state (``audit verify --state``) and witnesses see those.

The leaf of entry ``seq`` is ``leaf_hash(body)``, exactly as ``audit.tree`` integrates
it; one pass keeps a ``TreeBuilder`` (the right edge only), so memory stays small
however long the log is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from clearance.audit.models import (
    audit_checkpoints_table,
    audit_entries_table,
    audit_head_table,
    audit_tree_nodes_table,
    audit_tree_table,
)
from clearance.audit.tlog import merkle
from clearance.audit.tlog.checkpoint import Checkpoint, CheckpointError
from clearance.audit.tlog.keys import Verifier
from clearance.audit.tlog.merkle import TreeBuilder
from clearance.audit.tlog.note import NoteError, open_note
from clearance.db.database import Database

CHUNK = 4096
"""Entries (and their leaves) read per query."""
SAMPLES = 5
"""How many examples each finding names."""

_entries = audit_entries_table.c
_nodes = audit_tree_nodes_table.c
_checkpoints = audit_checkpoints_table.c


@dataclass(frozen=True)
class LogFinding:
    """One class of problem in the stored log: how many, and a few to start from."""

    code: str
    """Stable name: entries_deleted, entries_missing, entries_altered, leaves_missing,
    entries_beyond_head, tree_rewritten, tree_rolled_back, checkpoint_invalid."""
    count: int
    samples: tuple[int, ...]
    """Entry numbers (or checkpoint sizes), at most ``SAMPLES``."""
    message: str


@dataclass(frozen=True)
class LogCheck:
    """What the stored log looks like, and what is wrong with it."""

    head: int
    """Entries sequenced (the next entry number)."""
    tree_size: int
    """Entries integrated into the stored tree."""
    checkpoint_size: int | None
    """Size of the latest signed checkpoint, if any."""
    findings: list[LogFinding]
    deleted: frozenset[int] = field(default_factory=frozenset)
    """Entries that should exist (below the head) but are not in ``audit_entries``."""

    @property
    def ok(self) -> bool:
        return not self.findings


def _examples(values: Sequence[int]) -> str:
    shown = ", ".join(str(value) for value in values[:SAMPLES])
    return shown + (", …" if len(values) > SAMPLES else "")


def _finding(code: str, values: Sequence[int], message: str) -> LogFinding:
    return LogFinding(code, len(values), tuple(values[:SAMPLES]), message)


@dataclass
class _Scan:
    """What one pass over the entries collects."""

    head: int
    tree_size: int
    tree_root: bytes
    roots: dict[int, bytes]
    """Checkpoint size → the root stored with it."""
    deleted: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    altered: list[int] = field(default_factory=list)
    leaves_missing: list[int] = field(default_factory=list)
    beyond_head: list[int] = field(default_factory=list)
    mismatched_roots: list[int] = field(default_factory=list)
    unhashable_from: int | None = None
    """The first leaf neither an entry nor the tree holds: no root can be computed past it."""
    builder: TreeBuilder = field(default_factory=TreeBuilder)

    def add_leaf(self, leaf: bytes | None, seq: int) -> None:
        if self.unhashable_from is not None:
            return
        if leaf is None:
            self.unhashable_from = seq
            return
        self.builder.append(leaf)
        expected = self.roots.get(self.builder.size)
        if expected is not None and self.builder.root() != expected:
            self.mismatched_roots.append(self.builder.size)


def _chunk(conn: sa.Connection, scan: _Scan, start: int, end: int) -> None:
    bodies = {
        int(row.seq): bytes(row.body)
        for row in conn.execute(
            sa.select(_entries.seq, _entries.body)
            .where(_entries.seq >= start, _entries.seq < end)
            .order_by(_entries.seq)
        )
    }
    leaves = {
        int(row.idx): bytes(row.hash)
        for row in conn.execute(
            sa.select(_nodes.idx, _nodes.hash).where(
                _nodes.level == 0, _nodes.idx >= start, _nodes.idx < min(end, scan.tree_size)
            )
        )
    }
    for seq in range(start, end):
        body = bodies.get(seq)
        entry_leaf = merkle.leaf_hash(body) if body is not None else None
        if seq >= scan.tree_size:
            if body is None and seq < scan.head:
                scan.missing.append(seq)
            continue
        stored = leaves.get(seq)
        if body is None:
            scan.deleted.append(seq)
        if stored is None:
            scan.leaves_missing.append(seq)
        elif entry_leaf is not None and entry_leaf != stored:
            scan.altered.append(seq)
        # The entry as stored decides the root; a deleted one is stood in for by the
        # tree's leaf, so one deletion reads as that, not as a rewritten tree too.
        scan.add_leaf(entry_leaf if entry_leaf is not None else stored, seq)


def _scan(conn: sa.Connection) -> _Scan:
    # Read in this order: each table only grows, so every later read covers the
    # earlier ones however busy the server is.
    roots = {
        int(row.size): bytes(row.root)
        for row in conn.execute(sa.select(_checkpoints.size, _checkpoints.root))
    }
    tree = conn.execute(sa.select(audit_tree_table.c.size, audit_tree_table.c.root)).one()
    head = int(conn.scalar(sa.select(audit_head_table.c.next_seq)) or 0)
    scan = _Scan(head=head, tree_size=int(tree.size), tree_root=bytes(tree.root), roots=roots)
    end = max(head, scan.tree_size)
    for start in range(0, end, CHUNK):
        _chunk(conn, scan, start, min(start + CHUNK, end))
    beyond = sa.select(_entries.seq).where(_entries.seq >= end).order_by(_entries.seq)
    scan.beyond_head = [int(seq) for seq in conn.scalars(beyond.limit(SAMPLES + 1))]
    return scan


def _latest_note(conn: sa.Connection) -> tuple[int, bytes, str] | None:
    row = conn.execute(
        sa.select(_checkpoints.size, _checkpoints.root, _checkpoints.note)
        .order_by(_checkpoints.size.desc())
        .limit(1)
    ).first()
    return (int(row.size), bytes(row.root), str(row.note)) if row is not None else None


def _checkpoint_problem(latest: tuple[int, bytes, str], verifier: Verifier) -> str | None:
    size, root, note = latest
    try:
        signed = Checkpoint.parse(open_note(note, [verifier]).text)
    except (NoteError, CheckpointError) as exc:
        return f"the latest checkpoint (size {size}) does not verify with the log's key: {exc}"
    if (signed.origin, signed.size, signed.root) != (verifier.name, size, root):
        return (
            f"the latest checkpoint's stored size and root (size {size}) are not what its "
            "signed note says: the checkpoint table was edited"
        )
    return None


def _findings(scan: _Scan, checkpoint_problem: str | None) -> list[LogFinding]:
    found: list[LogFinding] = []
    if checkpoint_problem is not None:
        found.append(LogFinding("checkpoint_invalid", 1, (), checkpoint_problem))
    classes = [
        (
            "entries_deleted",
            scan.deleted,
            "audit entries counted in the tree but missing from audit_entries (their leaf "
            "hashes are still stored)",
            "they were deleted",
        ),
        (
            "entries_missing",
            scan.missing,
            f"audit entries below the sequence head ({scan.head}), not yet in the tree, "
            "missing from audit_entries",
            "they were deleted before integration (the tree cannot grow past them)",
        ),
        (
            "entries_altered",
            scan.altered,
            "audit entries that no longer match their leaf hash in the tree",
            "they were altered",
        ),
        (
            "leaves_missing",
            scan.leaves_missing,
            "audit entries counted in the tree whose leaf hash the tree no longer stores",
            "the tree was altered",
        ),
        (
            "entries_beyond_head",
            scan.beyond_head,
            f"audit entries numbered at or past the sequence head ({scan.head})",
            "they were inserted",
        ),
    ]
    for code, values, what, why in classes:
        if values:
            found.append(
                _finding(code, values, f"{what}: {len(values)} — entry {_examples(values)}; {why}")
            )
    found.extend(_root_findings(scan))
    return found


def _root_findings(scan: _Scan) -> list[LogFinding]:
    found: list[LogFinding] = []
    larger = sorted(size for size in scan.roots if size > scan.tree_size)
    if larger:
        found.append(
            _finding(
                "tree_rolled_back",
                larger,
                f"checkpoints signed for more entries than the stored tree holds "
                f"({scan.tree_size}): {len(larger)} — up to size {larger[-1]}; the tree was "
                "rolled back",
            )
        )
    if scan.mismatched_roots:
        sizes = scan.mismatched_roots
        found.append(
            _finding(
                "tree_rewritten",
                sizes,
                f"signed checkpoints whose root the stored entries no longer hash to: "
                f"{len(sizes)} — size {_examples(sizes)}; the log was rewritten after it "
                "was signed",
            )
        )
    elif _complete(scan) and scan.builder.root() != scan.tree_root:
        found.append(
            LogFinding(
                "tree_rewritten",
                1,
                (scan.tree_size,),
                f"the stored tree's root (size {scan.tree_size}) is not the root of its "
                "entries: the tree row was edited",
            )
        )
    return found


def _complete(scan: _Scan) -> bool:
    """Whether the pass hashed every leaf the tree counts."""
    return scan.unhashable_from is None and scan.builder.size == scan.tree_size


def _right_edge_problem(conn: sa.Connection, scan: _Scan) -> str | None:
    """The stored hashes the next integration resumes from must be the real ones, or
    every later checkpoint would be signed over a corrupted tree."""
    if not _complete(scan):
        return None
    nodes = merkle.right_edge_nodes(scan.tree_size)
    stored: dict[tuple[int, int], bytes] = {}
    for level, idx in nodes:
        value = conn.scalar(sa.select(_nodes.hash).where(_nodes.level == level, _nodes.idx == idx))
        if value is not None:
            stored[level, idx] = bytes(value)
    expected = dict(zip(nodes, scan.builder.right_edge, strict=True))
    wrong = [node for node in nodes if stored.get(node) != expected[node]]
    if not wrong:
        return None
    level, idx = wrong[0]
    return (
        f"stored right-edge nodes of the tree that are not the hash of the entries below "
        f"them: {len(wrong)} — level {level} index {idx} first; the tree was altered"
    )


async def check_log(db: Database, verifier: Verifier) -> LogCheck:
    """Check every stored entry against the tree and the signed checkpoints."""

    def run(conn: sa.Connection) -> LogCheck:
        latest = _latest_note(conn)
        scan = _scan(conn)
        problem = _checkpoint_problem(latest, verifier) if latest is not None else None
        findings = _findings(scan, problem)
        edge = _right_edge_problem(conn, scan)
        if edge is not None:
            findings.append(LogFinding("tree_rewritten", 1, (scan.tree_size,), edge))
        return LogCheck(
            head=scan.head,
            tree_size=scan.tree_size,
            checkpoint_size=latest[0] if latest is not None else None,
            findings=findings,
            deleted=frozenset(scan.deleted + scan.missing),
        )

    return await db.read_sync(run)
