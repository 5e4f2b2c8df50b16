"""Record: make the request's usage record durable before anything is released."""

from __future__ import annotations

import time

import sqlalchemy as sa
import structlog

from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.usage.models import UsageRecord
from clearance.usage.services import UsageRecorder, UsageRecorderClosed

log = structlog.get_logger(__name__)


class Record:
    def __init__(self, recorder: UsageRecorder) -> None:
        self._recorder = recorder

    async def __call__(self, call: Call, status: int, error_code: str | None) -> None:
        principal = call.principal
        if principal is None:
            return  # no key, no organization: nothing to attribute
        record = UsageRecord(
            request_id=call.request_id,
            started_at=call.started_at,
            org_id=principal.org_id,
            key_id=principal.key_id,
            endpoint=call.endpoint,
            end_user=call.end_user,
            source_ip=call.client_ip,
            model=call.model.name if call.model else None,
            status_code=status,
            error_code=error_code,
            policies=",".join(call.decision.policies)[:512] if call.decision else None,
            prompt_tokens=call.usage.get("prompt_tokens"),
            completion_tokens=call.usage.get("completion_tokens"),
            total_tokens=call.usage.get("total_tokens"),
            latency_ms=round((time.monotonic() - call.started) * 1000, 3),
        )
        try:
            await self._recorder.record(record)
        except (sa.exc.SQLAlchemyError, OSError, UsageRecorderClosed) as exc:
            log.error("usage_record_failed", error=str(exc))
            # No unlogged use: without a durable record the response is withheld.
            raise GatewayError(
                503, "usage_unrecorded", "The request could not be recorded; nothing was returned."
            ) from exc
