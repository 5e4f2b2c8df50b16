"""The ordered list of stages a request passes before it is forwarded:
authenticate → parse → screen → authorize → limit. (Forwarding, metering and
recording follow in ``gateway.forward``, whole or streamed.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from clearance.gateway.call import Call


class Stage(Protocol):
    async def __call__(self, call: Call) -> None:
        """Do this stage's work on ``call``, or raise :class:`GatewayError` to stop it."""
        ...


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    async def admit(self, call: Call) -> None:
        for stage in self.stages:
            await stage(call)
