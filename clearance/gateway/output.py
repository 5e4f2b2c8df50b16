"""Output screening: what a model answers is scored too, for models that declare the
``output_screening`` safeguard, and policy decides as it does for requests.

A request can pass screening and still draw a harmful answer — an encoded question the
model decodes, say. The inline classifier scores the answer; if it flags anything,
the same Cedar question is asked again with the answer's signals added to the
request's, and a denial withholds the answer: a whole response becomes the policy's
refusal (its tokens are still metered and recorded); a stream ends with a well-formed
error event in place of the chunk that made the answer harmful — what came before it
has gone out already, which is the price of not holding streams back.

Streams are screened at chunk boundaries: each chunk of text the upstream sends is
scored, with what came before it (its last ``TAIL_CHARS``), before it is forwarded —
so nothing is held back beyond the chunk being read, and scoring costs a fraction of
a millisecond a chunk. Scoring that fails withholds the answer (fail closed).
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog

from clearance.content.prompts import content_text
from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.gateway.protocols.base import sse_data
from clearance.gateway.stages.authorize import ACTIONS
from clearance.gateway.stages.screen import InlineClassifier
from clearance.policy.authorizer import Authorizer, Question

log = structlog.get_logger(__name__)

SAFEGUARD = "output_screening"
TAIL_CHARS = 2000
RECORDED = frozenset({"jailbreak"})
"""Signals noted but not judged in answers (a model does not jailbreak itself)."""


def answer_text(document: dict[str, Any]) -> str:
    """The text of a whole answer: OpenAI choices (messages, tool calls, completions)
    or Anthropic content blocks."""
    parts: list[Any] = []
    for choice in document.get("choices") or ():
        if isinstance(choice, dict):
            parts += [choice.get("message"), choice.get("text")]
    if document.get("type") == "message":
        parts.append(document.get("content"))
    return content_text(parts)


def delta_text(event: bytes) -> str:
    """The text one streamed event adds (OpenAI deltas, Anthropic block deltas)."""
    data = sse_data(event)
    if data is None or data == b"[DONE]":
        return ""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(document, dict):
        return ""
    parts: list[Any] = []
    for choice in document.get("choices") or ():
        if isinstance(choice, dict):
            parts += [choice.get("delta"), choice.get("text")]
    if document.get("type") in ("content_block_delta", "content_block_start"):
        parts += [document.get("delta"), document.get("content_block")]
    return content_text(parts) if parts else ""


class OutputScreen:
    def __init__(self, classifier: InlineClassifier, authorizer: Authorizer) -> None:
        self._classifier = classifier
        self._authorizer = authorizer

    @staticmethod
    def wanted(call: Call) -> bool:
        return call.model is not None and SAFEGUARD in call.model.safeguards

    def judge(self, call: Call, text: str) -> GatewayError | None:
        """None if the answer may go out; else the refusal to send instead."""
        if not text.strip():
            return None
        try:
            (verdict,) = self._classifier.inline([text])
        except Exception:
            log.exception("output_screening_failed", request_id=call.request_id)
            return GatewayError(
                503, "screening_unavailable", "The answer could not be screened; retry shortly."
            )
        flagged = frozenset(verdict.flagged)
        call.output_flags = tuple(sorted(flagged | set(call.output_flags)))
        judged = flagged - RECORDED
        if not judged or call.principal is None or call.model is None:
            return None
        question = Question(
            action=ACTIONS.get(call.endpoint, "invoke"),
            purpose=call.purpose,
            categories=call.categories | judged,
            source_ip=call.client_ip,
            end_user=call.end_user,
        )
        decision = self._authorizer.decide(call.principal, call.model, question)
        if decision.allowed:
            return None
        return GatewayError(
            403,
            decision.code or "access_denied",
            f"The model's answer was withheld: it was {decision.reason}.",
        )


class StreamScreen:
    """One stream's screening: the text so far, judged chunk by chunk."""

    def __init__(self, screen: OutputScreen, call: Call) -> None:
        self._screen = screen
        self._call = call
        self._tail = ""

    def judge(self, events: list[bytes]) -> GatewayError | None:
        added = "".join(delta_text(event) for event in events)
        if not added:
            return None
        self._tail = (self._tail + added)[-TAIL_CHARS:]
        return self._screen.judge(self._call, self._tail)
