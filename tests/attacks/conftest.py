"""Scripted stand-in servers for the attacker and the target (real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from safemed.backends import RequestEngine, RetryPolicy, build_backend
from safemed.testing import StandinServer

Script = Callable[[list[dict[str, Any]]], str]


class Scripted:
    """A stand-in server whose answers come from ``script``, recording every request's messages."""

    def __init__(self) -> None:
        self.script: Script = lambda messages: "ok"
        self.calls: list[list[dict[str, Any]]] = []
        self.server = StandinServer(answer=self._answer)

    def _answer(self, messages: list[dict[str, Any]]) -> str:
        self.calls.append(messages)
        return self.script(messages)

    def engine(self) -> RequestEngine:
        retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
        return RequestEngine(build_backend(f"openai/m@{self.server.url}"), concurrency=4, retry=retry)


@pytest.fixture
def attacker_server() -> Iterator[Scripted]:
    scripted = Scripted()
    with scripted.server:
        yield scripted


@pytest.fixture
def target_server() -> Iterator[Scripted]:
    scripted = Scripted()
    with scripted.server:
        yield scripted
