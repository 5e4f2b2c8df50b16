"""The audit log's tables and values.

``audit_entries``   every entry, numbered from 0 in the order they were sequenced (the
                    number is the entry's leaf index in the Merkle tree), as published:
                    private fields only as commitments
``audit_openings``  what opens an entry's commitments (its nonce and the private values),
                    one row per entry that has any; never published. No foreign key: an
                    opening can be erased (a person's name, say) and the log still verifies
``audit_head``      one row: the next sequence number; taking it locks the row until
                    commit, so entries commit in sequence order on every backend
``audit_tree``      one row: how many entries are integrated into the tree, and its root
``audit_tree_nodes`` the hash of every complete subtree, by (level, index): the
                    tiles are ranges of this table and any proof is one lookup
``audit_checkpoints`` signed checkpoints, one per published tree size
``audit_cosignatures`` witnesses' cosignatures on those checkpoints
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from clearance.audit.commitments import Opening, opened_event
from clearance.db.schema import UTCDateTime, metadata

_BigInt = sa.BigInteger().with_variant(sa.Integer, "sqlite")

audit_entries_table = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("seq", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

audit_openings_table = sa.Table(
    "audit_openings",
    metadata,
    sa.Column("seq", _BigInt, primary_key=True, autoincrement=False),
    sa.Column("nonce", sa.LargeBinary(32), nullable=False),
    # The private fields' values: the canonical JSON of one object, name → value.
    sa.Column("cleartext", sa.LargeBinary, nullable=False),
)

audit_head_table = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("next_seq", sa.BigInteger, nullable=False),
)

audit_tree_table = sa.Table(
    "audit_tree",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
)

audit_tree_nodes_table = sa.Table(
    "audit_tree_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)

audit_checkpoints_table = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

audit_cosignatures_table = sa.Table(
    "audit_cosignatures",
    metadata,
    sa.Column("checkpoint_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("witness", sa.String(160), primary_key=True),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("signed_at", sa.BigInteger, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    """Position in the log: the entry's leaf index, from 0."""
    recorded_at: datetime
    kind: str
    actor: str
    body: bytes
    """The entry as published: exactly the bytes the Merkle leaf hashes (private fields
    as commitments)."""
    opening: Opening | None = None
    """What opens its commitments, if it has any and the opening was read with it."""

    def fields(self) -> dict[str, Any]:
        """The event as operators read it: in clear when the opening verifies, with
        ``committed`` and ``opening`` saying so (see ``commitments.opened_event``)."""
        return opened_event(self.body, self.opening)

    def public_fields(self) -> dict[str, Any]:
        """The event as anyone reads it on ``/log/``."""
        value: dict[str, Any] = orjson.loads(self.body)
        return value

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        m = row._mapping
        nonce = m.get("nonce")
        opening = Opening(bytes(nonce), bytes(m["cleartext"])) if nonce is not None else None
        return cls(
            seq=m["seq"],
            recorded_at=m["recorded_at"],
            kind=m["kind"],
            actor=m["actor"],
            body=bytes(m["body"]),
            opening=opening,
        )


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    """The signed note, exactly as signed by the log."""
    created_at: datetime
