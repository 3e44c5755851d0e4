"""The request engine against a real loopback HTTP server: retries, backoff, cache, budget, fail-fast."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import pytest

from safemed.backends import (
    Budget,
    GenerationParams,
    RequestEngine,
    ResponseCache,
    RetryPolicy,
    build_backend,
)
from safemed.backends.openai import normalise_base_url, parse_retry_after
from safemed.errors import BackendError, BudgetExceeded, ConfigError, UnknownNameError
from safemed.records import ChatMessage
from safemed.testing import Faults, StandinServer

PARAMS = GenerationParams(temperature=0.0, max_tokens=16, seed=0)
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


def ask(i: int) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=f"Question {i}\nA. yes\nB. no\n")]


async def run_many(engine: RequestEngine, n: int) -> list[str | None]:
    try:
        results = await asyncio.gather(*(engine.complete(ask(i), PARAMS) for i in range(n)))
    finally:
        await engine.aclose()
    return [r.completion.text if r.completion else None for r in results]


def test_answers_and_counts_tokens() -> None:
    with StandinServer(latency=0.01) as server:
        engine = RequestEngine(build_backend(f"openai/m@{server.url}"), concurrency=8)
        texts = asyncio.run(run_many(engine, 20))
    assert all(t and t.startswith("Let me think") for t in texts)
    assert engine.stats.requests == 20 and engine.stats.completion_tokens > 0
    assert server.total == 20


def test_survives_429_and_500_storm_within_bounds() -> None:
    faults = Faults(first_failures=2, kinds=("429", "500"), retry_after=0.01)
    with StandinServer(faults=faults) as server:
        engine = RequestEngine(build_backend(f"openai/m@{server.url}"), concurrency=4, retry=FAST_RETRY)
        texts = asyncio.run(run_many(engine, 10))
    assert all(texts)
    assert engine.stats.retries == {"429": 10, "500": 10}
    assert server.failures == {"429": 10, "500": 10}
    assert max(server.requests.values()) == 3


def test_gives_up_after_max_attempts_and_reports() -> None:
    with StandinServer(faults=Faults(first_failures=100, kinds=("503",))) as server:
        engine = RequestEngine(build_backend(f"openai/m@{server.url}"), concurrency=2, retry=FAST_RETRY)

        async def one() -> str | None:
            try:
                result = await engine.complete(ask(0), PARAMS)
            finally:
                await engine.aclose()
            return result.error

        error = asyncio.run(one())
    assert error is not None and "gave up after 4 attempts" in error and "503" in error
    assert server.total == 4 and engine.stats.failures == 1


def test_garbage_body_is_retried_not_scored() -> None:
    with StandinServer(faults=Faults(first_failures=1, kinds=("garbage",))) as server:
        engine = RequestEngine(build_backend(f"openai/m@{server.url}"), retry=FAST_RETRY)
        texts = asyncio.run(run_many(engine, 3))
    assert all(texts) and engine.stats.retries == {"bad-body": 3}


def test_timeout_is_retried() -> None:
    with StandinServer(faults=Faults(first_failures=1, kinds=("stall",), stall=2.0)) as server:
        spec = f"openai/m@{server.url}"
        from safemed.backends import BackendOptions

        engine = RequestEngine(build_backend(spec, BackendOptions(timeout=0.3)), retry=FAST_RETRY)
        texts = asyncio.run(run_many(engine, 2))
    assert all(texts) and engine.stats.retries == {"timeout": 2}


def test_retry_after_is_honoured() -> None:
    rng = random.Random(0)
    policy = RetryPolicy(base_delay=0.01, max_delay=1.0)
    assert policy.delay(0, 0.7, rng) >= 0.7
    assert policy.delay(0, None, rng) <= 0.01
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_fails_fast_naming_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = RequestEngine(build_backend(f"openai/m@{url}"), retry=RetryPolicy(max_attempts=6, base_delay=5))
    with pytest.raises(BackendError, match=url.replace(".", r"\.")):
        asyncio.run(run_many(engine, 1))
    assert engine.stats.requests == 1


def test_cache_hit_skips_the_server(tmp_path: Path) -> None:
    with StandinServer() as server:
        spec = f"openai/m@{server.url}"
        for _ in range(2):
            cache = ResponseCache(tmp_path / "c.sqlite")
            engine = RequestEngine(build_backend(spec), cache=cache)
            texts = asyncio.run(run_many(engine, 5))
            cache.close()
        assert server.total == 5
        assert engine.stats.cache_hits == 5 and all(texts)
        # a different parameter is a different request
        cache = ResponseCache(tmp_path / "c.sqlite")
        engine = RequestEngine(build_backend(spec), cache=cache)

        async def other() -> None:
            await engine.complete(ask(0), GenerationParams(temperature=0.5))
            await engine.aclose()

        asyncio.run(other())
        cache.close()
        assert server.total == 6


def test_token_budget_stops_cleanly() -> None:
    with StandinServer() as server:
        engine = RequestEngine(build_backend(f"openai/m@{server.url}"), concurrency=1,
                               budget=Budget(max_tokens=30))
        with pytest.raises(BudgetExceeded, match="token budget of 30"):
            asyncio.run(run_many(engine, 20))
    assert server.total < 20


def test_cost_accounting() -> None:
    budget = Budget(price_input=2.0, price_output=10.0)
    assert budget.cost(1_000_000, 100_000) == pytest.approx(3.0)


def test_spec_errors() -> None:
    with pytest.raises(UnknownNameError, match="valid backends: local, openai, replay"):
        build_backend("vllm/x")
    with pytest.raises(ConfigError, match="<backend>/<model>"):
        build_backend("gpt4")
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/api/v1/") == "http://h:8000/api/v1"


def test_client_error_is_not_retried() -> None:
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": "no such model"}, status=404)

    server = StandinServer()
    server.app = lambda: _app(handler)  # type: ignore[method-assign]
    with server:
        engine = RequestEngine(build_backend(f"openai/m@{server.url}"), retry=FAST_RETRY)
        with pytest.raises(BackendError, match="HTTP 404"):
            asyncio.run(run_many(engine, 1))
    assert engine.stats.requests == 1


def _app(handler: object) -> object:
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)  # type: ignore[arg-type]
    return app
