"""Chains of thought for every item, with the five-strike rule (paper: CoT generation, five
failures → expert panel), and optional data expansion.

``safemed curate generate --model SPEC`` sends each pending item to the generator through the
evaluation's :class:`~safemed.backends.RequestEngine` (bounded concurrency, retries, response
cache). Attempt ``k`` of an item is one request: the first at ``temperature`` and seed ``seed``,
re-asks at ``retry_temperature`` with seed ``seed + k - 1`` so that they can differ. Each attempt
is a :class:`Trace` plus an :class:`Attempt`; the first correct answer ends the item; after the
fifth wrong one an :class:`Escalation` sends it to the expert queue. An item's events go into
the ledger in one transaction once it is settled, so a killed run resumes where it stopped (the
response cache replays finished requests; nothing is asked twice).

``variants=K`` first asks for K paraphrased or new questions per seed; well-formed ones become
items with ``derived_from`` = the seed (malformed replies are counted, not guessed at), and go
through the same generation.

Near-duplicates and contaminated items (``safemed curate dedup`` flags) are skipped unless
``include_flagged``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field

from safemed.backends.base import GenerationParams
from safemed.backends.engine import RequestEngine
from safemed.backends.streaming import ordered_map
from safemed.curate.prompts import (
    COT_PROMPT_VERSION,
    VARIANT_PROMPT_VERSION,
    cot_messages,
    parse_cot,
    parse_variants,
    variant_messages,
)
from safemed.curate.view import EXCLUDED, HAS_ITEM, OPEN, I, open_view, paged_states
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.records.curation import (
    ESCALATE_AFTER_FAILURES,
    Attempt,
    CurationRecord,
    Escalation,
    Item,
    NewEvent,
    Trace,
    event_for,
)


@dataclass(frozen=True)
class GenerateSettings:
    """How traces are generated; recorded in every Trace's parameters."""

    max_attempts: int = ESCALATE_AFTER_FAILURES
    temperature: float = 0.0
    retry_temperature: float = 0.7
    max_new_tokens: int = 512
    seed: int = 0
    variants: int = 0
    include_flagged: bool = False
    limit: int | None = None
    window: int = 32

    def params(self, attempt: int) -> GenerationParams:
        """Sampling parameters of attempt ``attempt`` (1-based)."""
        temperature = self.temperature if attempt == 1 else self.retry_temperature
        return GenerationParams(temperature=temperature, max_tokens=self.max_new_tokens, seed=self.seed + attempt - 1)


@dataclass
class GenerateSummary:
    """What one ``generate`` run did (printed and returned as JSON)."""

    pending: int = 0
    correct_first: int = 0
    correct_later: int = 0
    escalated: int = 0
    no_reply: int = 0
    attempts: int = 0
    skipped_flagged: int = 0
    variants_added: int = 0
    variants_malformed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def model_name(engine: RequestEngine) -> str:
    """``backend/model`` of the generator, as recorded in traces (never a URL or key)."""
    identity = engine.backend.identity()
    return f"{identity.get('backend', engine.backend.kind)}/{identity.get('model', engine.backend.model)}"


@dataclass
class _Outcome:
    item: Item
    records: list[CurationRecord]
    first_correct: bool = False
    correct: bool = False
    escalated: bool = False
    error: str | None = None


async def _five_strikes(engine: RequestEngine, model: str, settings: GenerateSettings,
                        state: ItemState) -> _Outcome:
    item = state.item
    if item is None:  # pragma: no cover - callers pass imported items only
        raise ValueError(f"{state.item_id} has no Item event")
    outcome = _Outcome(item, [])
    messages = cot_messages(item)
    failures = sum(not a.correct for a in state.attempts)
    for number in range(len(state.attempts) + 1, settings.max_attempts + 1):
        params = settings.params(number)
        result = await engine.complete(messages, params)
        if result.completion is None:
            outcome.error = f"{item.id}: attempt {number}: {result.error}"
            return outcome
        reasoning, answer = parse_cot(result.completion.text, item)
        trace = Trace(id=f"{item.id}#t{number}", item_id=item.id, model=model,
                      parameters={**params.as_dict(), "prompt": COT_PROMPT_VERSION}, reasoning=reasoning,
                      answer=answer or "")
        correct = answer == item.gold
        outcome.records += [trace, Attempt(item_id=item.id, trace_id=trace.id, number=number, answer=answer or "",
                                           correct=correct)]
        if correct:
            outcome.correct, outcome.first_correct = True, number == 1
            return outcome
        failures += 1
    if failures >= settings.max_attempts:
        outcome.records.append(Escalation(item_id=item.id, failed_attempts=failures,
                                          reason=f"the model answered wrongly {failures} times (five-strike rule)"))
        outcome.escalated = True
    return outcome


