"""Upstream adapters: OpenAI-compatible servers (OpenAI, vLLM, llama.cpp, Ollama…) and
Anthropic's API, chosen per model.

One pool of keep-alive connections per process (see ``http1``). The model name in the body is rewritten to the
name the upstream knows; everything else the client sent is passed through. For an
OpenAI-compatible upstream the model's URL is its OpenAI base (``…/v1``); for Anthropic
it is the API base as the Anthropic SDK takes it (``https://api.anthropic.com``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from clearance import __version__
from clearance.gateway import http1
from clearance.gateway.errors import GatewayError
from clearance.registry.models import Model

ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = f"clearance/{__version__}"
PATHS = {
    "chat.completions": "chat/completions",
    "completions": "completions",
    "embeddings": "embeddings",
    "messages": "v1/messages",
}


def unreachable(model: Model) -> GatewayError:
    return GatewayError(
        502, "upstream_error", f"The upstream for '{model.name}' could not be reached."
    )


def timed_out(model: Model) -> GatewayError:
    return GatewayError(
        504, "upstream_timeout", f"The upstream for '{model.name}' did not answer in time."
    )


class UpstreamResponse:
    """An open upstream response; read it whole or by chunks, then it is released."""

    def __init__(self, model: Model, response: http1.Response) -> None:
        self.model = model
        self._response = response
        self.status = response.status
        self.content_type = response.headers.get("content-type", "application/json")
        self.retry_after = response.headers.get("retry-after")

    async def body(self) -> bytes:
        try:
            return await self._response.read()
        except http1.UpstreamTimeout as exc:
            raise timed_out(self.model) from exc
        except http1.UpstreamFailed as exc:
            raise unreachable(self.model) from exc

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises GatewayError if the upstream fails midway."""
        try:
            async for chunk in self._response.chunks():
                yield chunk
        except http1.UpstreamTimeout as exc:
            raise timed_out(self.model) from exc
        except http1.UpstreamFailed as exc:
            raise unreachable(self.model) from exc

    @property
    def ended(self) -> bool:
        """All of the body has been read: the next chunk is none."""
        return self._response.ended

    def close(self) -> None:
        """Drop the connection (a client that went away cancels the upstream request)."""
        self._response.close()


class Upstreams:
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._pool = http1.Pool(connect_timeout, read_timeout)

    async def open(
        self,
        model: Model,
        endpoint: str,
        body: dict[str, Any],
        credential: str | None,
        anthropic_version: str | None = None,
    ) -> UpstreamResponse:
        payload = orjson.dumps({**body, "model": model.upstream_model})
        # Identity encoding: bodies are relayed byte for byte and read for usage.
        headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",
            "user-agent": USER_AGENT,
        }
        if model.upstream_api == "anthropic":
            headers["anthropic-version"] = anthropic_version or ANTHROPIC_VERSION
            if credential:
                headers["x-api-key"] = credential
        elif credential:
            headers["authorization"] = f"Bearer {credential}"
        url = f"{model.upstream_url}/{PATHS[endpoint]}"
        try:
            response = await self._pool.request("POST", url, headers, payload)
        except http1.UpstreamTimeout as exc:
            raise timed_out(model) from exc
        except http1.UpstreamFailed as exc:
            raise unreachable(model) from exc
        except ValueError as exc:  # a header value the client sent cannot be relayed
            raise GatewayError(400, "invalid_request_error", str(exc)) from exc
        return UpstreamResponse(model, response)

    async def close(self) -> None:
        self._pool.close()
