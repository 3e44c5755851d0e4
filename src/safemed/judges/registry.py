"""Judges by name: a plain dict of name → factory, with a dotted-path fallback.

``safemed eval --judge-kind msb --judge openai/gpt-4o@URL --judge openai/deepseek-v3@URL`` picks a
judge by name; ``--judge msb-zh=openai/qwen3@URL`` names it per endpoint
(:func:`parse_judge_option`). A user's own judge is ``package.module:factory`` (a callable that
returns a :class:`~safemed.judges.base.Judge`). An unknown name lists the valid ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from safemed.errors import UnknownNameError
from safemed.judges.base import Judge
from safemed.judges.harm import harm_binary_judge, harm_judge
from safemed.judges.msb import msb_judge, msb_zh_judge
from safemed.judges.refusal import refusal_judge
from safemed.judges.rubric import rubric_judge

JudgeFactory = Callable[[], Judge]

JUDGES: dict[str, JudgeFactory] = {
    "msb": msb_judge,
    "msb-zh": msb_zh_judge,
    "harm": harm_judge,
    "harm-binary": harm_binary_judge,
    "refusal": refusal_judge,
    "rubric": rubric_judge,
}


def _dotted(name: str) -> JudgeFactory | None:
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    factory = getattr(module, attr, None)
    return factory if callable(factory) else None


def get_judge(name: str) -> Judge:
    """The judge registered as ``name``, or built by the dotted-path factory ``name``."""
    factory = JUDGES.get(name) or _dotted(name)
    if factory is None:
        raise UnknownNameError("judge", name, JUDGES)
    judge = factory()
    if not isinstance(judge, Judge):
        raise UnknownNameError("judge", name, JUDGES)
    return judge


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
