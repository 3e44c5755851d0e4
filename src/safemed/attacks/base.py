"""What an attack is: a named, described, seeded transform of a harmful seed request.

SafeMed-R1 stress-tests the aligned model with adversarial prompts (role play, boundary probing,
purpose inversion, scene construction) and trains GRPO on red-team prompts with a judge's 1-5
risk score as the reward. Every such transform here is a small unit of its own:

* a **template** attack (:class:`TemplateAttack`) rewrites the seed with fixed text chosen by a
  seeded ``random.Random``; no model is involved (``apply``);
* a **model** attack (:class:`ModelAttack`) asks an attacker model (any backend spec, separate
  from the target and the judge) to rewrite the seed (``generate``);
* a **multi-turn** attack (Crescendo, PAIR in :mod:`safemed.attacks.multiturn`) talks to the
  target over several turns with a judge in the loop and returns a transcript.

A single-turn attack returns an :class:`AttackPrompt` that carries a *benign twin*: the same
transform applied to a harmless medical request of a similar topic. Training on both teaches
GRPO to refuse the harmful request, not the surface form (the adversarial wrapper), so the
aligned model does not learn to over-refuse every role play or hypothetical.
"""

from __future__ import annotations

import abc
import random
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from safemed.backends import GenerationParams, RequestEngine
from safemed.records import ChatMessage, PromptItem

AttackKind = Literal["template", "model", "multi-turn"]
Language = Literal["en", "zh"]


class AttackPrompt(BaseModel):
    """One adversarial prompt made from one seed, with its benign twin."""

    model_config = ConfigDict(frozen=True)

    seed_id: str
    attack: str
    prompt: str | list[ChatMessage]
    benign_twin: str
    meta: dict[str, Any] = Field(default_factory=dict)

    def prompt_text(self) -> str:
        """The prompt as one string (a chat prompt's messages joined, role-prefixed)."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(f"{m.role}: {m.content}" for m in self.prompt)

    def messages(self) -> list[ChatMessage]:
        """The prompt as chat messages, ready for a backend."""
        if isinstance(self.prompt, str):
            return [ChatMessage(role="user", content=self.prompt)]
        return list(self.prompt)


class Attack:
    """The common face of every attack: a registry name, a one-line description and its kind."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[AttackKind] = "template"

    @property
    def single_turn(self) -> bool:
        """True for attacks that make one prompt (template and model attacks)."""
        return self.kind != "multi-turn"

    def __repr__(self) -> str:
        return f"<attack {self.name} ({self.kind})>"


class TemplateAttack(Attack, abc.ABC):
    """A model-free single-turn attack: ``apply(seed, rng)`` is pure given the rng state."""

    kind: ClassVar[AttackKind] = "template"

    @abc.abstractmethod
    def apply(self, seed: PromptItem, rng: random.Random) -> AttackPrompt:
        """Wrap ``seed.prompt`` in an adversarial framing chosen by ``rng``."""


class AttackFailed(RuntimeError):
    """A model attack got no usable rewrite from the attacker (counted, never written)."""


class ModelAttack(Attack, abc.ABC):
    """A single-turn attack written by an attacker model: ``await generate(seed, rng, attacker, params)``."""

    kind: ClassVar[AttackKind] = "model"

    @abc.abstractmethod
    async def generate(self, seed: PromptItem, rng: random.Random, attacker: RequestEngine,
                       params: GenerationParams) -> AttackPrompt:
        """Ask ``attacker`` to rewrite the seed; raise :class:`AttackFailed` when it cannot."""
