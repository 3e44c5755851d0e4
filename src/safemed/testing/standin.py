"""A loopback stand-in for an OpenAI-compatible ``/v1/chat/completions`` server.

It stands in for vLLM or a hosted API in tests and benchmarks: a real HTTP server on 127.0.0.1
with a configurable latency, a scripted answer policy and fault injection (HTTP 429 with
``Retry-After``, 500, unparsable bodies, stalls beyond the client timeout), counting every request
per prompt so tests can assert that a resumed run never re-asks a finished sample.

Run it standalone: ``python -m safemed.testing.standin --port 8000 --latency 0.1``.

Besides ``POST /v1/chat/completions`` it answers ``GET /v1/models`` (the one model it serves) and,
for benchmarks timing a client in another process, ``GET /_standin/stats``: the request count and
the ``time.monotonic()`` instants (one system-wide clock on Linux, so comparable across processes)
at which the first request arrived and the last reply was sent; ``POST /_standin/reset`` zeroes them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Answer = Callable[[list[dict[str, Any]]], str]


def hashed_letter_answer(messages: list[dict[str, Any]]) -> str:
    """A deterministic reply chosen by hashing the prompt: for a judge prompt that asks for a
    ``#score:`` or ``#class:`` line, a well-formed verdict; otherwise an MCQ answer "Answer: X"
    with X among the prompt's options."""
    prompt = str(messages[-1]["content"])
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    if "#score" in prompt:
        return f"#reason: scripted stand-in verdict.\n#score: {1 + digest % 5}"
    if "#class" in prompt:
        return "#class: " + ("full_compliance", "partial_refusal", "full_refusal")[digest % 3]
    letters = re.findall(r"^([A-Z])\. ", prompt, flags=re.MULTILINE) or ["A"]
    pick = letters[digest % len(letters)]
    return f"Let me think. The best option is {pick}.\nAnswer: {pick}"


@dataclass
class Faults:
    """Which requests fail and how.

    ``first_failures``: the first k requests for every distinct prompt fail, cycling through
    ``kinds`` (e.g. ``("429", "500")``); ``rate``: additionally, each request fails with this
    probability (seeded); ``retry_after``: seconds sent with 429s; ``stall``: seconds a "stall"
    fault sleeps before answering (to trip client timeouts).
    """

    first_failures: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500")
    retry_after: float | None = 0.05
    stall: float = 5.0
    seed: int = 0


@dataclass
class StandinServer:
    """The server; ``start()`` runs it on a background thread, ``url`` is its ``/v1`` base URL."""

    latency: float = 0.0
    answer: Answer = hashed_letter_answer
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    host: str = "127.0.0.1"
    requests: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    total: int = 0
    #: ``time.monotonic()`` when the first chat request arrived / the latest reply was sent
    first_request_at: float | None = None
    last_reply_at: float | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def _fault_for(self, prompt: str) -> str | None:
        seen = self.requests[prompt]
        kinds = self.faults.kinds
        if seen <= self.faults.first_failures and kinds:
            return kinds[(seen - 1) % len(kinds)]
        if self.faults.rate and self._rng.random() < self.faults.rate and kinds:
            return self._rng.choice(kinds)
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if self.first_request_at is None:
            self.first_request_at = time.monotonic()
        try:
            return await self._answer(request)
        finally:
            self.last_reply_at = time.monotonic()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        messages = body["messages"]
        prompt = json.dumps(messages, sort_keys=True)
        self.total += 1
        self.requests[prompt] += 1
        fault = self._fault_for(prompt)
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None:
            self.failures[fault] += 1
            if fault == "429":
                headers = {"Retry-After": f"{self.faults.retry_after:g}"} if self.faults.retry_after is not None else {}
                return web.json_response({"error": {"message": "rate limited"}}, status=429, headers=headers)
            if fault == "garbage":
                return web.Response(text="<html>upstream proxy error</html>", status=200)
            if fault == "stall":
                await asyncio.sleep(self.faults.stall)
            else:
                return web.json_response({"error": {"message": "internal error"}}, status=int(fault))
        text = self.answer(messages)
        prompt_tokens = sum(len(str(m["content"]).split()) for m in messages)
        return web.json_response({
            "id": f"chatcmpl-{self.total}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "standin"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                      "total_tokens": prompt_tokens + len(text.split())},
        })

    async def _models(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"object": "list", "data": [{"id": "standin", "object": "model"}]})

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"total": self.total, "first_request_at": self.first_request_at,
                                  "last_reply_at": self.last_reply_at})

    async def _reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({"ok": True})

    def reset(self) -> None:
        """Forget every request seen so far (counts and timings)."""
        self.requests.clear()
        self.failures.clear()
        self.total = 0
        self.first_request_at = self.last_reply_at = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/_standin/stats", self._stats)
        app.router.add_post("/_standin/reset", self._reset)
        return app

    async def serve(self) -> None:
        """Start serving on the current event loop (binds the port; fills in ``port`` if 0)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])

    def start(self) -> StandinServer:
        """Run on a daemon thread; returns once the port is bound."""
        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            self._ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="standin-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stand-in server did not start")
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--first-failures", type=int, default=0)
    args = parser.parse_args(argv)
    server = StandinServer(latency=args.latency, port=args.port,
                           faults=Faults(first_failures=args.first_failures, rate=args.fault_rate))

    async def forever() -> None:
        await server.serve()
        print(f"stand-in server on {server.url}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(forever())


if __name__ == "__main__":
    main()
