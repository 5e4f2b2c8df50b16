"""The ordered list of stages a gateway request passes through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from clearance.gateway.call import Call, UpstreamReply
from clearance.gateway.errors import GatewayError
from clearance.gateway.stages.record import Record

log = structlog.get_logger(__name__)


class Stage(Protocol):
    async def __call__(self, call: Call) -> None:
        """Do this stage's work on ``call``, or raise :class:`GatewayError` to stop it."""
        ...


class Pipeline:
    def __init__(self, stages: Sequence[Stage], record: Record) -> None:
        self.stages = tuple(stages)
        self._record = record

    async def run(self, call: Call) -> UpstreamReply:
        """Run every stage; the usage record is written whatever the outcome."""
        try:
            for stage in self.stages:
                await stage(call)
        except GatewayError as error:
            try:
                await self._record(call, error.status, error.code)
            except GatewayError:
                log.error("usage_record_lost_for_refusal", code=error.code)
            raise
        if call.reply is None:
            raise GatewayError(500, "internal_error", "The request produced no reply.")
        await self._record(call, call.reply.status, None)
        return call.reply
