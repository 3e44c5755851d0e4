"""The one Backend interface: chat messages in, text (+ token usage, finish reason) out; async.

Every model safemed talks to — the model under test, an LLM judge, a red-team attacker, the
curation generator — is a :class:`Backend`. Backends do one request; concurrency, retries, the
response cache and cost accounting live in :mod:`safemed.backends.engine` so that every backend
gets them for free (SafeMed-R1 evaluation, §4: all numbers come from one reproducible harness).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from safemed.errors import BackendError
from safemed.records import ChatMessage


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters, explicit and recorded in every manifest and cache key."""

    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    #: a GBNF grammar the reply must match (grammar-constrained decoding: llama.cpp, and servers
    #: that accept llama.cpp's ``grammar`` field); None for free text
    grammar: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (the stop tuple becomes a list; ``grammar`` only when set, so the cache
        keys of unconstrained requests never change)."""
        data: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p,
                                "seed": self.seed, "stop": list(self.stop)}
        if self.grammar is not None:
            data["grammar"] = self.grammar
        return data


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the backend (0 when it reports none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """One model reply."""

    text: str
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)


class TransientBackendError(BackendError):
    """A failure worth retrying: HTTP 429/5xx/408, a timeout, a dropped connection, a garbled body.

    ``retry_after`` carries the server's ``Retry-After`` (seconds) when it sent one; ``kind`` is a
    short label (``"429"``, ``"500"``, ``"timeout"``, ``"connection"``, ``"bad-body"``) counted in
    the run's statistics.
    """

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None,
                 connection: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.connection = connection


class RequestRejected(BackendError):
    """The server refused this one request (HTTP 400/413/422, e.g. a prompt over the context length).

    Unlike other errors it does not stop a run: the sample is recorded with the error and counted.
    """


class Backend(abc.ABC):
    """A chat model. Subclasses implement :meth:`complete` for one request."""

    #: registry name of the backend kind ("openai", "local")
    kind: str = ""

    def __init__(self, spec: str, model: str) -> None:
        self.spec = spec
        self.model = model

    @abc.abstractmethod
    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        """Send one chat request and return the reply, or raise (Transient)BackendError."""

    def identity(self) -> dict[str, Any]:
        """What identifies the model for caching and manifests (not the URL: endpoints move)."""
        return {"backend": self.kind, "model": self.model}

    def describe(self) -> dict[str, Any]:
        """Everything worth recording about this backend in a manifest."""
        return {"spec": self.spec, **self.identity()}

    #: the most requests worth running at once (None: no limit beyond --concurrency)
    max_parallel: int | None = None
    #: whether GenerationParams.grammar is known to be honoured (llama.cpp in process)
    supports_grammar: bool = False

    def probe(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Raise BackendError when the model cannot be reached at all (e.g. nothing listens at its
        URL), cheaply and synchronously, so a run can fail before it creates anything; a no-op
        for in-process backends. Blocking: callers run it on a thread beside other start-up work."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections, threads or model memory."""
