"""The request engine: bounded concurrency, bounded retries, the response cache and a budget.

Every model call in safemed goes through :class:`RequestEngine.complete`:

* at most ``concurrency`` requests are in flight (and no more than the backend can serve);
* a transient failure (HTTP 429/5xx/408, timeout, dropped connection, garbled body) is retried
  with exponential backoff and full jitter, never sooner than the server's ``Retry-After``, at
  most ``RetryPolicy.max_attempts`` times; an endpoint that never answered fails fast, naming it;
* a reply is looked up in, and committed to, the :class:`~safemed.backends.cache.ResponseCache`
  so a killed run resumes without repeating work;
* tokens and cost are accounted, and a ``max_tokens``/``max_cost`` budget stops new requests
  cleanly with :class:`~safemed.errors.BudgetExceeded`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from safemed.backends.base import Backend, Completion, GenerationParams, RequestRejected, TransientBackendError
from safemed.backends.cache import ResponseCache, key_of, request_json
from safemed.errors import BackendError, BudgetExceeded
from safemed.records import ChatMessage


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt k waits U(0, min(max_delay, base·2^k))."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        backoff = rng.uniform(0.0, min(self.max_delay, self.base_delay * (2 ** attempt)))
        if retry_after is not None:
            return max(min(retry_after, self.max_delay * 4), backoff)
        return backoff


@dataclass(frozen=True)
class Budget:
    """Optional caps on what one invocation may spend; prices are per million tokens."""

    max_tokens: int | None = None
    max_cost: float | None = None
    price_input: float = 0.0
    price_output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_input + completion_tokens * self.price_output) / 1e6


@dataclass
class EngineStats:
    """Counters for the run summary and the manifest."""

    requests: int = 0
    cache_hits: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    spent_tokens: int = 0
    cost: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"requests": self.requests, "cache_hits": self.cache_hits, "retries": dict(self.retries),
                "failures": self.failures, "rejected": self.rejected, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "spent_tokens": self.spent_tokens,
                "cost": round(self.cost, 6)}


@dataclass(frozen=True)
class EngineResult:
    """A reply (or why there is none) and how it was obtained."""

    completion: Completion | None
    cached: bool
    attempts: int
    error: str | None = None


class RequestEngine:
    """Run chat requests against one backend with concurrency, retries, caching and a budget."""

    def __init__(self, backend: Backend, *, cache: ResponseCache | None = None, concurrency: int = 8,
                 retry: RetryPolicy | None = None, budget: Budget | None = None, seed: int = 0) -> None:
        self.backend = backend
        self.cache = cache
        limit = concurrency if backend.max_parallel is None else min(concurrency, backend.max_parallel)
        self.concurrency = max(1, limit)
        self.retry = retry or RetryPolicy()
        self.budget = budget or Budget()
        self.stats = EngineStats()
        self._sem = asyncio.Semaphore(self.concurrency)
        self._rng = random.Random(seed)
        self._identity = backend.identity()
        self._answered_once = False

    def _check_budget(self) -> None:
        b = self.budget
        if b.max_tokens is not None and self.stats.spent_tokens >= b.max_tokens:
            raise BudgetExceeded(f"token budget of {b.max_tokens} reached ({self.stats.spent_tokens} used); "
                                 "finished work is saved: re-run with a larger --max-tokens to continue")
        if b.max_cost is not None and self.stats.cost >= b.max_cost:
            raise BudgetExceeded(f"cost budget of {b.max_cost:g} reached ({self.stats.cost:.4f} spent); "
                                 "finished work is saved: re-run with a larger --max-cost to continue")

    def _account(self, completion: Completion, cached: bool) -> None:
        u = completion.usage
        self.stats.prompt_tokens += u.prompt_tokens
        self.stats.completion_tokens += u.completion_tokens
        if not cached:
            self.stats.spent_tokens += u.total_tokens
            self.stats.cost += self.budget.cost(u.prompt_tokens, u.completion_tokens)

    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> EngineResult:
        """One request through cache → budget → backend with retries → cache."""
        request = request_json(self._identity, messages, params)
        key = key_of(request)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                self._account(hit, cached=True)
                return EngineResult(hit, cached=True, attempts=0)
        async with self._sem:
            self._check_budget()
            completion, attempts, error = await self._with_retries(messages, params)
        if completion is None:
            return EngineResult(None, cached=False, attempts=attempts, error=error)
        self._account(completion, cached=False)
        if self.cache is not None:
            self.cache.put(key, self._identity, request, completion)
        return EngineResult(completion, cached=False, attempts=attempts)

    async def _with_retries(self, messages: Sequence[ChatMessage],
                            params: GenerationParams) -> tuple[Completion | None, int, str | None]:
        last: TransientBackendError | None = None
        for attempt in range(self.retry.max_attempts):
            self.stats.requests += 1
            try:
                completion = await self.backend.complete(messages, params)
            except RequestRejected as exc:
                self.stats.rejected += 1
                return None, attempt + 1, str(exc)
            except TransientBackendError as exc:
                if exc.connection and not self._answered_once:
                    raise BackendError(f"{exc} — is the server running and the URL right?") from exc
                last = exc
                self.stats.retries[exc.kind] += 1
                if attempt + 1 < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.delay(attempt, exc.retry_after, self._rng))
                continue
            self._answered_once = True
            return completion, attempt + 1, None
        self.stats.failures += 1
        return None, self.retry.max_attempts, f"gave up after {self.retry.max_attempts} attempts: {last}"

    async def aclose(self) -> None:
        """Write buffered cache entries and release the backend's connections."""
        if self.cache is not None:
            self.cache.flush()
        await self.backend.aclose()


def monotonic() -> float:
    """Seconds from an arbitrary origin (split out so tests and reports share one clock)."""
    return time.monotonic()
