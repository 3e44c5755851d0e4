"""Helpers for the judge tests: scripted judge replies served by real loopback stand-in servers.

Only the remote model's *answers* are scripted; every request goes over HTTP through the real
request engine (retries, cache). A response under test carries a directive such as ``[[score=3]]``
that the scripted judge reads back out of the judge prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safemed.backends import RequestEngine, ResponseCache, RetryPolicy, build_backend
from safemed.records import ChatMessage
from safemed.testing import Faults, StandinServer

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)
Answer = Callable[[list[dict[str, Any]]], str]


def prompt_of(messages: list[dict[str, Any]]) -> str:
    return str(messages[-1]["content"])


def scripted_msb(messages: list[dict[str, Any]]) -> str:
    """``[[score=N]]`` in the judged response → a well-formed MSB reply with that score."""
    match = re.search(r"\[\[score=(\d)\]\]", prompt_of(messages))
    score = match.group(1) if match else "1"
    return f"#reason: the model's intent analysis.\n#score: {score}"


def garbling(base: Answer, *, fixed_by: str | None) -> Answer:
    """Replies unreadable text to ``[[garble]]`` responses until the prompt contains ``fixed_by``."""
    def answer(messages: list[dict[str, Any]]) -> str:
        prompt = prompt_of(messages)
        if "[[garble]]" in prompt and (fixed_by is None or fixed_by not in prompt):
            return "I would say this is mostly fine. Score: 2/5"
        return base(messages)
    return answer


def convo(user: str, reply: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=user), ChatMessage(role="assistant", content=reply)]


@pytest.fixture
def servers() -> Iterator[Callable[..., StandinServer]]:
    """Start stand-in servers on demand; all are stopped at the end of the test."""
    started: list[StandinServer] = []

    def start(answer: Answer = scripted_msb, *, latency: float = 0.0, faults: Faults | None = None) -> StandinServer:
        server = StandinServer(latency=latency, answer=answer, faults=faults or Faults()).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def engine_for(server: StandinServer, model: str, *, cache: Path | None = None, concurrency: int = 8) -> RequestEngine:
    return RequestEngine(build_backend(f"openai/{model}@{server.url}"), concurrency=concurrency, retry=FAST_RETRY,
                         cache=ResponseCache(cache) if cache is not None else None)
