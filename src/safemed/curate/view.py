"""A read of the whole ledger as curation sees it: every item's state plus its event numbers.

Every curation command starts from here. State is derived from the verified event log (never
stored), so what ``status``, ``assign`` or ``export`` see is exactly what the ledger proves.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from safemed.ledger.errors import LedgerChanged, LedgerError
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.records.curation import Item, LedgerEvent, NewEvent, Trace


@dataclass
class CurationView:
    """Item states (in order of first appearance) as of ``tree_size`` events, and for each item
    the sequence numbers of its events by type (the provenance an export row cites)."""

    tree_size: int
    states: dict[str, ItemState] = field(default_factory=dict)
    seqs: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def items(self) -> list[Item]:
        """Every imported item, in ledger order."""
        return [s.item for s in self.states.values() if s.item is not None]


def read_view(ledger: Ledger, stop: int | None = None) -> CurationView:
    """Fold the first ``stop`` events (default: all) into item states, in one snapshot read."""
    size = ledger.size() if stop is None else stop
    view = CurationView(size)
    for row in ledger.iter_events(stop=size):
        event = LedgerEvent.from_document(json.loads(row.canonical))
        state = view.states.get(event.item_id)
        if state is None:
            state = view.states[event.item_id] = ItemState(event.item_id)
        state.apply(event)
        view.seqs.setdefault(event.item_id, defaultdict(list))[event.event_type.value].append(event.seq)
    return view


def accepted_trace(state: ItemState) -> Trace | None:
    """The trace whose answer matched the gold answer (the one reviewers see), if any."""
    for attempt in state.attempts:
        if attempt.correct and attempt.trace_id is not None:
            for trace in state.traces:
                if trace.id == attempt.trace_id:
                    return trace
    return None


def is_excluded(state: ItemState) -> bool:
    """Flagged as a near duplicate of another item, or as contaminated by a benchmark."""
    return bool(state.flags)


def is_settled(state: ItemState) -> bool:
    """Generation is over for the item: it has a correct answer or was escalated."""
    return accepted_trace(state) is not None or bool(state.escalations)


def append_consistent(ledger: Ledger, build: Callable[[CurationView], Sequence[NewEvent]], *,
                      attempts: int = 50) -> tuple[CurationView, Sequence[NewEvent]]:
    """Read the ledger, build events from that view (checks included), and append them only if
    nobody appended in between; otherwise read again and rebuild. This keeps rules such as "never
    the same reviewer twice" true under concurrent writers. Returns the view used and the events.
    """
    for _ in range(attempts):
        view = read_view(ledger)
        events = build(view)
        if not events:
            return view, events
        try:
            ledger.append(events, if_size=view.tree_size)
        except LedgerChanged:
            time.sleep(random.uniform(0.0, 0.05))
            continue
        return view, events
    raise LedgerError(f"the ledger kept changing under {attempts} attempts to append; try again")
