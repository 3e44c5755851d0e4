"""Judges by name: a plain dict of name → factory, with a dotted-path fallback.

``safemed eval --judge-kind msb --judge openai/gpt-4o@URL --judge openai/deepseek-v3@URL`` picks a
judge by name; ``--judge msb-zh=openai/qwen3@URL`` names it per endpoint
(:func:`parse_judge_option`). A user's own judge is ``package.module:factory`` (a callable that
returns a :class:`~safemed.judges.base.Judge`). An unknown name lists the valid ones.

``refusal-rules`` is the refusal classifier decided by string rules alone (no model). Its model
spec is ``rules``, a backend that never generates, so ``--judge refusal=rules`` names it:
:func:`judge_for_spec` is where a judge name and a model spec meet, and it maps ``refusal`` (or no
name) on the ``rules`` spec to ``refusal-rules``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

from safemed.backends.rules import is_rules_spec
from safemed.errors import ConfigError
from safemed.judges.base import Judge
from safemed.judges.harm import harm_binary_judge, harm_judge
from safemed.judges.msb import msb_judge, msb_zh_judge
from safemed.judges.refusal import refusal_judge, refusal_rules_judge
from safemed.judges.rubric import rubric_judge
from safemed.naming import from_dotted

JudgeFactory = Callable[[], Judge]

JUDGES: dict[str, JudgeFactory] = {
    "msb": msb_judge,
    "msb-zh": msb_zh_judge,
    "harm": harm_judge,
    "harm-binary": harm_binary_judge,
    "refusal": refusal_judge,
    "refusal-rules": refusal_rules_judge,
    "rubric": rubric_judge,
}


def get_judge(name: str) -> Judge:
    """The judge registered as ``name``, or built by the dotted-path factory ``name``."""
    if name in JUDGES:
        return JUDGES[name]()
    return from_dotted("judge", name, _is_judge, JUDGES)


RULES_JUDGES: dict[str, str] = {"": "refusal-rules", "refusal": "refusal-rules", "refusal-rules": "refusal-rules"}
"""Judge names that the ``rules`` model spec can serve, and the judge it serves them with."""


def judge_for_spec(name: str, model_spec: str) -> Judge:
    """The judge ``name`` as run on ``model_spec``: what a ``[JUDGE=]MODEL_SPEC`` option means.

    On the ``rules`` spec (no model) ``refusal`` — or no name — is the rules-only judge
    ``refusal-rules``, and any other judge is a ConfigError (it would need a model to answer);
    on a real model spec it is :func:`get_judge` (``refusal-rules`` stays rules-only there too).

    >>> judge_for_spec("refusal", "rules").name, judge_for_spec("refusal", "local/default").name
    ('refusal-rules', 'refusal')
    """
    if is_rules_spec(model_spec):
        if name not in RULES_JUDGES:
            raise ConfigError(f"the model spec {model_spec!r} has no model: it serves only the refusal rules "
                              f"(refusal={model_spec}), not the {name!r} judge, which needs a model spec such as "
                              "openai/NAME@URL or local/default")
        return get_judge(RULES_JUDGES[name])
    return get_judge(name)


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
