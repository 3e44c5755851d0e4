"""Curation state as curation reads it: one snapshot of the ledger's read model.

Every curation command starts from a :class:`CurationView`: a read transaction (one consistent
snapshot, ``tree_size`` events) over the read model that ``Ledger.append`` keeps in the same
transactions as the events (``safemed.ledger.readmodel``). Queries select items with indexed SQL
on ``cur_items`` / ``cur_assignments``; the full :class:`~safemed.ledger.state.ItemState` of the
few items a step needs is loaded through the events' ``item_id`` index. Nothing folds the whole
ledger, so a command's time and memory do not grow with it (issue: 362K items, ~1.5M events).

Writers use :func:`append_consistent`: build events from a view and append them only if nobody
appended in between (checks such as "never the same reviewer twice" hold under concurrent
writers); the events may be a lazy iterable, consumed while the snapshot is still open.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

from safemed.ledger import db
from safemed.ledger.errors import LedgerChanged, LedgerError
from safemed.ledger.readmodel import load_states
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.ledger.tables import cur_items, events
from safemed.records.curation import Item, NewEvent, Trace

CHUNK = 500  # items whose full states are loaded at a time
CACHE_LIMIT = 4 * CHUNK

I = cur_items.c  # noqa: E741 - the column namespace every query here uses


@dataclass
class CurationView:
    """One snapshot of curation state: ``tree_size`` events, queried through ``conn``."""

    ledger: Ledger
    conn: Connection
    tree_size: int
    _cache: dict[str, ItemState] = field(default_factory=dict)

    def execute(self, statement: Any) -> Any:
        """Run a query in the snapshot."""
        return self.conn.execute(statement)

    def state(self, item_id: str) -> ItemState | None:
        """The full state of one item (None when the ledger has no event of it)."""
        if item_id not in self._cache:
            self.prefetch([item_id])
        return self._cache.get(item_id)

    def prefetch(self, item_ids: Iterable[str]) -> None:
        """Load the states of these items in as few queries as possible (kept for :meth:`state`)."""
        missing = [i for i in dict.fromkeys(item_ids) if i not in self._cache]
        if not missing:
            return
        if len(self._cache) + len(missing) > CACHE_LIMIT:
            self._cache.clear()
        self._cache.update(load_states(self.conn, missing))

    def ids_where(self, *conditions: ColumnElement[bool], limit: int | None = None) -> Iterator[str]:
        """Ids of the items matching every condition, in ledger order (keyset pages over ``ord``)."""
        after, taken = -1, 0
        while limit is None or taken < limit:
            page = CHUNK if limit is None else min(CHUNK, limit - taken)
            rows = self.conn.execute(select(I.item_id, I.ord).where(I.ord > after, *conditions)
                                     .order_by(I.ord).limit(page)).all()
            if not rows:
                return
            yield from (row[0] for row in rows)
            taken += len(rows)
            after = int(rows[-1][1])

    def items(self, *conditions: ColumnElement[bool]) -> Iterator[Item]:
        """The imported items matching every condition, in ledger order (payloads read by ``seq``)."""
        after = -1
        while True:
            rows = self.conn.execute(select(I.ord, events.c.canonical).join(events, events.c.seq == I.item_seq)
                                     .where(I.ord > after, HAS_ITEM, *conditions).order_by(I.ord)
                                     .limit(CHUNK)).all()
            if not rows:
                return
            yield from (Item.model_validate(json.loads(text)["payload"]) for _, text in rows)
            after = int(rows[-1][0])

    def existing(self, item_ids: Iterable[str]) -> set[str]:
        """Which of these ids the ledger already has an imported item for."""
        wanted = list(dict.fromkeys(item_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start:start + CHUNK]
            found.update(self.conn.execute(select(I.item_id).where(I.item_id.in_(part), HAS_ITEM)).scalars())
        return found

    def count(self, *conditions: ColumnElement[bool]) -> int:
        """How many items match every condition."""
        return int(self.conn.execute(select(func.count()).select_from(cur_items).where(*conditions)).scalar_one())

    def states_where(self, *conditions: ColumnElement[bool], limit: int | None = None) -> Iterator[ItemState]:
        """Full states of the matching items, in ledger order, loaded a chunk at a time."""
        chunk: list[str] = []
        for item_id in self.ids_where(*conditions, limit=limit):
            chunk.append(item_id)
            if len(chunk) == CHUNK:
                yield from load_states(self.conn, chunk).values()
                chunk = []
        if chunk:
            yield from load_states(self.conn, chunk).values()


def paged_states(ledger: Ledger, *conditions: ColumnElement[bool], limit: int | None = None) -> Iterator[ItemState]:
    """Like :meth:`CurationView.states_where`, but each page is read in its own short snapshot, for
    long runs that append while they iterate (``generate``): an item settled meanwhile is not
    returned again, and no read transaction stays open for hours."""
    after, taken = -1, 0
    while limit is None or taken < limit:
        page = CHUNK if limit is None else min(CHUNK, limit - taken)
        with open_view(ledger) as view:
            rows = view.conn.execute(select(I.item_id, I.ord).where(I.ord > after, *conditions)
                                     .order_by(I.ord).limit(page)).all()
            if not rows:
                return
            states = load_states(view.conn, [row[0] for row in rows])
        yield from states.values()
        taken += len(rows)
        after = int(rows[-1][1])


@contextmanager
def open_view(ledger: Ledger) -> Iterator[CurationView]:
    """A :class:`CurationView` over one read snapshot, open for the ``with`` block."""
    with db.read_transaction(ledger.engine) as conn:
        yield CurationView(ledger, conn, Ledger.size_in(conn))


# -- conditions every stage shares -----------------------------------------------------------

HAS_ITEM = I.item_seq.is_not(None)
EXCLUDED = or_(I.near_duplicate, I.contamination)
OPEN = and_(I.adjudication.is_(None), I.retained.is_(None))


def accepted_trace(state: ItemState) -> Trace | None:
    """The trace whose answer matched the gold answer (the one reviewers see), if any."""
    return state.accepted_trace


def is_excluded(state: ItemState) -> bool:
    """Flagged as a near duplicate of another item, or as contaminated by a benchmark."""
    return state.excluded


def is_settled(state: ItemState) -> bool:
    """Generation is over for the item: it has a correct answer or was escalated."""
    return state.accepted_trace is not None or bool(state.escalations)


def append_consistent(ledger: Ledger, build: Callable[[CurationView], Iterable[NewEvent]], *,
                      attempts: int = 50) -> range:
    """Open a view, build events from it (checks included) and append them only if nobody
    appended in between; otherwise read again and rebuild. Returns the appended seqs."""
    for _ in range(attempts):
        try:
            with open_view(ledger) as view:
                return ledger.append(build(view), if_size=view.tree_size)
        except LedgerChanged:
            time.sleep(random.uniform(0.0, 0.05))
    raise LedgerError(f"the ledger kept changing under {attempts} attempts to append; try again")
