"""Structured logs (structlog): one JSON object a line on stderr, carrying the request
id of the request being served. Nothing secret is ever passed to a logger."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TextIO

import structlog

from clearance.settings import Settings


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

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_pid,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s")


def line_writer() -> Callable[[str], None]:
    """Writes ready-made lines (one or several, ``\\n``-separated) to the log stream as
    configured, past structlog's processors: for lines rendered already."""
    logger = structlog.get_config()["logger_factory"]()
    write: Callable[[str], None] = logger.msg
    return write
