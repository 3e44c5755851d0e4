"""Simulated clinicians for demonstrations: filled review rows and panel decisions, labelled as such.

SafeMed-R1's trust signals come from physicians scoring each chain of thought on the five-dimension
rubric, editing it, and an expert panel adjudicating disagreements and five-strike escalations
(§3.1). ``safemed quickstart`` shows that whole loop on one laptop in minutes, where no clinician
is at hand, so it fills the very files clinicians would fill — the blinded queue of
``safemed curate export-queue`` and the adjudication queue of ``safemed curate adjudicate --out`` —
from a stated generative model, and imports them through the same commands
(``import-reviews``, ``adjudicate --decisions``). Nothing here touches the ledger.

**Everything it writes says SIMULATED**: every comment and every reason starts with
:data:`SIMULATED_TAG`, and the simulated reviewers' ids (:func:`simulated_roster`) say so too, so a
simulated review can never pass for a clinician's in an export, a datasheet or a report.

The model of a review (seeded by ``seed``, the trace and the reviewer, so a rerun writes the same
rows): a trace has a latent quality ``q`` — 4.2 when its answer matches the gold answer shown in
the queue, 2.4 when it does not, minus 0.6 for a trace with no reasoning — plus a per-trace offset
drawn from N(0, 0.5); a reviewer adds a personal bias from N(0, 0.4); each dimension's score is
``q + bias + N(0, 0.6)`` rounded and clipped to 1–5. The verdict is ``keep`` when the mean score is
at least 3, else ``reject``. One review in ``edit_rate`` removes the reasoning's last line as its
edit (an edit that differs between reviewers sends the item to the panel, as real edits do).

The simulated panel: an escalated item (the model failed five times) is edited to a *reference
explanation* when one is given for it (for the bundled seeds: the explanations written for safemed
in ``samples/demo_traces.jsonl``, standing in for the expert's rewrite, as the paper's panel
rewrote failed items) and rejected otherwise, since a simulation cannot write an expert's
reasoning; a disagreement is kept when the reviews' mean score is at least 3.5, else rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

SIMULATED_TAG = "SIMULATED"
"""The first word of every simulated comment and reason."""

SIMULATED_DOMAIN = "simulated.invalid"
"""The domain of the simulated reviewers' ids (``.invalid`` is reserved: no real mailbox has it)."""


def simulated_roster(specialties: Iterable[str], per_specialty: int = 2) -> list[tuple[str, str]]:
    """``(reviewer_id, specialty)`` rows for a ``curate assign --roster`` CSV: ``per_specialty``
    simulated reviewers for each specialty, ids like ``simulated.reviewer.cardiology.1@simulated.invalid``."""
    rows = []
    for specialty in sorted(set(specialties)):
        slug = "-".join(specialty.lower().split())
        rows += [(f"simulated.reviewer.{slug}.{n}@{SIMULATED_DOMAIN}", specialty)
                 for n in range(1, per_specialty + 1)]
    return rows


def _rng(seed: int, *parts: str) -> np.random.Generator:
    digest = hashlib.sha256("\0".join((str(seed), *parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def answer_letters(value: Any) -> str:
    """An answer as its sorted, distinct capital letters (``"ca"`` → ``"AC"``), the form gold answers take."""
    return "".join(sorted(set(str(value or "").upper())))


def simulate_review(row: dict[str, Any], *, gold: str | None, seed: int = 0,
                    edit_rate: float = 0.15) -> dict[str, Any]:
    """Fill one blinded queue row (``export-queue``) as a simulated reviewer would (module docstring)."""
    who = str(row.get("reviewer_id") or row.get("reviewer") or "")
    trace_id = str(row["trace_id"])
    trace_rng, reviewer_rng = _rng(seed, "trace", trace_id), _rng(seed, "reviewer", who)
    review_rng = _rng(seed, "review", trace_id, who)
    reasoning = str(row.get("reasoning") or "")
    correct = gold is not None and answer_letters(row.get("answer")) == answer_letters(gold)
    quality = (4.2 if correct else 2.4) - (0.6 if not reasoning.strip() else 0.0) + trace_rng.normal(0, 0.5)
    bias = reviewer_rng.normal(0, 0.4)
    dims = list(row["scores"])
    scores = {d: int(np.clip(np.rint(quality + bias + review_rng.normal(0, 0.6)), 1, 5)) for d in dims}
    mean = sum(scores.values()) / len(scores)
    verdict = "keep" if mean >= 3 else "reject"
    out = {"item_id": row["item_id"], "trace_id": trace_id, "scores": scores, "verdict": verdict,
           "comment": f"{SIMULATED_TAG} review (safemed's simulated clinician, not a person): mean score "
                      f"{mean:.1f}, answer {'matches' if correct else 'does not match'} the gold answer.",
           "seconds_spent": int(60 + review_rng.integers(0, 240))}
    out.update({"reviewer_id": row["reviewer_id"]} if row.get("reviewer_id") else {"reviewer": row["reviewer"]})
    lines = reasoning.rstrip().splitlines()
    if len(lines) > 2 and review_rng.random() < edit_rate:
        out["edited_reasoning"] = "\n".join(lines[:-1])
    return out


def simulate_reviews(rows: Iterable[dict[str, Any]], gold: dict[str, str], *, seed: int = 0,
                     edit_rate: float = 0.15) -> Iterator[dict[str, Any]]:
    """Every queue row filled (``gold`` maps item id → gold answer, as reviewers see it)."""
    for row in rows:
        yield simulate_review(row, gold=gold.get(str(row["item_id"])), seed=seed, edit_rate=edit_rate)


def simulate_decisions(entries: Iterable[dict[str, Any]], panel: Sequence[str],
                       references: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The simulated panel's decision for every adjudication queue entry (``adjudicate --out`` rows);
    ``references`` maps item id → a reference explanation an escalated item is edited to."""
    decisions = []
    references = references or {}
    for entry in entries:
        escalated = any(str(r).startswith("escalated") for r in entry.get("reasons", []))
        scores = [v for review in entry.get("reviews", []) for v in (review.get("scores") or {}).values()
                  if isinstance(v, int | float)]
        mean = sum(scores) / len(scores) if scores else 0.0
        reference = references.get(str(entry["item_id"]))
        if escalated and reference:
            decisions.append({"item_id": entry["item_id"], "decision": "edit", "panel": list(panel),
                              "edited_reasoning": reference,
                              "reason": f"{SIMULATED_TAG} panel decision (not a person): the model failed five times; "
                                        "its reasoning is replaced by the reference explanation of this question."})
            continue
        if escalated:
            decision, why = "reject", "the model failed five times and no expert rewrote the reasoning"
        elif mean >= 3.5:
            decision, why = "keep", f"the reviews' mean score {mean:.1f} is at least 3.5"
        else:
            decision, why = "reject", f"the reviews' mean score {mean:.1f} is below 3.5"
        decisions.append({"item_id": entry["item_id"], "decision": decision, "panel": list(panel),
                          "reason": f"{SIMULATED_TAG} panel decision (not a person): {why}."})
    return decisions
