"""Screen: score what the request asks (the inline content classifier) and hand the
signals over its thresholds to authorization as ``context.categories``.

The classifier only reports; policy decides what an organization may ask (a dual-use
domain it is entitled to is allowed, one it is not is refused). Fails closed: if
scoring fails, the request is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from clearance.content.classifier import Verdict
from clearance.content.prompts import request_text
from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError

log = structlog.get_logger(__name__)


class InlineClassifier(Protocol):
    def inline(self, texts: Sequence[str]) -> list[Verdict]: ...


class Screen:
    def __init__(self, classifier: InlineClassifier) -> None:
        self._classifier = classifier

    async def __call__(self, call: Call) -> None:
        text = request_text(call.endpoint, call.body)
        if not text:
            return
        try:
            (verdict,) = self._classifier.inline([text])
        except Exception:  # fail closed: unscreened content goes nowhere
            log.exception("screening_failed", request_id=call.request_id)
            raise GatewayError(
                503, "screening_unavailable", "The request could not be screened; retry shortly."
            ) from None
        call.screening = verdict
        call.categories = frozenset(verdict.flagged)
