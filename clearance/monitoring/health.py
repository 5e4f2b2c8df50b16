"""Whether usage monitoring is actually happening, as the server sees it.

A monitor that fails quietly is a safety hole: no alerts, no automatic enforcement,
while the gateway keeps serving. So the server watches two things every few seconds
and reports them on ``/readyz``, in metrics and, when it lasts, as an operator alert
in the review queue:

* its own monitor is running — the child process is up (and, after failures, has
  stayed up for a while), or the in-process task is alive;
* the monitor holding the lease keeps up — the oldest usage record it has not read
  is no older than ``max_lag`` seconds (the same for every replica: if the holder
  falls behind, monitoring falls behind for all of them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry, Gauge

from clearance.clock import Clock
from clearance.db.database import Database
from clearance.monitoring.alerts import Alerts
from clearance.monitoring.detectors.base import Finding, Severity
from clearance.monitoring.models import monitor_progress_table
from clearance.monitoring.process import MonitorProcess
from clearance.monitoring.progress import NAME
from clearance.usage.models import usage_records_table

log = structlog.get_logger(__name__)

CHECK_EVERY = 2.0
ALERT_AFTER = 30.0
"""Seconds a problem lasts before it is raised as an operator alert."""
DETECTOR = "monitor_health"

_records = usage_records_table.c
_progress = monitor_progress_table.c


@dataclass(frozen=True)
class MonitorHealth:
    running: bool
    lag_seconds: float
    """Age of the oldest usage record no monitor has read yet (0 when none waits)."""
    problem: str | None
    """Why monitoring is not happening as it should, or None."""


class MonitorWatch:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        alerts: Alerts,
        process: MonitorProcess | None,
        max_lag: float,
        registry: CollectorRegistry,
        alert_after: float = ALERT_AFTER,
    ) -> None:
        """Watches ``process``, or (in-process mode) the task given to :meth:`attach`;
        ``max_lag`` 0 turns the lag check off."""
        self._db = db
        self._clock = clock
        self._alerts = alerts
        self._process = process
        self._task: asyncio.Future[None] | None = None
        self._max_lag = max_lag
        self._alert_after = alert_after
        self._last_lag = 0.0
        self._since: float | None = None
        self._alerted = False
        self._up = Gauge(
            "clearance_monitor_up",
            "1 while this server's usage monitor runs, 0 otherwise.",
            registry=registry,
        )
        self._up.set_function(lambda: 0.0 if self._running() else 1.0)  # asked at scrape
        self._lag = Gauge(
            "clearance_monitor_lag_seconds",
            "Age of the oldest usage record no monitor has read yet.",
            registry=registry,
        )

    async def lag(self) -> float:
        async with self._db.read() as conn:
            position = await conn.scalar(
                sa.select(_progress.last_usage_id).where(_progress.name == NAME)
            )
            oldest = await conn.scalar(
                sa.select(_records.started_at)
                .where(_records.id > int(position or 0))
                .order_by(_records.id)
                .limit(1)
            )
        if oldest is None:
            return 0.0
        return max(0.0, float((self._clock.now() - oldest).total_seconds()))

    def attach(self, task: asyncio.Future[None]) -> None:
        """The monitor's task, when it runs in this process."""
        self._task = task

    def _running(self) -> str | None:
        """Why this server's monitor is not running, or None if it is."""
        if self._process is not None:
            return self._process.problem()
        if self._task is None:
            return "the usage monitor has not started"
        return "the usage monitor stopped" if self._task.done() else None

    @property
    def state(self) -> MonitorHealth:
        """Now: whether the monitor runs (asked at once), and the lag last measured."""
        not_running = self._running()
        lag = self._last_lag
        problem = not_running
        if problem is None and self._max_lag and lag > self._max_lag:
            problem = f"the usage monitor is {lag:.0f} s behind (more than {self._max_lag:.0f} s)"
        return MonitorHealth(not_running is None, lag, problem)

    async def check(self) -> MonitorHealth:
        """Measure the lag now; updates the gauges, and raises an alert once a problem
        has lasted ``ALERT_AFTER`` seconds."""
        try:
            self._last_lag = await self.lag()
        except Exception as exc:  # the database: readiness says so elsewhere
            log.warning("monitor_lag_unknown", error=str(exc))
        state = self.state
        self._lag.set(state.lag_seconds)
        await self._alert_if_lasting(state.problem)
        return state

    async def _alert_if_lasting(self, problem: str | None) -> None:
        now = self._clock.monotonic()
        if problem is None:
            self._since, self._alerted = None, False
            return
        if self._since is None:
            self._since = now
            log.error("monitor_unhealthy", problem=problem)
        if self._alerted or now - self._since < self._alert_after:
            return
        finding = Finding(
            detector=DETECTOR,
            severity=Severity.CRITICAL,
            org_id=None,
            summary=f"Usage monitoring is not working: {problem}",
            evidence={"problem": problem, "for_seconds": round(now - self._since)},
            at=self._clock.now(),
        )
        try:
            await self._alerts.raise_all([finding])
            self._alerted = True
        except Exception:  # the alert is retried at the next check
            log.exception("monitor_health_alert_failed")

    async def run(self, interval: float = CHECK_EVERY) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("monitor_health_check_failed")
            await asyncio.sleep(interval)
