"""The monitor in a process of its own, started and watched over by the server.

The monitor's work — reading usage records, the deep stage, the detectors — is CPU
work in Python. In the serving process it would hold the interpreter's lock while
requests wait for it (a few milliseconds at a time, at every request's p99); in a
process of its own it runs beside the gateway on another core.

The gateway hands each request's text over as it screens it (``put``): texts are
gathered for ``FLUSH_EVERY`` and written to the monitor's standard input as one frame
(see ``frames.py``) — one write for many requests. The monitor reads its input into
its feed, where the record of the request finds the text; a recent record whose text
has not arrived waits for it up to ``monitor_text_wait`` seconds after the monitor first
read it (records with no text — refused before screening, or served by another process —
wait that long too, nothing else does).

When the monitor process exits it is started again (after 1 s, doubling up to 30 s
while it keeps failing). Texts that cannot be handed over — the monitor is starting
again, or more than ``MAX_PENDING`` bytes wait in the pipe — are counted
(``undelivered``); their records are still monitored, by the inline stage's verdict.
The monitor exits when its input closes, so it never outlives the server, even one
killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import structlog

from clearance.monitoring.frames import encode

log = structlog.get_logger(__name__)

FLUSH_EVERY = 0.01
"""Seconds texts are gathered before they are written to the monitor."""
FLUSH_CHARS = 1_000_000
"""Characters gathered that are written at once."""
MAX_PENDING = 64 * 2**20
"""Bytes waiting in the pipe beyond which texts are not handed over."""
STOP_WAIT = 30.0
"""Seconds the monitor has to finish, notify and give its lease up on shutdown."""
RESTART_FIRST, RESTART_MAX = 1.0, 30.0
HEALTHY_AFTER = 60.0
"""A monitor that ran this long before exiting is restarted after the first delay."""
SETTLED_AFTER = 10.0
"""A monitor started again after failing counts as running once it has run this long."""


class MonitorProcess:
    def __init__(self, environment: dict[str, str]) -> None:
        self._environment = environment
        self._process: asyncio.subprocess.Process | None = None
        self._pending: list[tuple[str, str]] = []
        self._pending_chars = 0
        self._flush_at: asyncio.TimerHandle | None = None
        self.undelivered = 0
        """Texts not handed over (the monitor was down, or far behind)."""
        self.starts = 0
        self.failures = 0
        """Exits in a row, each before ``HEALTHY_AFTER`` (a monitor that keeps failing)."""
        self.last_exit: str | None = None
        self._up_since: float | None = None

    def problem(self) -> str | None:
        """Why the monitor is not running now, or None if it is: not started yet,
        exited, or started again after failing and not yet settled."""
        if self._process is None or self._process.returncode is not None:
            if self.last_exit is None:
                return "the monitor process has not started"
            return f"the monitor process exited ({self.last_exit}); restarting"
        if self.failures and time.monotonic() - (self._up_since or 0.0) < SETTLED_AFTER:
            return (
                f"the monitor process keeps exiting ({self.failures} times in a row, "
                f"last: {self.last_exit})"
            )
        return None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def put(self, request_id: str, text: str) -> None:
        """Hand a request's text over (with the others of the next few milliseconds)."""
        self._pending.append((request_id, text))
        self._pending_chars += len(text)
        if self._pending_chars >= FLUSH_CHARS:
            self.flush()
        elif self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(FLUSH_EVERY, self.flush)

    def flush(self) -> None:
        """Write what was gathered to the monitor now."""
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        texts, self._pending, self._pending_chars = self._pending, [], 0
        if not texts:
            return
        stdin = self._process.stdin if self._process is not None else None
        if (
            stdin is None
            or stdin.is_closing()
            or stdin.transport.get_write_buffer_size() > MAX_PENDING
        ):
            self.undelivered += len(texts)
            return
        stdin.write(encode(texts))

    async def run(self) -> None:
        """Start the monitor, and start it again whenever it exits, until cancelled
        (which stops it)."""
        delay = RESTART_FIRST
        try:
            while True:
                started = time.monotonic()
                try:
                    code: int | str = await self._start_and_wait()
                except OSError as exc:  # cannot start it (no memory, no file handles…)
                    code = f"not started: {exc}"
                self._process = None
                self.last_exit = f"exit status {code}" if isinstance(code, int) else code
                if time.monotonic() - started > HEALTHY_AFTER:
                    delay = RESTART_FIRST
                    self.failures = 0
                else:
                    self.failures += 1
                log.error("monitor_process_exited", code=code, restart_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESTART_MAX)
        finally:
            await self._stop()

    async def _start_and_wait(self) -> int:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            # -P: the working directory does not go first on sys.path, so a folder
            # named "clearance" there (the parent of a clone, say) cannot shadow the
            # installed package — the monitor once crash-looped on just that.
            "-P",
            "-m",
            "clearance.monitoring.worker",
            stdin=asyncio.subprocess.PIPE,
            env=self._environment,
        )
        self.starts += 1
        self._up_since = time.monotonic()
        log.info("monitor_process_started", pid=self._process.pid)
        return await self._process.wait()

    async def _stop(self) -> None:
        self.flush()
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the monitor finishes its batch and exits
        try:
            await asyncio.wait_for(process.wait(), STOP_WAIT)
        except TimeoutError:
            log.error("monitor_process_killed", pid=process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
