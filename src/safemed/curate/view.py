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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

from safemed.ledger import db
from safemed.ledger.errors import LedgerChanged, LedgerError
from safemed.ledger.readmodel import chunks, load_states
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.ledger.tables import cur_items, events
from safemed.records.curation import Item, NewEvent

CHUNK = 500  # items whose full states are loaded at a time
R = TypeVar("R")
CACHE_LIMIT = 4 * CHUNK

I = cur_items.c  # noqa: E741 - the column namespace every query here uses


@dataclass
class CurationView:
    """One snapshot of curation state: ``tree_size`` events, queried through ``conn``."""

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
        for ids in _pages(lambda: nullcontext(self.conn), conditions, limit, lambda _, ids: ids):
            yield from ids

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
        found: set[str] = set()
        for part in chunks(list(dict.fromkeys(item_ids))):
            found.update(self.conn.execute(select(I.item_id).where(I.item_id.in_(part), HAS_ITEM)).scalars())
        return found

    def with_states(self, rows: Sequence[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line, row)`` pairs of an input file, each chunk's items prefetched before it is yielded,
        so checking row by row costs one query per chunk, not one per row."""
        for part in chunks(rows):
            self.prefetch(str(row.get("item_id")) for _, row in part)
            yield from part

    def count(self, *conditions: ColumnElement[bool]) -> int:
        """How many items match every condition."""
        return int(self.conn.execute(select(func.count()).select_from(cur_items).where(*conditions)).scalar_one())

    def states_where(self, *conditions: ColumnElement[bool], limit: int | None = None) -> Iterator[ItemState]:
        """Full states of the matching items, in ledger order, loaded a page at a time."""
        for states in _pages(lambda: nullcontext(self.conn), conditions, limit, _states):
            yield from states


def _pages(conn_for_page: Callable[[], AbstractContextManager[Connection]], conditions: Sequence[ColumnElement[bool]],
           limit: int | None, load: Callable[[Connection, list[str]], R]) -> Iterator[R]:
    """``load(conn, ids)`` for each page of the ids of matching items, in ledger order (keyset
    over ``ord``): the ids and what is loaded for them come from one connection ``conn_for_page()``
    gives, which is closed again before the page is yielded."""
    after, taken = -1, 0
    while limit is None or taken < limit:
        page = CHUNK if limit is None else min(CHUNK, limit - taken)
        with conn_for_page() as conn:
            rows = conn.execute(select(I.item_id, I.ord).where(I.ord > after, *conditions)
                                .order_by(I.ord).limit(page)).all()
            if not rows:
                return
            loaded = load(conn, [row[0] for row in rows])
        yield loaded
        taken += len(rows)
        after = int(rows[-1][1])


def _states(conn: Connection, ids: list[str]) -> list[ItemState]:
    return list(load_states(conn, ids).values())


def paged_states(ledger: Ledger, *conditions: ColumnElement[bool], limit: int | None = None) -> Iterator[ItemState]:
    """Like :meth:`CurationView.states_where`, but each page is read in its own short snapshot, for
    long runs that append while they iterate (``generate``): an item settled meanwhile is not
    returned again, and no read transaction stays open for hours."""
    for states in _pages(lambda: db.read_transaction(ledger.engine), conditions, limit, _states):
        yield from states


@contextmanager
def open_view(ledger: Ledger) -> Iterator[CurationView]:
    """A :class:`CurationView` over one read snapshot, open for the ``with`` block."""
    with db.read_transaction(ledger.engine) as conn:
        yield CurationView(conn, Ledger.size_in(conn))


# -- conditions every stage shares -----------------------------------------------------------

HAS_ITEM = I.item_seq.is_not(None)
EXCLUDED = or_(I.near_duplicate, I.contamination)
OPEN = and_(I.adjudication.is_(None), I.retained.is_(None))


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
