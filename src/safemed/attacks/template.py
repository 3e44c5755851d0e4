"""The machinery shared by template attacks: variants per language, one rng draw, a benign twin.

A :class:`FramingAttack` holds, per language, a tuple of template variants with a
``{request}`` slot. ``apply`` draws the variant and the benign request from the seeded rng,
fills the same variant with the seed and with the benign request, and records the variant in
``meta`` so a row can be traced back to its exact template. Subclasses that transform the
request before filling it (payload splitting, encodings) override :meth:`FramingAttack.fields`.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from safemed.attacks.base import AttackPrompt, Language, TemplateAttack
from safemed.attacks.benign import pick_benign
from safemed.records import PromptItem

_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, fields: dict[str, str]) -> str:
    """Replace ``{name}`` slots in one pass, so braces inside a request are never re-expanded.

    >>> fill("Q: {request}", {"request": "why {x}?"})
    'Q: why {x}?'
    """
    return _SLOT.sub(lambda m: fields.get(m.group(1), m.group(0)), template)


class FramingAttack(TemplateAttack):
    """A template attack: ``templates[language]`` are the variants; ``{request}`` is the slot."""

    templates: ClassVar[dict[Language, tuple[str, ...]]] = {}

    def variants(self, language: Language) -> tuple[str, ...]:
        """The variants for ``language`` (English ones when there are none for it)."""
        return self.templates.get(language) or self.templates["en"]

    def fields(self, request: str, language: Language, variant: int) -> tuple[dict[str, str], dict[str, Any]]:
        """The slot values for one request, and what to record about them in ``meta``."""
        return {"request": request}, {}

    def apply(self, seed: PromptItem, rng: random.Random) -> AttackPrompt:
        """Fill one rng-chosen variant with the seed request and with a benign twin request."""
        variants = self.variants(seed.language)
        variant = rng.randrange(len(variants))
        benign_request = pick_benign(seed.category, seed.language, rng)
        seed_fields, info = self.fields(seed.prompt, seed.language, variant)
        twin_fields, _ = self.fields(benign_request, seed.language, variant)
        meta: dict[str, Any] = {"variant": variant, "template_language": seed.language,
                                "benign_request": benign_request, **info}
        return AttackPrompt(seed_id=seed.id, attack=self.name, prompt=fill(variants[variant], seed_fields),
                            benign_twin=fill(variants[variant], twin_fields), meta=meta)
