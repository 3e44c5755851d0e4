"""Current state of an item, derived from its events (the ledger stores only events).

State is a fold over an item's events in ``seq`` order, so it can always be recomputed from the
verified log: the item, its traces (latest wins), the model's attempts and
failures (five failures escalate, the paper's five-strike rule), the physicians' reviews and
edits, the escalation, the panel's adjudication and the retention decision. ``status`` follows
the CTS pipeline: imported → traced → reviewed → escalated → adjudicated → retained / rejected.

The curation read model (``readmodel.py``) stores a summary of each item's state (status,
counts, the accepted trace, how far its reviews disagree) so queries need not fold; the
summaries are computed here, from the same fold, so a fresh replay and the stored rows can be
compared exactly (``ledger verify``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import fmean

from safemed.records.curation import (
    NON_ITEM_EVENTS,
    RUBRICS,
    Adjudication,
    Assignment,
    Attempt,
    CurationRecord,
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
    first_seq: int = -1
    item_seq: int = -1
    seqs: dict[str, list[int]] = field(default_factory=dict)

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

    @property
    def accepted_trace(self) -> Trace | None:
        """The trace whose answer matched the gold answer (the one reviewers see), if any."""
        for attempt in self.attempts:
            if attempt.correct and attempt.trace_id is not None:
                for trace in self.traces:
                    if trace.id == attempt.trace_id:
                        return trace
        return None

    @property
    def excluded(self) -> bool:
        """Flagged as a near duplicate of another item, or as contaminated by a benchmark."""
        return bool(self.flags)

    @property
    def closed(self) -> bool:
        """Adjudicated or decided: no more reviews are taken."""
        return self.adjudication is not None or self.retention is not None

    @property
    def score_spread(self) -> dict[str, int]:
        """Per rubric dimension, the largest minus the smallest review score (two reviews or more)."""
        if len(self.reviews) < 2:
            return {}
        dims = list(self.reviews[0].scores.as_dict())
        scores = [r.scores.as_dict() for r in self.reviews]
        return {d: max(s[d] for s in scores) - min(s[d] for s in scores) for d in dims}

    @property
    def verdict_conflict(self) -> bool:
        """Two reviewers gave different verdicts (keep vs reject); needs two reviews or more."""
        return len(self.reviews) >= 2 and len({r.verdict for r in self.reviews if r.verdict is not None}) > 1

    @property
    def distinct_edits(self) -> int:
        """How many different edited reasonings the reviewers proposed (0 with fewer than two reviews)."""
        if len(self.reviews) < 2:
            return 0
        return len({e.after for e in self.edits if e.field == "reasoning"})

    def disagreement(self, max_spread: int = 1) -> list[str]:
        """Why the reviews disagree (empty when they do not, or there are fewer than two)."""
        spread = self.score_spread
        reasons = []
        wide = [d for d, v in spread.items() if v > max_spread]
        if wide:
            reasons.append(f"scores more than {max_spread} apart on " + ", ".join(f"{d} ({spread[d]})" for d in wide))
        if self.verdict_conflict:
            reasons.append("keep/reject conflict")
        if self.distinct_edits > 1:
            reasons.append(f"{self.distinct_edits} different edits of the reasoning")
        return reasons

    def apply(self, event: LedgerEvent) -> None:
        """Fold one event of this item into the state."""
        if event.item_id != self.item_id:
            raise ValueError(f"event {event.seq} is about item {event.item_id!r}, not {self.item_id!r}")
        self.apply_record(event.record(), event.seq, event.event_type.value)

    def apply_record(self, record: CurationRecord, seq: int, event_type: str) -> None:
        """Fold one event's typed record (numbered ``seq``) into the state."""
        if self.first_seq < 0:
            self.first_seq = seq
        self.seqs.setdefault(event_type, []).append(seq)
        if isinstance(record, Item):
            self.item = record
            self.item_seq = seq
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
        elif isinstance(record, RetentionDecision):
            self.retention = record
        else:  # a study plan's freeze is no item's event (NON_ITEM_EVENTS); callers skip it
            raise ValueError(f"event {seq} ({event_type}) is not a curation item's event")
        self.last_seq = seq


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
        if event.event_type not in NON_ITEM_EVENTS:
            states.setdefault(event.item_id, ItemState(event.item_id)).apply(event)
    return states


def specialty_key(specialty: str) -> str:
    """Specialties compare case- and space-insensitively (routing and queues use this key)."""
    return " ".join(specialty.casefold().split())
