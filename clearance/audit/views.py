"""Admin API routes for reading the audit log and proving entries.

Every integer a client sends is bounded in the schema: entry numbers and tree sizes
are signed 64-bit integers in the database, so a larger one would overflow the driver
(a 500) instead of naming nothing. Out of range is a 400 in the API's error shape; an
entry beyond the log is a 404 from the prover."""

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from clearance.accounts.models import Caller
from clearance.accounts.permissions import Permission as P
from clearance.admin.auth import AdminAuth
from clearance.audit.checkpoints import Checkpointer
from clearance.audit.proofs import Prover
from clearance.audit.services import AuditLog
from clearance.errors import NotFound

MAX_SEQ = 2**63 - 1
"""The largest entry number or tree size the database can hold."""


class AuditEntryOut(BaseModel):
    seq: int
    recorded_at: datetime
    kind: str
    actor: str
    event: dict[str, Any]


class CheckpointOut(BaseModel):
    size: int
    root: str
    note: str
    created_at: datetime


class ProofOut(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]
    root: str
    checkpoint: str


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def audit_router(
    auth: AdminAuth, audit: AuditLog, checkpoints: Checkpointer, prover: Prover
) -> APIRouter:
    router = APIRouter(tags=["audit"])
    Read = Annotated[Caller, Depends(auth.requires(P.AUDIT_READ))]

    @router.get("/audit")
    async def list_entries(
        _c: Read,
        after: Annotated[
            int, Query(ge=-1, le=MAX_SEQ, description="Entries numbered above this.")
        ] = -1,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        kind: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[AuditEntryOut]:
        return [
            AuditEntryOut(
                seq=entry.seq,
                recorded_at=entry.recorded_at,
                kind=entry.kind,
                actor=entry.actor,
                event=entry.fields(),
            )
            for entry in await audit.entries(after, limit, kind)
        ]

    @router.get("/audit/checkpoint")
    async def latest_checkpoint(_c: Read) -> CheckpointOut:
        latest = await checkpoints.latest()
        if latest is None:
            raise NotFound("no checkpoint has been published yet")
        return CheckpointOut(
            size=latest.size, root=_b64(latest.root), note=latest.note, created_at=latest.created_at
        )

    @router.get("/audit/{index}/proof")
    async def prove(
        index: Annotated[int, Path(ge=0, le=MAX_SEQ, description="Entry number.")],
        _c: Read,
        size: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="Checkpoint size.")] = None,
    ) -> ProofOut:
        proved = await prover.prove(index, size)
        return ProofOut(
            index=index,
            tree_size=proved.checkpoint.size,
            leaf_hash=_b64(proved.leaf_hash),
            proof=[_b64(node) for node in proved.proof],
            root=_b64(proved.checkpoint.root),
            checkpoint=proved.checkpoint.note,
        )

    return router
