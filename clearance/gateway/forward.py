"""Forward, meter, record: send an admitted request upstream and bring the answer back
— whole, or streamed chunk by chunk as it arrives.

No unlogged use: a whole answer is released only after its usage record commits; a
stream's record commits before its first byte goes out, and its outcome (tokens,
latency, how it ended) when it ends. A client that goes away mid-stream closes the
upstream connection, cancelling the upstream's work.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from starlette.types import Receive, Send

from clearance.clock import Clock
from clearance.gateway.call import Call
from clearance.gateway.errors import GatewayError
from clearance.gateway.metrics import UPSTREAM_STATUS, GatewayMetrics
from clearance.gateway.output import OutputScreen, StreamScreen, answer_text
from clearance.gateway.protocols.base import StreamMeter
from clearance.gateway.upstream import UpstreamResponse, Upstreams
from clearance.registry.services import ModelCatalog
from clearance.usage.models import UsageOutcome, UsageRecord
from clearance.usage.recorder import UsageRecorder, UsageRecorderClosed

REQUEST_ID = b"x-request-id"


def request_id_headers(protocol: str, request_id: str) -> list[tuple[bytes, bytes]]:
    """``x-request-id`` always; Anthropic's SDKs read ``request-id`` as well."""
    value = request_id.encode()
    if protocol == "anthropic":
        return [(REQUEST_ID, value), (b"request-id", value)]
    return [(REQUEST_ID, value)]


EVENT_SEPARATOR = b"\n\n"


def usage_record(
    call: Call, status: int, error_code: str | None, streamed: bool = False
) -> UsageRecord:
    principal = call.principal
    assert principal is not None
    return UsageRecord(
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
        prompt_tokens=call.usage.prompt,
        completion_tokens=call.usage.completion,
        total_tokens=call.usage.total,
        # A stream's latency (like its tokens) comes with its outcome, when it ends.
        latency_ms=None if streamed else round((time.monotonic() - call.started) * 1000, 3),
        streamed=streamed,
        categories=_categories(call),
    )


def _categories(call: Call) -> str | None:
    """What screening flagged in the request, then anything more in the answer."""
    found = list(call.screening.flagged) if call.screening else []
    found += [flag for flag in call.output_flags if flag not in found]
    return ",".join(found)[:128] or None


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


