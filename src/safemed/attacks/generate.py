"""Build a red-team prompt set for GRPO (SafeMed-R1 §3): seeds × attacks → deduplicated rows.

Each row is one adversarial prompt made from one harmful seed by one single-turn attack, with
its benign twin (the same transform of a harmless request; see :mod:`safemed.attacks.benign`)::

    {"id", "seed_id", "attack", "prompt", "benign_twin", "category", "language", "meta"}

Rows stream out: nothing but a set of 16-byte hashes of the normalised prompts (for
deduplication) is held in memory. Every row draws from its own ``random.Random`` seeded by
``(seed, seed_id, attack name, draw)``, so the set does not depend on the order of the seeds or
attacks, and ``per_seed`` draws of a template attack give different variants where it has them
(identical draws are dropped as duplicates). Model attacks need an ``attacker`` engine; their
failures are counted in :class:`GenerateStats` and skipped. Multi-turn attacks talk to a target
and belong to evaluation, not to a prompt set.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import unicodedata
from collections.abc import AsyncGenerator, Awaitable, Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

from safemed.attacks.base import Attack, AttackFailed, AttackPrompt, ModelAttack, TemplateAttack
from safemed.backends import GenerationParams, RequestEngine
from safemed.errors import ConfigError
from safemed.records import PromptItem

REWRITE_PARAMS = GenerationParams(temperature=0.7, max_tokens=512)
_BATCH_SEEDS = 16


@dataclass
class GenerateStats:
    """What happened while generating: for the summary line and the manifest."""

    seeds: int = 0
    written: int = 0
    duplicates: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def row_rng(seed: int, seed_id: str, attack: str, draw: int) -> random.Random:
    """The rng of one row, independent of every other row."""
    digest = hashlib.sha256(f"{seed}\x1f{seed_id}\x1f{attack}\x1f{draw}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace-collapsed text: what counts as 'the same prompt'."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def check_attacks(attacks: Iterable[Attack], attacker: RequestEngine | None) -> list[Attack]:
    """The attacks as a list; ConfigError for multi-turn ones, or model ones without an attacker."""
    chosen = list(attacks)
    for attack in chosen:
        if not attack.single_turn:
            raise ConfigError(f"attack {attack.name!r} is multi-turn: it needs a target and a judge, "
                              "so it runs in evaluation, not in a prompt set")
        if isinstance(attack, ModelAttack) and attacker is None:
            raise ConfigError(f"attack {attack.name!r} is written by a model: give an attacker (--attacker SPEC)")
        if not isinstance(attack, TemplateAttack | ModelAttack):
            raise ConfigError(f"attack {attack.name!r} is neither a template nor a model attack")
    if not chosen:
        raise ConfigError("no attacks selected")
    return chosen


class _Dedup:
    """Turns attack prompts into rows, dropping repeats of a normalised prompt."""

    def __init__(self, stats: GenerateStats) -> None:
        self.seen: set[bytes] = set()
        self.stats = stats

    def admit(self, made: AttackPrompt, seed: PromptItem, attack: Attack, draw: int) -> dict[str, Any] | None:
        key = hashlib.blake2b(normalise(made.prompt_text()).encode(), digest_size=16).digest()
        if key in self.seen:
            self.stats.duplicates += 1
            return None
        self.seen.add(key)
        self.stats.written += 1
        prompt: str | list[dict[str, Any]] = (
            made.prompt if isinstance(made.prompt, str) else [m.model_dump() for m in made.prompt])
        return {"id": f"{seed.id}:{attack.name}:{draw}", "seed_id": seed.id, "attack": attack.name,
                "prompt": prompt, "benign_twin": made.benign_twin, "category": seed.category,
                "language": seed.language, "meta": {"kind": attack.kind, "draw": draw, **made.meta}}


def _plan(item: PromptItem, attacks: list[Attack], seed: int,
          per_seed: int) -> Iterator[tuple[Attack, int, random.Random]]:
    for attack in attacks:
        for draw in range(per_seed):
            yield attack, draw, row_rng(seed, item.id, attack.name, draw)


async def _attempt(job: Awaitable[AttackPrompt]) -> AttackPrompt | None:
    try:
        return await job
    except AttackFailed:
        return None


async def agenerate_attack_set(seeds: Iterable[PromptItem], attacks: Iterable[Attack], *, seed: int,
                               per_seed: int = 1, attacker: RequestEngine | None = None,
                               params: GenerationParams | None = None,
                               stats: GenerateStats | None = None) -> AsyncGenerator[dict[str, Any], None]:
    """The rows, as an async generator; model attacks of a batch of seeds run concurrently."""
    chosen = check_attacks(attacks, attacker)
    stats = stats if stats is not None else GenerateStats()
    dedup, params = _Dedup(stats), params or REWRITE_PARAMS
    it = iter(seeds)
    while batch := list(islice(it, _BATCH_SEEDS)):
        made: list[tuple[PromptItem, Attack, int, AttackPrompt | None]] = []
        calls: list[Awaitable[AttackPrompt | None]] = []
        for item in batch:
            stats.seeds += 1
            for attack, draw, rng in _plan(item, chosen, seed, per_seed):
                if isinstance(attack, ModelAttack) and attacker is not None:
                    calls.append(_attempt(attack.generate(item, rng, attacker, params)))
                    made.append((item, attack, draw, None))  # filled in below, in order
                elif isinstance(attack, TemplateAttack):
                    made.append((item, attack, draw, attack.apply(item, rng)))
        answers = iter(await asyncio.gather(*calls))
        for item, attack, draw, prompt in made:
            result = next(answers) if isinstance(attack, ModelAttack) else prompt
            if result is None:
                stats.failed += 1
                continue
            row = dedup.admit(result, item, attack, draw)
            if row is not None:
                yield row


def generate_attack_set(seeds: Iterable[PromptItem], attacks: Iterable[Attack], *, seed: int, per_seed: int = 1,
                        attacker: RequestEngine | None = None, params: GenerationParams | None = None,
                        stats: GenerateStats | None = None) -> Iterator[dict[str, Any]]:
    """The rows of the attack prompt set, streamed; see the module docstring.

    With only template attacks no event loop is involved. With model attacks the calls run on a
    private event loop, and the attacker engine is closed on it when the iterator finishes (its
    connections belong to that loop); use :func:`agenerate_attack_set` from async code instead.
    """
    chosen = check_attacks(attacks, attacker)
    stats = stats if stats is not None else GenerateStats()
    if not any(isinstance(a, ModelAttack) for a in chosen):
        dedup = _Dedup(stats)
        for item in seeds:
            stats.seeds += 1
            for attack, draw, rng in _plan(item, chosen, seed, per_seed):
                if isinstance(attack, TemplateAttack):
                    row = dedup.admit(attack.apply(item, rng), item, attack, draw)
                    if row is not None:
                        yield row
        return
    with asyncio.Runner() as runner:
        agen = agenerate_attack_set(seeds, chosen, seed=seed, per_seed=per_seed, attacker=attacker,
                                    params=params, stats=stats)
        try:
            while True:
                try:
                    yield runner.run(agen.__anext__())
                except StopAsyncIteration:
                    break
        finally:
            runner.run(agen.aclose())
            if attacker is not None:
                runner.run(attacker.aclose())
