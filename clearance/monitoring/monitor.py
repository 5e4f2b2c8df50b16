"""The monitor: every usage event, read in order, through the deep stage and the
detectors, into alerts and — by rule — enforcement.

It reads the usage records by their ``id`` after its saved position
(``monitor_progress``), so no event is skipped or read twice, across restarts too.
For each record it takes the request's text from the gateway's feed, when there is
one, and runs the deep stage over the batch on worker threads (MiniLM embeddings
plus trained heads); keeps the content per the model's retention rule; stores the
verdict, the embedding and a few vocabulary terms for topic summaries; then lets
every detector see the event. Results, retained content, alerts and the new
position commit together. Several processes may run monitors: a batch commits only
if the position it started from is still current, so each event counts once.

Positions: records are committed in ``id`` order by one writer, but sequences can
leave holes (a rolled-back insert); the monitor waits for a hole up to ``GAP_WAIT``
seconds before moving past it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
import structlog

from clearance.clock import Clock
from clearance.content.classifier import ContentClassifier
from clearance.db.database import Database
from clearance.identity.entitlements import EntitlementIndex
from clearance.monitoring.alerts import Alerts
from clearance.monitoring.detectors.base import Detector, Finding, UsageEvent
from clearance.monitoring.enforcement import Enforcement
from clearance.monitoring.feed import ContentFeed
from clearance.monitoring.models import monitor_progress_table, monitor_results_table
from clearance.monitoring.retention import ContentStore
from clearance.monitoring.rules import Due, RuleBook
from clearance.registry.jurisdictions import Jurisdictions
from clearance.registry.services import ModelCatalog
from clearance.usage.models import usage_records_table

log = structlog.get_logger(__name__)

NAME = "monitor"
GAP_WAIT = 5.0
_records = usage_records_table.c
_progress = monitor_progress_table.c
_COLUMNS = (
    _records.id,
    _records.request_id,
    _records.started_at,
    _records.org_id,
    _records.key_id,
    _records.end_user,
    _records.source_ip,
    _records.model,
    _records.status_code,
    _records.error_code,
    _records.categories,
)


@dataclass
class MonitorStats:
    events: int = 0
    deep: int = 0
    """Events the deep stage read."""
    without_text: int = 0
    """Events whose text was not in the feed (another process, or pushed out)."""
    findings: int = 0
    actions: int = 0


class Monitor:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        classifier: ContentClassifier,
        feed: ContentFeed,
        detectors: Sequence[Detector],
        alerts: Alerts,
        rules: RuleBook,
        enforcement: Enforcement,
        catalog: ModelCatalog,
        jurisdictions: Jurisdictions,
        entitlements: EntitlementIndex,
        content: ContentStore,
        batch: int = 256,
        deep: bool = True,
    ) -> None:
        self._db = db
        self._clock = clock
        self._classifier = classifier
        self._feed = feed
        self._detectors = list(detectors)
        self._alerts = alerts
        self._rules = rules
        self._enforcement = enforcement
        self._catalog = catalog
        self._jurisdictions = jurisdictions
        self._entitlements = entitlements
        self._content = content
        self._batch = batch
        self._deep = deep
        self._position: int | None = None
        self._gap_since: float | None = None
        self.stats = MonitorStats()

    async def run(self, interval: float) -> None:
        while True:
            try:
                done = await self.step()
            except Exception:
                log.exception("monitor_step_failed")
                self._position = None  # read it again
                done = 0
            if done < self._batch:
                await asyncio.sleep(interval)

    async def backlog(self) -> int:
        """Usage records not yet monitored."""
        position = await self._load_position()
        async with self._db.read() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(usage_records_table)
                .where(_records.id > position)
            )
        return int(count or 0)

    async def step(self) -> int:
        """Monitor the next batch of events; returns how many."""
        start = await self._load_position()
        async with self._db.read() as conn:
            rows = list(
                await conn.execute(
                    sa.select(*_COLUMNS)
                    .where(_records.id > start)
                    .order_by(_records.id)
                    .limit(self._batch)
                )
            )
        rows = self._contiguous(start, rows)
        if not rows:
            return 0
        texts = {row.request_id: text for row in rows if (text := self._feed.take(row.request_id))}
        verdicts = await self._deep_stage(texts)
        now = self._clock.now()
        events, results, kept = [], [], []
        for row in rows:
            text = texts.get(row.request_id)
            verdict = verdicts.get(row.request_id)
            events.append(self._event(row, verdict))
            results.append(self._result(row, verdict, text))
            model = self._catalog.get(row.model) if row.model else None
            if text is not None and model is not None:
                keep = self._content.row(row.request_id, row.model, model.retention, text, now)
                if keep is not None:
                    kept.append(keep)
        findings = [
            f for event in events for detector in self._detectors for f in detector.observe(event)
        ]
        end = rows[-1].id
        async with self._db.transaction() as conn:
            moved = await self._save_position(conn, start, end)
            if not moved:  # another monitor took this batch
                self._position = None
                return 0
            await conn.execute(monitor_results_table.insert(), results)
            await self._content.keep(conn, kept)
            alert_ids = await self._alerts.raise_in(conn, findings)
        self._position = end
        self.stats.events += len(rows)
        self.stats.deep += len(verdicts)
        self.stats.without_text += len(rows) - len(texts)
        self.stats.findings += len(findings)
        await self._enforce(findings, alert_ids)
        return len(rows)

    async def _deep_stage(self, texts: dict[str, str]) -> dict[str, tuple[Any, np.ndarray]]:
        if not texts or not self._deep:
            return {}
        ids = list(texts)
        verdicts, vectors = await asyncio.to_thread(
            self._classifier.deep_with_embeddings, [texts[i] for i in ids]
        )
        return {i: (verdicts[n], vectors[n]) for n, i in enumerate(ids)}

    def _event(self, row: Any, verdict: tuple[Any, np.ndarray] | None) -> UsageEvent:
        model = self._catalog.get(row.model) if row.model else None
        country = self._jurisdictions.country_of(row.source_ip)
        tier = None
        if model is not None and country is not None:
            tier = self._jurisdictions.tier(self._jurisdictions.table(model.jurisdiction), country)
        entitled = (
            self._entitlements.purposes(row.org_id, row.model, row.started_at)
            if row.model
            else None
        )
        deep = frozenset(verdict[0].flagged) if verdict is not None else None
        return UsageEvent(
            request_id=row.request_id,
            at=row.started_at,
            org_id=row.org_id,
            key_id=row.key_id,
            end_user=row.end_user,
            source_ip=row.source_ip,
            country=country,
            tier=tier,
            model=row.model,
            status_code=row.status_code,
            error_code=row.error_code,
            categories=frozenset(row.categories.split(",")) if row.categories else frozenset(),
            deep=deep,
            entitled=entitled or frozenset(),
            jailbreak_score=verdict[0].scores.get("jailbreak") if verdict is not None else None,
        )

    def _result(
        self, row: Any, verdict: tuple[Any, np.ndarray] | None, text: str | None
    ) -> dict[str, Any]:
        flagged = verdict[0].flagged if verdict is not None else (row.categories or "").split(",")
        return {
            "request_id": row.request_id,
            "at": row.started_at,
            "org_id": row.org_id,
            "model": row.model,
            "stage": "deep" if verdict is not None else "inline",
            "flagged": ",".join(f for f in flagged if f) or None,
            "embedding": verdict[1].astype(np.float16).tobytes() if verdict is not None else None,
            "terms": " ".join(self._classifier.terms(text)) if verdict and text else None,
        }

    async def _enforce(self, findings: list[Finding], alert_ids: list[str]) -> None:
        for finding, alert_id in zip(findings, alert_ids, strict=True):
            for due in self._rules.consider(finding, finding.at or self._clock.now()):
                await self._act(due, alert_id)

    async def _act(self, due: Due, alert_id: str) -> None:
        rule = due.rule
        if await self._enforcement.active(rule.action, rule.scope, due.org_id, due.target):
            return
        reason = (
            f"rule {rule.name}: {due.findings} {rule.detector} findings "
            f"within {rule.window_minutes:g} minutes"
        )
        try:
            await self._enforcement.take(
                f"rule:{rule.name}",
                rule.action,
                rule.scope,
                due.org_id,
                due.target,
                reason,
                rpm=rule.rpm,
                minutes=rule.minutes,
                alert_id=alert_id,
            )
            self.stats.actions += 1
        except Exception:
            log.exception("rule_action_failed", rule=rule.name, org_id=due.org_id)

    def _contiguous(self, start: int, rows: list[Any]) -> list[Any]:
        """The rows up to the first hole in the ids, unless that hole is old."""
        expected = start + 1
        for index, row in enumerate(rows):
            if row.id != expected and start > 0:
                now = time.monotonic()
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < GAP_WAIT:
                    return rows[:index]
            expected = row.id + 1
        self._gap_since = None
        return rows

    async def _load_position(self) -> int:
        if self._position is None:
            async with self._db.read() as conn:
                value = await conn.scalar(
                    sa.select(_progress.last_usage_id).where(_progress.name == NAME)
                )
            self._position = int(value or 0)
        return self._position

    @staticmethod
    async def _save_position(conn: Any, start: int, end: int) -> bool:
        done = await conn.execute(
            monitor_progress_table.update()
            .where((_progress.name == NAME) & (_progress.last_usage_id == start))
            .values(last_usage_id=end)
        )
        if done.rowcount == 1:
            return True
        exists = await conn.scalar(sa.select(_progress.name).where(_progress.name == NAME))
        if exists is None and start == 0:
            await conn.execute(monitor_progress_table.insert().values(name=NAME, last_usage_id=end))
            return True
        return False