class Forwarder:
    def __init__(
        self,
        upstreams: Upstreams,
        catalog: ModelCatalog,
        recorder: UsageRecorder,
        clock: Clock,
        metrics: GatewayMetrics,
        output: OutputScreen | None = None,
    ) -> None:
        self._upstreams = upstreams
        self._catalog = catalog
        self._recorder = recorder
        self._clock = clock
        self._metrics = metrics
        self._output = output

    async def durably(self, row: UsageRecord, refused: bool = False) -> None:
        """``refused``: the response carries nothing of the model's (see the recorder)."""
        try:
            await self._recorder.record(row, refused)
        except (UsageRecorderClosed, Exception) as exc:  # any storage failure: fail closed
            # No unlogged use: without a durable record nothing is released.
            raise GatewayError(
                503, "usage_unrecorded", "The request could not be recorded; nothing was returned."
            ) from exc

    async def _open(self, call: Call, body: dict[str, Any]) -> UpstreamResponse:
        model = call.model
        assert model is not None
        try:
            return await self._upstreams.open(
                model, call.endpoint, body, self._catalog.credential(model), call.anthropic_version
            )
        except GatewayError as error:
            self._metrics.upstream_errors.labels(model.name, error.code).inc()
            raise

    def _check_reply(self, call: Call, status: int, document: dict[str, Any] | None) -> None:
        """An upstream error in an API's own shape passes through, status and all —
        except 401 and 403, which mean the upstream refused *Clearance's* credential,
        not the client's; those and anything not a JSON object become ``upstream_error``."""
        name = call.model.name if call.model else "?"
        if status >= 400:
            self._metrics.upstream_errors.labels(name, str(status)).inc()
            if status in (401, 403):
                raise GatewayError(
                    502, "upstream_error", f"The upstream for '{name}' refused its credential."
                )
            if not isinstance((document or {}).get("error"), dict):
                raise GatewayError(
                    502, "upstream_error", f"The upstream for '{name}' failed with HTTP {status}."
                )
        elif document is None:
            self._metrics.upstream_errors.labels(name, "invalid_json").inc()
            raise GatewayError(
                502, "upstream_error", f"The upstream for '{name}' sent invalid JSON."
            )

    async def whole(self, call: Call, send: Send) -> None:
        response = await self._open(call, call.body)
        content = await response.body()
        document = _json_object(content)
        self._check_reply(call, response.status, document)
        if response.status < 400 and document is not None:
            call.usage = call.protocol.usage(document)
            if self._output is not None and self._output.wanted(call):
                refusal = self._output.judge(call, answer_text(document))
                if refusal is not None:
                    raise refusal  # recorded as refused, with the tokens it used
        error_code = None if response.status < 400 else UPSTREAM_STATUS
        await self.durably(usage_record(call, response.status, error_code))
        call.status, call.error_code = response.status, error_code
        headers = [
            (b"content-type", response.content_type.encode()),
            (b"content-length", b"%d" % len(content)),
            *request_id_headers(call.protocol.name, call.request_id),
        ]
        if response.retry_after is not None and response.status >= 400:
            headers.append((b"retry-after", response.retry_after.encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def stream(self, call: Call, receive: Receive, send: Send) -> None:
        body, meter = call.protocol.prepare_stream(call.body)
        response = await self._open(call, body)
        if response.status != 200:
            content = await response.body()
            self._check_reply(call, response.status, _json_object(content))
            await self.durably(usage_record(call, response.status, UPSTREAM_STATUS))
            call.status, call.error_code = response.status, UPSTREAM_STATUS
            headers = [
                (b"content-type", b"application/json"),
                *request_id_headers(call.protocol.name, call.request_id),
            ]
            if response.retry_after is not None:
                headers.append((b"retry-after", response.retry_after.encode()))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": content})
            return
        try:
            await self.durably(usage_record(call, 200, None, streamed=True))
        except GatewayError:
            response.close()
            raise
        headers = [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache"),
            *request_id_headers(call.protocol.name, call.request_id),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        status, error_code = await self._relay(call, response, meter, receive, send)
        call.usage = meter.usage
        call.error_code = error_code
        if status != 200:  # its client left (a failure's status is the error's: _pump)
            call.status = status
        latency = round((time.monotonic() - call.started) * 1000, 3)
        outcome = UsageOutcome(
            request_id=call.request_id,
            finished_at=self._clock.now(),
            status_code=status,
            error_code=error_code,
            prompt_tokens=meter.usage.prompt,
            completion_tokens=meter.usage.completion,
            total_tokens=meter.usage.total,
            latency_ms=latency,
        )
        with contextlib.suppress(UsageRecorderClosed):  # the client has its answer already
            self._recorder.finish(outcome)

    async def _relay(
        self,
        call: Call,
        response: UpstreamResponse,
        meter: StreamMeter,
        receive: Receive,
        send: Send,
    ) -> tuple[int, str | None]:
        """Pass the stream through event by event until it ends, fails or the client
        leaves (its watch then drops the upstream connection, which ends the upstream's
        work and the relay). Returns the outcome's status and error code."""
        if response.ended:  # all of it is here already: nothing upstream left to cancel
            return await self._pump(call, response, meter, send, None)
        watch = _Watch(receive, response)
        try:
            result = await self._pump(call, response, meter, send, watch)
        finally:
            watch.stop()
        return (499, "client_disconnected") if watch.left else result

    async def _pump(
        self,
        call: Call,
        response: UpstreamResponse,
        meter: StreamMeter,
        send: Send,
        watch: _Watch | None,
    ) -> tuple[int, str | None]:
        buffer, last = b"", b""
        screen = (
            StreamScreen(self._output, call)
            if self._output is not None and self._output.wanted(call)
            else None
        )
        try:
            async for chunk in response.chunks():
                buffer += chunk.replace(b"\r\n", b"\n")
                *events, buffer = buffer.split(EVENT_SEPARATOR)
                passed = [e for e in events if e and meter.observe(e)]
                if screen is not None and (refusal := screen.judge(passed)) is not None:
                    response.close()  # the upstream stops generating
                    raise refusal
                if not passed:
                    continue
                out = b"".join(e + EVENT_SEPARATOR for e in passed)
                if response.ended:  # the last events go with the stream's end: one write
                    last = out
                else:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            if screen is not None and buffer.strip() and (refusal := screen.judge([buffer])):
                raise refusal
        except GatewayError as error:
            if watch is not None and watch.left:
                return 499, "client_disconnected"
            call.status = error.status  # what the stream's error event says, not its 200
            # Headers are gone already: end the stream with a well-formed error event.
            await send(
                {
                    "type": "http.response.body",
                    "body": last + call.protocol.stream_error(error),
                    "more_body": True,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return 200, error.code
        if buffer.strip() and meter.observe(buffer):
            last += buffer + EVENT_SEPARATOR
        await send({"type": "http.response.body", "body": last})
        return 200, None


WATCH_AFTER = 0.02
"""Seconds into a stream before its client is watched for leaving. A watch (a task
waiting on the connection) costs more than the rest of a short stream's relay, and
most short streams end sooner; a client that leaves a longer one has its upstream
request cancelled at most this much later."""


class _Watch:
    """Watches a streaming client, from ``WATCH_AFTER`` on, for leaving: then marks
    it ``left`` and drops the upstream connection."""

    def __init__(self, receive: Receive, response: UpstreamResponse) -> None:
        self.left = False
        self._receive, self._response = receive, response
        self._task: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            WATCH_AFTER, self._start
        )

    def _start(self) -> None:
        self._timer = None
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.left = True
        self._response.close()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
