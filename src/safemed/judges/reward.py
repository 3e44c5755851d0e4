"""Judges as plain Python callables and TRL reward functions, for GRPO training.

SafeMed-R1 alignment, §3 (GRPO on red-team prompts with an LLM judge as reward): training code
is synchronous, the engine is async. :class:`JudgeCallable` owns one event loop on a daemon
thread and runs every judge call there (the engine's semaphore and the HTTP session stay bound to
that one loop), so ``reward(prompt, completion)`` is an ordinary blocking call with a timeout.

A judge reply that cannot be read gives ``None`` — TRL's GRPO trainer accepts ``None`` rewards
(it ignores them in the sum) — never a made-up number.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from safemed.backends import RequestEngine
from safemed.judges.base import Judge, Scale
from safemed.judges.msb import MSB_SCALE
from safemed.judges.panel import judge_once
from safemed.records import ChatMessage

T = TypeVar("T")
RewardFn = Callable[..., list[float | None]]


def msb_reward(score: float | None) -> float | None:
    """Med-Safety-Bench risk (1 safest … 5 harmful) → reward in [0, 1]: ``(5 − s) / 4``.

    >>> [msb_reward(s) for s in (1, 2, 3, 4, 5)]
    [1.0, 0.75, 0.5, 0.25, 0.0]
    >>> msb_reward(None) is None
    True
    """
    return None if score is None else MSB_SCALE.to_reward(score)


def scale_reward(scale: Scale) -> Callable[[float | None], float | None]:
    """A score → reward map for any scale with a good end (1 at the good end, 0 at the other)."""
    scale.to_reward(scale.low)  # raises for a 'neither' scale
    return lambda s: None if s is None else scale.to_reward(s)


def _conversation(prompt: str | Sequence[dict[str, str]], completion: str | Sequence[dict[str, str]]
                  ) -> list[ChatMessage]:
    """TRL's standard (strings) or conversational (lists of role/content dicts) format."""
    turns = [ChatMessage(role="user", content=prompt)] if isinstance(prompt, str) else [
        ChatMessage.model_validate(m) for m in prompt]
    if isinstance(completion, str):
        turns.append(ChatMessage(role="assistant", content=completion))
    else:
        turns.extend(ChatMessage.model_validate(m) for m in completion)
    return turns


class JudgeCallable:
    """``judge(prompt, completion) -> float | None``, synchronous, on a private event loop."""

    def __init__(self, judge: Judge, engine: RequestEngine, *, max_reparse: int = 2,
                 timeout: float | None = 600.0) -> None:
        self.judge, self.engine = judge, engine
        self.max_reparse, self.timeout = max_reparse, timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"judge-{judge.name}", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    async def _one(self, prompt: Any, completion: Any) -> float | None:
        result = await judge_once(self.judge, self.engine, _conversation(prompt, completion),
                                  max_reparse=self.max_reparse)
        return result.score

    async def _many(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float | None]:
        return list(await asyncio.gather(*(self._one(p, c) for p, c in zip(prompts, completions, strict=True))))

    def __call__(self, prompt: str | Sequence[dict[str, str]], completion: str | Sequence[dict[str, str]]
                 ) -> float | None:
        """The judge's score (its own scale), or None when unreadable or the request failed."""
        return self._run(self._one(prompt, completion))

    def batch(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float | None]:
        """Scores of many pairs, concurrently (bounded by the engine's concurrency)."""
        return self._run(self._many(prompts, completions))

    def close(self) -> None:
        """Close the engine and stop the loop thread."""
        if self._loop.is_closed():
            return
        self._run(self.engine.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def as_callable(judge: Judge, engine: RequestEngine, *, max_reparse: int = 2,
                timeout: float | None = 600.0) -> JudgeCallable:
    """Wrap a judge and its engine as a synchronous ``(prompt, completion) -> float | None``."""
    return JudgeCallable(judge, engine, max_reparse=max_reparse, timeout=timeout)


def trl_reward(judge: JudgeCallable, to_reward: Callable[[float | None], float | None] = msb_reward,
               name: str | None = None) -> RewardFn:
    """A TRL GRPO reward function ``fn(prompts, completions, **columns) -> list[float | None]``.

    By default the MSB 1-5 risk score maps to ``(5 − s) / 4`` (:func:`msb_reward`); pass
    ``scale_reward(judge.judge.scale)`` for another scale.
    """
    def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [to_reward(s) for s in judge.batch(prompts, completions)]

    reward.__name__ = name or f"{judge.judge.name}_reward"
    return reward
