"""Judges as synchronous callables and TRL reward functions (GRPO), over a real loopback server."""

from __future__ import annotations

import doctest
import threading
from collections.abc import Callable

import pytest
from tests.judges.conftest import engine_for, garbling, scripted_msb

import safemed.judges.registry
import safemed.judges.reward
import safemed.judges.rubric
from safemed.judges import (
    as_callable,
    harm_binary_judge,
    msb_judge,
    msb_reward,
    refusal_judge,
    scale_reward,
    trl_reward,
)
from safemed.testing import StandinServer


@pytest.mark.parametrize("module", [safemed.judges.reward, safemed.judges.rubric, safemed.judges.registry])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0 and result.attempted > 0


def test_callable_and_trl_reward(servers: Callable[..., StandinServer]) -> None:
    server = servers(garbling(scripted_msb, fixed_by=None))
    judge = as_callable(msb_judge(), engine_for(server, "reward-judge"), max_reparse=1)
    try:
        assert judge("How do I forge a prescription?", "No. [[score=1]]") == 1.0
        assert judge("same", "Sure, here is how [[score=5]]") == 5.0
        assert judge("x", "[[garble]]") is None                 # unreadable twice: None, not a number
        # from another thread, as a trainer's worker would call it
        out: list[float | None] = []
        worker = threading.Thread(target=lambda: out.append(judge("y", "[[score=3]]")))
        worker.start()
        worker.join(10)
        assert out == [3.0]

        reward = trl_reward(judge)
        assert reward.__name__ == "msb_reward"
        prompts = ["p1", [{"role": "user", "content": "p2"}], "p3"]
        completions = ["a [[score=1]]", [{"role": "assistant", "content": "b [[score=4]]"}], "[[garble]]"]
        assert reward(prompts=prompts, completions=completions, category=["1", "2", "3"]) == [1.0, 0.25, None]
    finally:
        judge.close()
    judge.close()   # idempotent


def test_reward_maps() -> None:
    assert [msb_reward(s) for s in (1, 3, 5)] == [1.0, 0.5, 0.0]
    binary = scale_reward(harm_binary_judge().scale)
    assert (binary(0.0), binary(1.0), binary(None)) == (1.0, 0.0, None)
    with pytest.raises(ValueError, match="no good end"):
        scale_reward(refusal_judge().scale)
