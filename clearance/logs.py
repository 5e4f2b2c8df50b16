"""Structured logs (structlog): one JSON object a line on stderr, carrying the request
id of the request being served. Nothing secret is ever passed to a logger.

Lines logged through the standard library (uvicorn's own, asyncio's, libraries') are
rendered by the same processors, so with ``log_json`` every line on the stream is one
JSON object, with ``logger`` naming where it came from."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TextIO

import structlog

from clearance.settings import Settings


class _Handler(logging.StreamHandler[TextIO]):
    """The standard library's lines to the log stream (replaced, not added to, when
    logging is configured again)."""


def logs_at(settings: Settings, level: str) -> bool:
    """Whether lines of ``level`` are written at the configured ``log_level``."""
    levels = logging.getLevelNamesMapping()
    return levels[level.upper()] >= levels[settings.log_level.upper()]


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """JSON (or console) lines on ``stream`` (default: stderr)."""
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    pid = os.getpid()

    def add_pid(
        _logger: object, _name: str, event: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event["pid"] = pid  # which worker process, when serving with --workers
        return event

    shared: list[structlog.typing.Processor] = [
        add_pid,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = _Handler(stream or sys.stderr)
    if settings.log_json:
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=[
                    structlog.contextvars.merge_contextvars,  # the request id, if bound
                    structlog.stdlib.add_logger_name,
                    *shared,
                ],
                processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def line_writer() -> Callable[[str], None]:
    """Writes ready-made lines (one or several, ``\\n``-separated) to the log stream as
    configured, past structlog's processors: for lines rendered already."""
    logger = structlog.get_config()["logger_factory"]()
    write: Callable[[str], None] = logger.msg
    return write
