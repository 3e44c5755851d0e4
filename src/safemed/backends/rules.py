"""The ``rules`` model spec: no model at all, for the judges whose rules decide every case.

``--judge refusal=rules`` (``safemed eval``) and ``judge: refusal=rules`` (a GRPO reward,
SafeMed-R1 §3) name the deterministic refusal/compliance classifier (judge ``refusal-rules``,
:class:`~safemed.judges.refusal.RefusalRules`): string rules that classify every response without
a model call, for CPU runs with the embedded 135M model, which cannot itself tell harm from
refusal. Judges, panels and request engines expect a backend, so ``rules`` is one — a backend that
never generates. Anything that asks it to has paired it with a judge that needs a model, which is
a configuration error; it says so rather than invent a reply.

Specs: ``rules`` (or ``rules/refusal``). :func:`~safemed.judges.registry.judge_for_spec` turns
``refusal`` (or no judge name) with this spec into the ``refusal-rules`` judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safemed.backends.base import Backend, Completion, GenerationParams
from safemed.errors import BackendError, ConfigError
from safemed.records import ChatMessage

RULES_SPEC = "rules"
RULE_SETS = ("refusal",)
"""What ``rules/NAME`` may name (``rules`` alone is ``rules/refusal``)."""


def is_rules_spec(spec: str) -> bool:
    """True for the model specs ``rules`` and ``rules/NAME``.

    >>> is_rules_spec("rules"), is_rules_spec("rules/refusal"), is_rules_spec("local/default")
    (True, True, False)
    """
    return spec.partition("/")[0] == RULES_SPEC


class RulesBackend(Backend):
    """A backend that never generates: the judges paired with it decide every case themselves."""

    kind = "rules"

    def __init__(self, spec: str, rule_set: str = "refusal") -> None:
        if rule_set not in RULE_SETS:
            raise ConfigError(f"model spec {spec!r}: unknown rule set {rule_set!r}; valid: {', '.join(RULE_SETS)} "
                              "(or plain 'rules')")
        super().__init__(spec, f"{rule_set}-rules")

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model}

    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        raise BackendError(
            f"model spec {self.spec!r} is the deterministic {self.model} judge: its string rules decide every "
            "case and need no model, so nothing may ask it to generate. Use it as the refusal judge only "
            "('refusal=rules'); a judge that needs a model needs a real model spec (openai/NAME@URL, local/…)")


def rules_backend(spec: str, rest: str) -> RulesBackend:
    """``rules`` → the refusal rules; ``rules/NAME`` → the rule set NAME."""
    return RulesBackend(spec, rest or "refusal")
