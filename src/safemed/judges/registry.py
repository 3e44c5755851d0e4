"""Judges by name: a plain dict of name → factory, with a dotted-path fallback.

``safemed eval --judge-kind msb --judge openai/gpt-4o@URL --judge openai/deepseek-v3@URL`` picks a
judge by name; ``--judge msb-zh=openai/qwen3@URL`` names it per endpoint
(:func:`parse_judge_option`). A user's own judge is ``package.module:factory`` (a callable that
returns a :class:`~safemed.judges.base.Judge`). An unknown name lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

from safemed.judges.base import Judge
from safemed.judges.harm import harm_binary_judge, harm_judge
from safemed.judges.msb import msb_judge, msb_zh_judge
from safemed.judges.refusal import refusal_judge
from safemed.judges.rubric import rubric_judge
from safemed.naming import from_dotted

JudgeFactory = Callable[[], Judge]

JUDGES: dict[str, JudgeFactory] = {
    "msb": msb_judge,
    "msb-zh": msb_zh_judge,
    "harm": harm_judge,
    "harm-binary": harm_binary_judge,
    "refusal": refusal_judge,
    "rubric": rubric_judge,
}


def get_judge(name: str) -> Judge:
    """The judge registered as ``name``, or built by the dotted-path factory ``name``."""
    if name in JUDGES:
        return JUDGES[name]()
    return from_dotted("judge", name, _is_judge, JUDGES)


def _is_judge(value: object) -> TypeGuard[Judge]:
    return isinstance(value, Judge)


def parse_judge_option(text: str, default: str = "msb") -> tuple[str, str]:
    """``[JUDGE=]MODEL_SPEC`` → (judge name, model spec); ``=`` inside the model spec is kept.

    >>> parse_judge_option("openai/gpt-4o@http://h/v1")
    ('msb', 'openai/gpt-4o@http://h/v1')
    >>> parse_judge_option("msb-zh=openai/qwen@http://h/v1?a=b")
    ('msb-zh', 'openai/qwen@http://h/v1?a=b')
    """
    name, sep, spec = text.partition("=")
    if sep and "/" not in name and "@" not in name:
        return name, spec
    return default, text
