"""Topic summaries of an organization's use of a model, from the monitor's results
(embeddings and vocabulary terms — never text); see ``monitoring.topics``."""

from __future__ import annotations

import asyncio
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from clearance.db.database import Database
from clearance.identity.organizations import find_org
from clearance.monitoring.models import monitor_results_table
from clearance.monitoring.topics import TopicPoint, TopicSummary, summarize

_results = monitor_results_table.c
MAX_POINTS = 50_000
"""The most recent requests a summary covers at most."""


async def topic_summary(
    db: Database,
    org: str,
    model: str | None,
    since: datetime,
    min_cluster_size: int = 10,
) -> TopicSummary:
    async with db.read() as conn:
        org_id = (await find_org(conn, org)).id
        query = (
            sa.select(_results.embedding, _results.terms)
            .where(
                (_results.org_id == org_id)
                & (_results.at >= since)
                & _results.embedding.is_not(None)
            )
            .order_by(_results.at.desc())
            .limit(MAX_POINTS)
        )
        if model is not None:
            query = query.where(_results.model == model)
        rows = (await conn.execute(query)).all()
    points = [
        TopicPoint(
            embedding=np.frombuffer(row.embedding, dtype=np.float16).astype(np.float32),
            terms=tuple((row.terms or "").split()),
        )
        for row in rows
    ]
    # Clustering takes seconds for many points: never on the event loop.
    return await asyncio.to_thread(summarize, points, min_cluster_size=min_cluster_size)


async def purge_results(db: Database, before: datetime) -> int:
    """Delete the monitor's per-request results (verdicts, embeddings, terms) older
    than ``before``: topic summaries look back at most ``topic_days``."""
    async with db.transaction() as conn:
        done = await conn.execute(monitor_results_table.delete().where(_results.at < before))
    return int(done.rowcount or 0)
