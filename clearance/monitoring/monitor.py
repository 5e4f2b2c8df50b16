"""The monitor: every usage event, read in order, through the deep stage and the
detectors, into alerts and — by rule — enforcement.

It reads the usage records by their ``id`` after its saved position
(``monitor_progress``), so no event is skipped or read twice, across restarts too.
For each record it takes the request's text from the gateway's feed, when there is
one, and runs the deep stage over the batch on a worker thread (MiniLM embeddings
plus trained heads); keeps the content per the model's retention rule; and stores
the verdict, the embedding and a few vocabulary terms for topic summaries. Those and
the new position commit together; then every detector sees the events, and their
findings become alerts (kept and retried should that fail) and, by rule, actions.

One process monitors at a time: it holds a lease on the position row
(``progress.py``), which another process takes over once it lapses; so every
detector sees every event. The server runs the monitor in a process of its own
(``worker.py``), fed the texts of its requests; a recent record whose text is late
waits up to ``text_wait`` for it; other processes' texts come through ``handoff.py``.

Holes: ids are handed out in order, but a transaction that rolls back, or several
writers committing out of order (PostgreSQL, several processes), leave holes for a
while. The monitor stops at a hole for up to ``GAP_WAIT`` seconds; a hole still open
then is passed, and looked for again on every step for ``HOLE_WATCH`` seconds, so a
late commit is still monitored (out of order). Holes never filled are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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
from clearance.monitoring.handoff import Handoff
from clearance.monitoring.judge import Judge
from clearance.monitoring.models import Deep, Verdicts, monitor_results_table, result_row
from clearance.monitoring.progress import MonitorStats, Progress
from clearance.monitoring.retention import ContentStore, content_table
from clearance.monitoring.rules import Due, RuleBook
from clearance.registry.jurisdictions import Jurisdictions
from clearance.registry.services import ModelCatalog
from clearance.usage.models import usage_records_table

log = structlog.get_logger(__name__)

GAP_WAIT = 5.0
HOLE_WATCH = 600.0
MAX_HOLES = 10_000
MAX_UNRAISED = 100_000
"""Findings kept for retry while alerts cannot be stored (the database is down)."""
_records = usage_records_table.c
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
        text_wait: timedelta = timedelta(0),
        handoff: Handoff | None = None,
        judge: Judge | None = None,
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
        self._text_wait = text_wait
        self._handoff = handoff
        self._guard = judge
        self._seen: dict[int, float] = {}  # rows held back for their text: first read at
        self._taken_at = 0.0  # when this monitor last took the lease (monotonic)
        self.standby = False
        """Another process holds the lease (the texts fed to this one go to the handoff)."""
        self.on_lease: Callable[[], None] | None = None
        """Called whenever this process takes the lease."""
        self._progress = Progress(db, clock)
        self._position: int | None = None
        self._holes: dict[int, float] = {}  # ids not seen yet below the position: since
        self._waiting: tuple[int, float] | None = None  # the hole stopped at, since when
        self._unraised: list[Finding] = []
        self._dropped_seen = feed.dropped
        self.stats = MonitorStats()

    async def run(self, interval: float, stopping: asyncio.Event | None = None) -> None:
        """Step until cancelled, or until ``stopping`` is set (then after a whole step,
        so the detectors see every event of a stored batch)."""
        stopping = stopping or asyncio.Event()
        while not stopping.is_set():
            try:
                done = await self.step()
            except Exception:
                log.exception("monitor_step_failed")
                self._forget()  # read the position again
                done = 0
            if done < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), interval)

    async def release(self) -> None:
        """Give the lease up, saving the counters (shutting down)."""
        await self._progress.release(self.stats)
        self._forget()

    def _forget(self) -> None:
        self._position = None
        self._progress.forget()

    async def step(self) -> int:
        """Monitor the next batch of events (if this process holds the lease);
        returns how many."""
        await self._raise_unraised()
        start = await self._lease()
        if start is None:
            return 0
        rows = await self._read(start)
        if not rows:
            return 0
        texts = {r.request_id: t for r in rows if (t := self._feed.peek(r.request_id)) is not None}
        verdicts, results, kept = await asyncio.to_thread(self._judge, rows, texts)
        if self._guard is not None:  # a second opinion (judge.py)
            self._unraised += await self._guard.review(rows, texts, verdicts, results)
        end = max(start, *(row.id for row in rows))
        dropped = self._feed.dropped
        stats = replace(
            self.stats,
            events=self.stats.events + len(rows),
            deep=self.stats.deep + len(verdicts),
            without_text=self.stats.without_text + len(rows) - len(verdicts),
            texts_dropped=self.stats.texts_dropped + dropped - self._dropped_seen,
        )

        taken: list[str] = []

        def write(conn: sa.Connection) -> bool:  # one transaction, off the event loop
            if not self._progress.save(conn, start, end, stats):
                return False
            conn.execute(monitor_results_table.insert(), results)
            if self._handoff is not None:
                taken[:] = self._handoff.monitored(conn, texts)
            if kept:
                conn.execute(content_table.insert(), kept)
            return True

        if not await self._db.run_sync(write):
            self._forget()  # the lease was lost meanwhile
            return 0
        if self._handoff is not None:
            self._handoff.forget(taken)
        self._position, self.stats, self._dropped_seen = end, stats, dropped
        for row in rows:
            self._feed.take(row.request_id)
        findings = await asyncio.to_thread(self._detect, rows, verdicts)
        self.stats.findings += len(findings)
        self._unraised += findings
        await self._raise_unraised()
        return len(rows)

    async def _lease(self) -> int | None:
        """The position to read from, the lease taken or renewed; None when another
        process holds it."""
        lease = await self._progress.acquire(self._position, self.stats)
        if lease is None:
            self._position = None
            self.standby = True
            if self._handoff is not None:  # its texts are for the holder
                self._handoff.stand_by(self._feed)
            return None
        self.standby = False
        if lease.taken:  # first step, or after another holder: its counters go on
            if self.on_lease is not None:
                self.on_lease()
            self._holes.clear()
            self._waiting = None
            self._seen.clear()
            self._taken_at = self._clock.monotonic()
            self.stats = lease.stats
            self._dropped_seen = self._feed.dropped
        self._position = lease.position
        return self._position

    async def _raise_unraised(self) -> None:
        """Findings into alerts, then rules; kept for the next step if it fails."""
        if not self._unraised:
            return
        findings, self._unraised = self._unraised, []
        try:
            alert_ids = await self._alerts.raise_all(findings)
        except Exception:
            kept = (findings + self._unraised)[-MAX_UNRAISED:]
            self.stats.findings_lost += len(findings) + len(self._unraised) - len(kept)
            self._unraised = kept
            raise
        for finding, alert_id in zip(findings, alert_ids, strict=True):
            for due in self._rules.consider(finding, finding.at or self._clock.now()):
                await self._act(due, alert_id)

    async def _read(self, start: int) -> list[Any]:
        """The rows after ``start`` up to the first recent hole, plus any late rows
        that fill older holes."""
        holes = list(self._holes)[:1000]

        def read(conn: sa.Connection) -> tuple[list[Any], list[Any]]:  # off the event loop
            query = sa.select(*_COLUMNS).where(_records.id > start).order_by(_records.id)
            rows = list(conn.execute(query.limit(self._batch)))
            if not holes:
                return rows, []
            return rows, list(conn.execute(sa.select(*_COLUMNS).where(_records.id.in_(holes))))

        rows, late = await self._db.read_sync(read)
        now = time.monotonic()
        for row in late:
            del self._holes[row.id]
        for hole, since in list(self._holes.items()):
            if now - since > HOLE_WATCH:
                del self._holes[hole]
                self.stats.holes_skipped += 1
                log.warning("usage_id_never_seen", id=hole)
        found = self._up_to_hole(start, rows, now)
        if self._handoff is not None:  # texts other server processes served
            await self._handoff.fill(self._feed, late + found)
        return late + self._told(found)

    def _told(self, rows: list[Any]) -> list[Any]:
        """The rows up to the first whose text may still come: a record waits up to
        ``text_wait`` after this monitor first read it (by its own clock), unless its
        request began longer ago than that — and the monitor did not just take the
        lease (standby processes are handing over the texts they held meanwhile)."""
        if not self._text_wait:
            return rows
        now = self._clock.monotonic()
        seen, wait = self._seen, self._text_wait.total_seconds()
        recent = self._clock.now() - self._text_wait
        if now - self._taken_at < wait:
            recent = datetime.min.replace(tzinfo=UTC)
        first = [seen.setdefault(row.id, now) for row in rows]  # all read now, at once
        for index, row in enumerate(rows):
            if (
                row.started_at > recent
                and now - first[index] < wait
                and self._feed.peek(row.request_id) is None
            ):
                self._seen = {i: t for i, t in seen.items() if i >= row.id}
                return rows[:index]
        seen.clear()
        return rows

    def _up_to_hole(self, start: int, rows: list[Any], now: float) -> list[Any]:
        expected = start + 1
        for index, row in enumerate(rows):
            if row.id != expected:
                if self._waiting is None or self._waiting[0] != expected:
                    self._waiting = (expected, now)
                if now - self._waiting[1] < GAP_WAIT:
                    return rows[:index]
                if len(self._holes) < MAX_HOLES:  # passed over, but still looked for
                    self._holes.update(dict.fromkeys(range(expected, row.id), now))
            expected = row.id + 1
        self._waiting = None
        return rows

    def _judge(
        self, rows: list[Any], texts: dict[str, str]
    ) -> tuple[Verdicts, list[dict[str, Any]], list[dict[str, Any]]]:
        """The CPU work of a batch, on a worker thread: the deep stage, the rows to
        store, the content to keep."""
        verdicts: Verdicts = {}
        if texts and self._deep:
            distinct = list(dict.fromkeys(texts.values()))  # a retried prompt, read once
            found, vectors = self._classifier.deep_with_embeddings(distinct)
            read = {
                text: Deep(
                    found[n],
                    vectors[n].astype(np.float16).tobytes(),
                    " ".join(self._classifier.terms(text)),
                )
                for n, text in enumerate(distinct)
            }
            verdicts = {i: read[t] for i, t in texts.items()}
        now = self._clock.now()
        results, kept = [], []
        for row in rows:
            text, verdict = texts.get(row.request_id), verdicts.get(row.request_id)
            results.append(result_row(row, verdict))
            model = self._catalog.get(row.model) if row.model else None
            if text is not None and model is not None:
                keep = self._content.row(row.request_id, row.model, model.retention, text, now)
                if keep is not None:
                    kept.append(keep)
        return verdicts, results, kept

    def _detect(self, rows: list[Any], verdicts: Verdicts) -> list[Finding]:
        """Every detector sees every event, in order — on a worker thread, so a large
        batch never stalls the gateway's event loop (one step runs at a time)."""
        events = [self._event(row, verdicts.get(row.request_id)) for row in rows]
        return [f for e in events for detector in self._detectors for f in detector.observe(e)]

    def _event(self, row: Any, deep: Deep | None) -> UsageEvent:
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
        verdict = deep.verdict if deep is not None else None
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
            deep=frozenset(verdict.flagged) if verdict is not None else None,
            entitled=entitled or frozenset(),
            jailbreak_score=verdict.scores.get("jailbreak") if verdict is not None else None,
        )

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