PENDING = (HAS_ITEM, I.accepted_trace_id.is_(None), ~I.escalated, OPEN)
"""Read-model conditions of an item whose generation is not over."""


def pending_states(ledger: Ledger, settings: GenerateSettings, summary: GenerateSummary) -> Iterator[ItemState]:
    """Imported items whose generation is not over, in ledger order, streamed page by page
    (flagged ones counted in ``summary`` and skipped unless ``include_flagged``)."""
    conditions = PENDING if settings.include_flagged else (*PENDING, ~EXCLUDED)
    with open_view(ledger) as view:
        if not settings.include_flagged:
            summary.skipped_flagged = view.count(*PENDING, EXCLUDED)
        total = view.count(*conditions)
    summary.pending = total if settings.limit is None else min(total, settings.limit)
    return paged_states(ledger, *conditions, limit=settings.limit)


async def _append_in_batches(ledger: Ledger, outcomes: AsyncIterator[_Outcome], actor: str,
                             summary: GenerateSummary, batch: int = 25) -> None:
    events: list[NewEvent] = []
    async for outcome in outcomes:
        summary.attempts += sum(isinstance(r, Attempt) for r in outcome.records)
        if outcome.error is not None:
            summary.no_reply += 1
            summary.errors.append(outcome.error)
        elif outcome.escalated:
            summary.escalated += 1
        elif outcome.correct:
            if outcome.first_correct:
                summary.correct_first += 1
            else:
                summary.correct_later += 1
        events += [event_for(record, actor=actor) for record in outcome.records]
        if len(events) >= batch:
            ledger.append(events)
            events = []
    if events:
        ledger.append(events)


async def expand(ledger: Ledger, engine: RequestEngine, settings: GenerateSettings,
                 summary: GenerateSummary) -> None:
    """Ask for ``settings.variants`` new questions per seed that has none yet; record the good ones."""
    with open_view(ledger) as view:
        derived_from = {item.derived_from for item in view.items(I.derived)}
        conditions = (~I.derived,) if settings.include_flagged else (~I.derived, ~EXCLUDED)
        seeds = [item for item in view.items(*conditions) if item.id not in derived_from]
    if settings.limit is not None:
        seeds = seeds[: settings.limit]
    model = model_name(engine)
    params = GenerationParams(temperature=settings.retry_temperature, max_tokens=max(settings.max_new_tokens, 256),
                              seed=settings.seed)

    async def ask(seed: Item) -> tuple[Item, str | None]:
        result = await engine.complete(variant_messages(seed, settings.variants), params)
        return seed, None if result.completion is None else result.completion.text

    new_items: list[Item] = []
    async for seed, reply in ordered_map(ask, seeds, window=settings.window):
        if reply is None:
            summary.variants_malformed += settings.variants
            continue
        good, bad = parse_variants(reply, settings.variants)
        summary.variants_malformed += bad
        for number, entry in enumerate(good, start=1):
            try:
                new_items.append(Item(id=f"{seed.id}~v{number}", question=entry["question"], options=entry["options"],
                                      gold=entry["answer"], specialty=seed.specialty, language=seed.language,
                                      source=f"variant of {seed.id} by {model} ({VARIANT_PROMPT_VERSION})",
                                      kind=seed.kind, dimension=seed.dimension, derived_from=seed.id))
            except ValueError:
                summary.variants_malformed += 1
    if new_items:
        ledger.append(event_for(item, actor=model) for item in new_items)
    summary.variants_added += len(new_items)


async def generate(ledger: Ledger, engine: RequestEngine, settings: GenerateSettings) -> GenerateSummary:
    """Variants (when asked), then traces with the five-strike rule for every pending item."""
    summary = GenerateSummary()
    if settings.variants:
        await expand(ledger, engine, settings, summary)
    pending = pending_states(ledger, settings, summary)
    model = model_name(engine)

    async def work(state: ItemState) -> _Outcome:
        return await _five_strikes(engine, model, settings, state)

    await _append_in_batches(ledger, ordered_map(work, pending, window=settings.window), model, summary)
    return summary

