"""Upstream adapter for OpenAI-compatible servers (OpenAI, vLLM, llama.cpp, Ollama, …).

One pooled HTTP client per process. The model name in the body is rewritten to the
name the upstream knows; everything else the client sent is passed through untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from clearance.gateway.call import UpstreamReply
from clearance.gateway.errors import GatewayError
from clearance.registry.models import Model


class OpenAIUpstream:
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=False
            )
        return self._session

    async def post(
        self, model: Model, path: str, body: dict[str, Any], credential: str | None
    ) -> UpstreamReply:
        payload = orjson.dumps({**body, "model": model.upstream_model})
        headers = {"content-type": "application/json"}
        if credential:
            headers["authorization"] = f"Bearer {credential}"
        url = f"{model.upstream_url}/{path}"
        try:
            async with self._client().post(url, data=payload, headers=headers) as response:
                content = await response.read()
                return UpstreamReply(
                    status=response.status,
                    body=content,
                    content_type=response.headers.get("content-type", "application/json"),
                )
        except TimeoutError as exc:
            raise GatewayError(
                504, "upstream_timeout", f"The upstream for '{model.name}' did not answer in time."
            ) from exc
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise GatewayError(
                502, "upstream_error", f"The upstream for '{model.name}' could not be reached."
            ) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
