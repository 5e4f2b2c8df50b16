"""Screen: score what the request asks (the inline content classifier) and hand the
signals over its thresholds to authorization as ``context.categories``.

The classifier only reports; policy decides what an organization may ask (a dual-use
domain it is entitled to is allowed, one it is not is refused). Fails closed: if
scoring fails, the request is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

import structlog

from clearance.content.classifier import Verdict, strongest
from clearance.content.prompts import Unscreenable, read_request
from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError, invalid_request

log = structlog.get_logger(__name__)

OFF_LOOP_CHARS = 20_000
"""Texts longer than this are scored on a worker thread (a few milliseconds or more)."""


class InlineClassifier(Protocol):
    def inline(self, texts: Sequence[str]) -> list[Verdict]: ...


class TextSink(Protocol):
    """Where request texts go for the monitor (its feed, or its process)."""

    def put(self, request_id: str, text: str) -> None: ...


class Screen:
    def __init__(self, classifier: InlineClassifier, feed: TextSink | None = None) -> None:
        self._classifier = classifier
        self._feed = feed

    async def __call__(self, call: Call) -> None:
        try:
            read = read_request(call.endpoint, call.body)
        except Unscreenable as exc:
            raise invalid_request(exc.message, exc.field) from None
        text = read.text
        if not text:
            return
        try:
            pieces = read.pieces()
            if len(text) > OFF_LOOP_CHARS:  # long: score it without stalling other requests
                verdict = strongest(await asyncio.to_thread(self._classifier.inline, pieces))
            else:
                verdict = strongest(self._classifier.inline(pieces))
        except Exception:  # fail closed: unscreened content goes nowhere
            log.exception("screening_failed", request_id=call.request_id)
            raise GatewayError(
                503, "screening_unavailable", "The request could not be screened; retry shortly."
            ) from None
        call.screening = verdict
        call.categories = frozenset(verdict.flagged)
        if self._feed is not None:  # for the monitor's deep stage and retention
            self._feed.put(call.request_id, text)
