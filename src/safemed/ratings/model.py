"""What clinicians rate outside the curation ledger: units, the views raters see, and label shapes.

SafeMed-R1's physicians did more than review training traces: the evaluation's safety numbers rest
on LLM judges that must be validated against clinicians (§4, Med-Safety-Bench panel), the coming
study compares models blind, and reviewer quality is measured on gold items. Each of these is a
*task*: a list of *units* (a prompt with one or two responses) rated on one scale.

* ``msb``: one response scored on the Med-Safety-Bench 1–5 scale (lower is safer), blind to the
  judges' scores; exported in the ``id,score`` format ``safemed judges calibrate --human`` reads.
* ``pairwise``: two responses A and B (sources hidden, order randomised per unit) → A, B or tie.
* ``likert``: one response scored 1–5 on each of several named dimensions. A blinded study packet
  is a likert task whose dimensions are its rubric (default: the paper's five review dimensions).

Label shapes (:func:`validate_label`): msb ``{"score": 1..5}``; pairwise ``{"choice": "A"|"B"|"tie",
"reason"?: str}``; likert ``{"scores": {dimension: 1..5}}`` with every dimension of the task; each
may carry an optional ``"comment"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from safemed.errors import DataError
from safemed.judges.msb import MSB_SCALE
from safemed.records.curation import RUBRIC_DIMENSIONS

Kind = Literal["msb", "pairwise", "likert"]
KINDS: tuple[str, ...] = get_args(Kind)
CHOICES: tuple[str, ...] = ("A", "B", "tie")
MAX_TEXT = 5000  # characters of a free-text reason or comment

MSB_ANCHORS: tuple[tuple[int, str], ...] = tuple((int(v), text) for v, text in MSB_SCALE.labels)
"""The Med-Safety-Bench points 1–5 with their meaning (the judges' own rubric, lower is safer)."""

LIKERT_ANCHORS: tuple[tuple[int, str], ...] = (
    (1, "very poor"), (2, "poor"), (3, "acceptable"), (4, "good"), (5, "excellent"))
"""The default anchors of a likert dimension (a task may give its own)."""

PAIRWISE_ANCHORS: tuple[tuple[str, str], ...] = (
    ("A", "response A is better"), ("B", "response B is better"), ("tie", "neither is better"))


@dataclass(frozen=True)
class Unit:
    """One thing to rate, as a builder produces it (before it belongs to a task).

    ``sources`` names where each response came from (a run folder, a model); raters never see it,
    the export maps choices back to it. ``meta`` is kept for the export only (benchmark, category …);
    it must not hold anything a rater may not see, such as judge scores (they are never stored).
    """

    id: str
    prompt: str
    responses: tuple[str, ...]
    sources: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    specialty: str | None = None


@dataclass(frozen=True)
class UnitView:
    """What a rater sees of one unit: the prompt and the responses, nothing about their origin.

    ``responses`` has one entry for msb and likert tasks, two (A then B, in this unit's randomised
    order) for pairwise tasks. ``scale`` lists the points and their anchor text; ``dimensions`` are
    the likert dimensions (empty otherwise). ``lease_expires`` (epoch seconds) says until when the
    unit is reserved for this rater (``None`` when it was not leased, e.g. opened by id).
    """

    task_id: str
    unit_id: str
    kind: str
    prompt: str
    responses: tuple[str, ...]
    scale: tuple[tuple[Any, str], ...]
    dimensions: tuple[str, ...]
    instructions: str
    lease_expires: float | None = None

    @property
    def scale_text(self) -> str:
        """The scale as one line per point (``1 — declines …``)."""
        return "\n".join(f"{point} — {text}" for point, text in self.scale)


@dataclass(frozen=True)
class TaskSummary:
    """One task as listed: its size and progress, and how much is left for one rater."""

    id: str
    name: str
    kind: str
    n_units: int
    n_labels: int
    n_done: int  # units with raters_per_unit labels
    raters_per_unit: int
    specialties: tuple[str, ...]
    dimensions: tuple[str, ...]
    instructions: str
    created_at: str
    remaining_for_rater: int | None = None  # units this rater may still label (None: no rater asked)


@dataclass(frozen=True)
class GoldUnit:
    """A hidden quality-control item as a reviewer sees it: shaped like a curation review page
    (question, options, gold answer, a chain of thought), without the known verdict or note."""

    id: str
    specialty: str
    question: str
    options: dict[str, str]
    gold: str
    reasoning: str
    answer: str
    rubric: str
    dimensions: tuple[str, ...]
    language: str


def scale_for(kind: str, anchors: Sequence[tuple[Any, str]] | None = None) -> tuple[tuple[Any, str], ...]:
    """The points a rater chooses from for ``kind`` (a likert task may bring its own anchors)."""
    if kind == "msb":
        return MSB_ANCHORS
    if kind == "pairwise":
        return PAIRWISE_ANCHORS
    return tuple((int(p), str(t)) for p, t in anchors) if anchors else LIKERT_ANCHORS


def default_dimensions(kind: str) -> tuple[str, ...]:
    """A likert task without named dimensions is scored on the paper's five review dimensions."""
    return RUBRIC_DIMENSIONS if kind == "likert" else ()


def _score(where: str, name: str, value: Any) -> int:
    if type(value) is not int or not 1 <= value <= 5:
        raise DataError(where, None, name, f"must be an integer from 1 to 5, got {value!r}")
    return value


def _text(where: str, name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise DataError(where, None, name, f"must be text, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise DataError(where, None, name, f"is longer than {MAX_TEXT} characters")
    return value


def validate_label(kind: str, label: Any, dimensions: Sequence[str] = (), *,
                   where: str = "label") -> dict[str, Any]:
    """The label in its stored form, or a DataError naming the field that is wrong.

    Unknown fields are refused (a typo such as ``"scroe"`` must not pass as an empty label).
    """
    if not isinstance(label, Mapping):
        raise DataError(where, None, None, f"must be a JSON object, got {type(label).__name__}")
    allowed = {"msb": {"score", "comment"}, "pairwise": {"choice", "reason", "comment"},
               "likert": {"scores", "comment"}}.get(kind)
    if allowed is None:
        raise DataError(where, None, "kind", f"unknown task kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    extra = sorted(set(label) - allowed)
    if extra:
        raise DataError(where, None, extra[0], f"not a field of a {kind} label (fields: {', '.join(sorted(allowed))})")
    out: dict[str, Any] = {}
    if kind == "msb":
        if "score" not in label:
            raise DataError(where, None, "score", "missing (the Med-Safety-Bench score, 1-5)")
        out["score"] = _score(where, "score", label["score"])
    elif kind == "pairwise":
        choice = label.get("choice")
        if choice not in CHOICES:
            raise DataError(where, None, "choice", f"must be one of {', '.join(CHOICES)}, got {choice!r}")
        out["choice"] = choice
        if label.get("reason") not in (None, ""):
            out["reason"] = _text(where, "reason", label["reason"])
    else:
        scores = label.get("scores")
        if not isinstance(scores, Mapping):
            raise DataError(where, None, "scores", "missing or not an object of dimension → 1-5")
        unknown = sorted(set(scores) - set(dimensions))
        if unknown:
            raise DataError(where, None, f"scores.{unknown[0]}",
                            f"not a dimension of this task (dimensions: {', '.join(dimensions)})")
        missing = [d for d in dimensions if d not in scores]
        if missing:
            raise DataError(where, None, f"scores.{missing[0]}", "missing: every dimension needs a score")
        out["scores"] = {d: _score(where, f"scores.{d}", scores[d]) for d in dimensions}
    if label.get("comment") not in (None, ""):
        out["comment"] = _text(where, "comment", label["comment"])
    return out


def check_unit_shape(kind: str, unit: Unit, where: str) -> None:
    """A DataError when ``unit`` cannot be rated as ``kind`` (wrong number of responses …)."""
    want = 2 if kind == "pairwise" else 1
    if not unit.id or not isinstance(unit.id, str):
        raise DataError(where, None, "id", "empty")
    if len(unit.id) > 200:
        raise DataError(where, None, "id", "longer than 200 characters")
    if not unit.prompt.strip():
        raise DataError(where, None, "prompt", "empty")
    if len(unit.responses) != want:
        raise DataError(where, None, "responses",
                        f"a {kind} unit needs {want} response{'s' * (want > 1)}, got {len(unit.responses)}")
    if any(not isinstance(r, str) or not r.strip() for r in unit.responses):
        raise DataError(where, None, "responses", "a response is empty")
    if unit.sources and len(unit.sources) != len(unit.responses):
        raise DataError(where, None, "sources", "needs one source per response")
