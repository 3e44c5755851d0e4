"""Current state of an item, derived from its events (the ledger stores only events).

State is a fold over an item's events in ``seq`` order, never stored, so it can always be
recomputed from the verified log: the item, its traces (latest wins), the model's attempts and
failures (five failures escalate, the paper's five-strike rule), the physicians' reviews and
edits, the escalation, the panel's adjudication and the retention decision. ``status`` follows
the CTS pipeline: imported → traced → reviewed → escalated → adjudicated → retained / rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import fmean

from safemed.records.curation import (
    RUBRICS,
    Adjudication,
    Assignment,
    Attempt,
    Edit,
    Escalation,
    Flag,
    Item,
    LedgerEvent,
    RetentionDecision,
    Review,
    Trace,
)


@dataclass
class ItemState:
    """Everything the ledger says about one item, as of the last event applied."""

    item_id: str
    item: Item | None = None
    traces: list[Trace] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    adjudication: Adjudication | None = None
    retention: RetentionDecision | None = None
    assignments: list[Assignment] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    last_seq: int = -1

    @property
    def latest_trace(self) -> Trace | None:
        """The most recently generated trace."""
        return self.traces[-1] if self.traces else None

    @property
    def failures(self) -> int:
        """Attempts the model answered wrongly."""
        return sum(not attempt.correct for attempt in self.attempts)

    @property
    def current_reasoning(self) -> str | None:
        """The latest trace's reasoning with the physicians' edits to it applied in order."""
        trace = self.latest_trace
        if trace is None:
            return None
        text = trace.reasoning
        for edit in self.edits:
            if edit.trace_id == trace.id and edit.field == "reasoning":
                text = edit.after
        return text

    @property
    def mean_scores(self) -> dict[str, float]:
        """Mean rubric score per dimension over all reviews (empty without reviews); ethics/safety
        items' reviews use their own rubric's dimensions."""
        if not self.reviews:
            return {}
        names = RUBRICS[self.reviews[0].rubric]
        return {name: fmean(getattr(r.scores, name) for r in self.reviews) for name in names}

    @property
    def status(self) -> str:
        """Where the item is in the pipeline."""
        if self.retention is not None:
            return "retained" if self.retention.retained else "rejected"
        if self.adjudication is not None:
            return "adjudicated"
        if self.escalations:
            return "escalated"
        if self.reviews or self.edits:
            return "reviewed"
        if self.traces:
            return "traced"
        return "imported" if self.item is not None else "unknown"

    def apply(self, event: LedgerEvent) -> None:
        """Fold one event of this item into the state."""
        if event.item_id != self.item_id:
            raise ValueError(f"event {event.seq} is about item {event.item_id!r}, not {self.item_id!r}")
        record = event.record()
        if isinstance(record, Item):
            self.item = record
        elif isinstance(record, Trace):
            self.traces.append(record)
        elif isinstance(record, Attempt):
            self.attempts.append(record)
        elif isinstance(record, Review):
            self.reviews.append(record)
        elif isinstance(record, Edit):
            self.edits.append(record)
        elif isinstance(record, Escalation):
            self.escalations.append(record)
        elif isinstance(record, Adjudication):
            self.adjudication = record
        elif isinstance(record, Assignment):
            self.assignments.append(record)
        elif isinstance(record, Flag):
            self.flags.append(record)
        else:
            self.retention = record
        self.last_seq = event.seq


def item_state(item_id: str, events: Iterable[LedgerEvent]) -> ItemState:
    """The state of one item from its events (in ``seq`` order)."""
    state = ItemState(item_id)
    for event in events:
        state.apply(event)
    return state


def all_states(events: Iterable[LedgerEvent]) -> dict[str, ItemState]:
    """The state of every item in a stream of events (e.g. an export)."""
    states: dict[str, ItemState] = {}
    for event in events:
        states.setdefault(event.item_id, ItemState(event.item_id)).apply(event)
    return states
