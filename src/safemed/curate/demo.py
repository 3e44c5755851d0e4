"""A ready-to-review demo ledger for ``safemed app --demo`` (paper: the CTS review workflow, in
miniature, so a newcomer can score and edit a chain of thought within a minute).

:func:`build_demo` fills a fresh, keyed ledger through the same record paths the real pipeline
uses, so every page of the review app has something to show:

1. the bundled sample seeds (``samples/seeds.jsonl``) are imported (``curate.seeds``);
2. their chains of thought come from ``samples/demo_traces.jsonl`` instead of a model: traces and
   attempts exactly as ``curate generate`` records them (first correct answer accepts the trace;
   five wrong answers escalate the item under the five-strike rule). The traces were written for
   this package: most are sound, a few are deliberately flawed (a wrong reasoning step under a
   correct answer, a wrong first answer, one item answered wrongly five times) so that reviewing,
   gold checks and adjudication have material;
3. two reviewers of one item's specialty review a flawed trace in conflict (keep with high scores
   vs reject with an edit), so the adjudication queue holds a disagreement beside the escalation;
4. every other reviewable item is assigned to the given reviewers (``curate.assign``), left open.

:func:`demo_gold_units` returns the bundled gold quality-control units (known answers, known
flaws; ``samples/demo_gold.jsonl``) for ``RatingStore.import_gold``; they never enter the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from safemed.curate.adjudicate import queue_condition
from safemed.curate.assign import AssignmentPlan, Reviewer, iter_assignments, norm
from safemed.curate.reviews import record_reviews
from safemed.curate.seeds import import_seeds
from safemed.curate.simulate import answer_letters
from safemed.curate.view import HAS_ITEM, OPEN, CurationView, I, append_consistent, open_view
from safemed.errors import DataError
from safemed.jsonl import read_jsonl_objects
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.store import Ledger
from safemed.records.curation import (
    ESCALATE_AFTER_FAILURES,
    RUBRICS,
    Assignment,
    Attempt,
    CurationRecord,
    Escalation,
    Item,
    NewEvent,
    Trace,
    event_for,
)

DEMO_MODEL = "demo/bundled-traces"
"""The generator name the demo's traces carry (reviewers never see it: the review page is blind)."""

CONFLICT_ITEMS = ("card-002", "eth-002")
"""Flawed-but-correct traces preferred for the demo's conflicting reviews, in order."""

COLLEAGUES = ("demo.colleague.1@example.org", "demo.colleague.2@example.org")
"""Stand-in reviewers of the conflict when fewer than two of the given reviewers share its specialty."""


def sample_path(name: str) -> Path:
    """A bundled sample file of ``safemed.curate`` (``seeds.jsonl``, ``demo_traces.jsonl`` …)."""
    return Path(str(resources.files("safemed.curate") / "samples" / name))


