"""``python -m clearance.monitoring.worker``: the usage monitor as its own process.

Started by the server (``process.py``) with the server's settings in its
environment. It keeps the hot-path state fresh (models, entitlements, jurisdictions)
as the server does, runs the monitor, and reads the texts the server hands over on
its standard input into the monitor's feed (or, while another process's monitor holds
the lease, hands them over to it: ``handoff.py``). When that input ends — the server
stopped, or died — or on SIGTERM, it finishes its step, gives its lease up and exits.
SIGINT (a terminal's Ctrl-C, sent to the server too) is left to the server, which
then closes the input.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import structlog

from clearance.container import Services, build_services
from clearance.logs import configure_logging
from clearance.monitoring import priority
from clearance.monitoring.frames import BadFrame, read_frame
from clearance.settings import load_settings

log = structlog.get_logger(__name__)

READ_LIMIT = 2**20
FINISH_WAIT = 20.0
"""Seconds the last steps have to finish (the server waits ``STOP_WAIT`` for it)."""
NOTIFY_WAIT = 6.0
"""Seconds notifications under way have to go out."""


async def feed_from(reader: asyncio.StreamReader, services: Services) -> None:
    """Texts from the input into the monitor's feed, until the input ends."""
    feed, monitor = services.content_feed, services.monitor
    try:
        while (texts := await read_frame(reader)) is not None:
            if monitor.standby:  # another process monitors: the texts are for it
                services.handoff.hand(texts)
                continue
            for request_id, text in texts:
                feed.put(request_id, text)
    except BadFrame as exc:
        log.error("monitor_input_unreadable", reason=str(exc))


async def run(services: Services) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=READ_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    await services.watcher.check()
    if services.settings.monitor_idle_priority:
        services.monitor.on_lease = priority.make_way
    stopping = asyncio.Event()
    watcher = asyncio.create_task(services.watcher.run(), name="state-watcher")
    monitor = asyncio.create_task(
        services.monitor.run(services.settings.monitor_interval, stopping), name="monitor"
    )
    feeding = asyncio.create_task(feed_from(reader, services), name="feed")
    loop.add_signal_handler(signal.SIGTERM, feeding.cancel)
    log.info("monitor_started")
    try:
        await feeding
    except asyncio.CancelledError:
        log.info("monitor_terminated")
    stopping.set()
    try:
        async with asyncio.timeout(FINISH_WAIT):
            await monitor  # its step ends…
            while await services.monitor.step():  # …and what the server stored last
                pass
    except TimeoutError:
        log.error("monitor_unfinished_at_stop")
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    try:
        async with asyncio.timeout(NOTIFY_WAIT):
            await services.handoff.close()
    except TimeoutError:
        log.error("monitor_handoff_unfinished_at_stop")
    try:
        await services.monitor.release()
    except Exception:  # the lease lapses by itself
        log.exception("monitor_release_failed")
    try:
        async with asyncio.timeout(NOTIFY_WAIT):
            await services.notifier.drain()
    except TimeoutError:
        log.error("notifications_unfinished_at_stop")
    await services.db.dispose()
    handoff = services.handoff
    log.info("monitor_stopped", texts_handed=handoff.handed, texts_dropped=handoff.dropped)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = load_settings()
    configure_logging(settings)
    priority.lower(settings.monitor_nice)
    asyncio.run(run(build_services(settings)))


if __name__ == "__main__":
    main()
