"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` server.

vLLM, SGLang, TGI, Ollama, the llama.cpp server and hosted APIs all speak this protocol, so one
backend covers the paper's three judges and any model under test. Spec on the command line:
``openai/<model-name>@<base-url>``; without ``@<base-url>`` the ``OPENAI_BASE_URL`` environment
variable is used. The key comes from ``OPENAI_API_KEY`` (or the variable named by
``--api-key-env``). One aiohttp session with one connection pool serves all requests.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import socket
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from safemed.backends.base import (
    Backend,
    Completion,
    GenerationParams,
    RequestRejected,
    TransientBackendError,
    Usage,
)
from safemed.errors import BackendError, ConfigError
from safemed.records import ChatMessage

#: the longest a reachability probe waits for the TCP handshake
PROBE_TIMEOUT = 10.0
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
REJECTED_STATUS = frozenset({400, 413, 422})


def normalise_base_url(url: str) -> str:
    """``http://host:8000`` → ``http://host:8000/v1``; a URL with a path is kept as given."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"base URL {url!r} is not an http(s) URL")
    base = url.rstrip("/")
    return base + "/v1" if parts.path in ("", "/") else base


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenAIBackend(Backend):
    """Chat completions over HTTP with a shared aiohttp connection pool."""

    kind = "openai"

    def __init__(self, spec: str, model: str, base_url: str, *, api_key: str | None = None,
                 timeout: float = 120.0, pool_size: int = 256, extra_body: dict[str, Any] | None = None) -> None:
        super().__init__(spec, model)
        self.base_url = normalise_base_url(base_url)
        self.url = self.base_url + "/chat/completions"
        self.api_key = api_key
        self.timeout = timeout
        self.pool_size = pool_size
        self.extra_body = extra_body or {}
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_spec(cls, spec: str, rest: str, *, api_key_env: str = "OPENAI_API_KEY",
                  timeout: float = 120.0, pool_size: int = 256) -> OpenAIBackend:
        """Build from the part of the spec after ``openai/``: ``NAME`` or ``NAME@URL``."""
        name, sep, url = rest.partition("@")
        if not name:
            raise ConfigError(f"model spec {spec!r} has no model name: use openai/NAME@URL")
        if not sep:
            url = os.environ.get("OPENAI_BASE_URL", "")
            if not url:
                raise ConfigError(f"model spec {spec!r} has no @URL and OPENAI_BASE_URL is not set")
        return cls(spec, name, url, api_key=os.environ.get(api_key_env), timeout=timeout, pool_size=pool_size)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.base_url}

    def probe(self) -> None:
        """Open (and close) one TCP connection to the server: fails fast, naming the URL, when
        nothing listens there or the host is unknown. On loopback this takes well under a
        millisecond; HTTP errors are left to the requests (they are retried or recorded)."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((host, port), timeout=min(self.timeout, PROBE_TIMEOUT)):
                pass
        except OSError as exc:
            raise BackendError(f"cannot connect to {self.url}: {exc} — is the server running and the URL right?"
                               ) from exc

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            connector = aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=self.pool_size,
                                             ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, headers=headers,
                                                  timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    def _body(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if params.grammar is not None:
            body["grammar"] = params.grammar  # llama.cpp server's field; servers without grammars reject it
        body.update(self.extra_body)
        return body

    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        session = self._get_session()
        try:
            async with session.post(self.url, json=self._body(messages, params)) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    excerpt = raw[:300].decode("utf-8", "replace")
                    message = f"{self.url} answered HTTP {resp.status}: {excerpt}"
                    if resp.status in RETRYABLE_STATUS:
                        raise TransientBackendError(message, kind=str(resp.status),
                                                    retry_after=parse_retry_after(resp.headers.get("Retry-After")))
                    if resp.status in REJECTED_STATUS:
                        raise RequestRejected(message)
                    raise BackendError(message)
        except aiohttp.ClientConnectorError as exc:
            raise TransientBackendError(f"cannot connect to {self.url}: {exc.os_error or exc}",
                                        kind="connection", connection=True) from exc
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError) as exc:
            raise TransientBackendError(f"{self.url}: connection dropped: {exc}", kind="connection") from exc
        except TimeoutError as exc:
            raise TransientBackendError(f"{self.url}: no answer within {self.timeout:g} s",
                                        kind="timeout") from exc
        return self._parse(raw)

    def _parse(self, raw: bytes) -> Completion:
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise TransientBackendError(f"{self.url} sent a body that is not a chat completion: "
                                        f"{raw[:200]!r}", kind="bad-body") from exc
        usage = data.get("usage") or {}
        return Completion(text=text, finish_reason=choice.get("finish_reason"),
                          usage=Usage(int(usage.get("prompt_tokens") or 0),
                                      int(usage.get("completion_tokens") or 0)))

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)  # let the connector close its transports