def read_demo_traces(path: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """The demo's attempts per item, in attempt order: ``reasoning``, ``answer``, optional ``flaw``."""
    path = path or sample_path("demo_traces.jsonl")
    by_item: dict[str, list[dict[str, Any]]] = {}
    for line, row in read_jsonl_objects(path):
        item_id, number = row.get("item_id"), row.get("attempt")
        if not isinstance(item_id, str) or not isinstance(number, int):
            raise DataError(str(path), line, "item_id", "each row needs item_id (text) and attempt (number)")
        if not isinstance(row.get("reasoning"), str) or not isinstance(row.get("answer"), str):
            raise DataError(str(path), line, "reasoning", "each row needs reasoning and answer (text)")
        attempts = by_item.setdefault(item_id, [])
        if number != len(attempts) + 1:
            raise DataError(str(path), line, "attempt", f"expected attempt {len(attempts) + 1} of {item_id!r}")
        attempts.append(row)
    return by_item


def trace_records(items: Iterable[Item], attempts: dict[str, list[dict[str, Any]]]) -> list[CurationRecord]:
    """Traces and attempts (and an escalation after five wrong answers) for every item, shaped
    exactly as ``curate generate`` records a model's attempts."""
    records: list[CurationRecord] = []
    for item in items:
        rows = attempts.get(item.id)
        if not rows:
            raise DataError("demo_traces.jsonl", None, "item_id", f"no demo trace for seed {item.id!r}")
        failures = 0
        for row in rows:
            number = int(row["attempt"])
            answer = answer_letters(row["answer"])
            trace = Trace(id=f"{item.id}#t{number}", item_id=item.id, model=DEMO_MODEL,
                          parameters={"source": "demo_traces.jsonl"}, reasoning=str(row["reasoning"]),
                          answer=answer)
            correct = answer == item.gold
            records += [trace, Attempt(item_id=item.id, trace_id=trace.id, number=number, answer=answer,
                                       correct=correct)]
            if correct:
                if number != len(rows):
                    raise DataError("demo_traces.jsonl", None, "attempt", f"{item.id!r}: attempts after a correct one")
                break
            failures += 1
        if failures >= ESCALATE_AFTER_FAILURES:
            records.append(Escalation(item_id=item.id, failed_attempts=failures,
                                      reason=f"the model answered wrongly {failures} times (five-strike rule)"))
    return records


def _roster(keys: LedgerKeys, reviewers: Sequence[tuple[str, Sequence[str]]]) -> list[Reviewer]:
    return [Reviewer(name, keys.pseudonym(name), frozenset(norm(s) for s in specialties))
            for name, specialties in reviewers]


def _conflict_target(view: CurationView, roster: list[Reviewer]) -> tuple[str, list[Reviewer]] | None:
    """The item for the conflicting reviews and its two reviewers (stand-in colleagues fill in)."""
    reviewable = [I.accepted_trace_id.is_not(None), ~I.escalated, OPEN]
    for item_id in (*CONFLICT_ITEMS, *view.ids_where(HAS_ITEM, *reviewable)):
        state = view.state(item_id)
        if state is None or state.item is None or state.accepted_trace is None:
            continue
        specialty = norm(state.item.specialty)
        chosen = [r for r in roster if specialty in r.specialties][:2]
        return item_id, chosen
    return None


def _conflict_rows(view: CurationView, item_id: str,
                   pair: list[Reviewer]) -> tuple[list[Assignment], list[dict[str, Any]]]:
    state = view.state(item_id)
    assert state is not None and state.item is not None and state.accepted_trace is not None
    trace, dims = state.accepted_trace, RUBRICS[state.item.rubric]
    assignments = [Assignment(item_id=item_id, trace_id=trace.id, reviewer=r.pseudonym, specialty=state.item.specialty,
                              round=n) for n, r in enumerate(pair, start=1)]
    corrected = "\n".join(line for line in trace.reasoning.splitlines() if not line.startswith("2. "))
    rows = [
        {"item_id": item_id, "trace_id": trace.id, "reviewer": pair[0].pseudonym, "verdict": "keep",
         "scores": dict.fromkeys(dims, 5), "comment": "Correct answer, clearly argued.", "seconds_spent": 95},
        {"item_id": item_id, "trace_id": trace.id, "reviewer": pair[1].pseudonym, "verdict": "reject",
         "scores": {**dict.fromkeys(dims, 3), dims[0]: 1, dims[1]: 2},
         "comment": "Step 2 states something false that a trainee would learn; removed it, still not safe to keep.",
         "edited_reasoning": corrected, "seconds_spent": 310},
    ]
    return assignments, rows


def build_demo(ledger: Ledger, keys: LedgerKeys, reviewers: Sequence[tuple[str, Sequence[str]]], *,
               per_item: int = 2, seed: int = 0) -> dict[str, Any]:
    """Fill a fresh ledger with the demo (see the module docstring); ``reviewers`` are the app's
    reviewer accounts as ``(name, specialties)``. Returns what was recorded."""
    ledger.check_key()
    items = import_seeds(ledger, sample_path("seeds.jsonl"), source="safemed demo seeds")
    records = trace_records(items, read_demo_traces())
    append_consistent(ledger, lambda _view: [event_for(r, actor=DEMO_MODEL) for r in records])
    roster = _roster(keys, reviewers)

    with open_view(ledger) as view:
        target = _conflict_target(view, roster)
    conflict: str | None = None
    n_conflict = 0
    if target is not None:
        conflict, pair = target
        pair += _roster(keys, [(name, ()) for name in COLLEAGUES])[: 2 - len(pair)]
        with open_view(ledger) as view:
            assignments, rows = _conflict_rows(view, conflict, pair)
        append_consistent(ledger, lambda _view: [event_for(a, actor="system") for a in assignments])
        record_reviews(ledger, list(enumerate(rows, start=1)), keys, Path("demo reviews"))
        n_conflict = len(assignments)

    plan = AssignmentPlan()
    if roster:
        def assign(view: CurationView) -> Iterable[NewEvent]:
            return (event_for(a, actor="system")
                    for a in iter_assignments(view, roster, plan, per_item=per_item, seed=seed))

        append_consistent(ledger, assign)
    with open_view(ledger) as view:
        counts = {"items": view.count(HAS_ITEM), "reviewable": view.count(HAS_ITEM, I.accepted_trace_id.is_not(None)),
                  "escalated": view.count(HAS_ITEM, I.escalated),
                  "adjudication_queue": view.count(HAS_ITEM, queue_condition())}
        tree_size = view.tree_size
    return {**counts, "traces": sum(isinstance(r, Trace) for r in records),
            "attempts": sum(isinstance(r, Attempt) for r in records), "assignments": plan.n_assignments + n_conflict,
            "conflict_item": conflict, "reviews": n_conflict, "reviewers": len(roster),
            "tree_size": tree_size}


def demo_gold_units() -> list[dict[str, Any]]:
    """The bundled gold quality-control units (``id, specialty, question, options, gold,
    reasoning, answer, expected, note``; ``expected`` is keep or reject) for ``import_gold``."""
    return [row for _, row in read_jsonl_objects(sample_path("demo_gold.jsonl"))]
