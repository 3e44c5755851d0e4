"""The curation read model: item states kept as indexed rows, derived from the events only.

Every curation query (the funnel, a reviewer's queue and next assignment, the adjudication
queue, retention, export, the review app's pages) used to fold the whole ledger; at the paper's
scale (362K candidate items, ~1.5M events) that costs minutes and gigabytes per command. This
module keeps the fold's result in three tables (``tables.py``: ``cur_items``,
``cur_assignments``, ``cur_reviews``), event-sourced the way CQRS read models are:

* **written only by** :func:`project`, which ``Ledger.append`` calls inside the same transaction
  as the events it appends: the rows of every item an append touches are recomputed from that
  item's complete event history (:class:`~safemed.ledger.state.ItemState`) and replaced, so the
  read model can never disagree with a committed ledger;
* **rebuildable**: :func:`rebuild` (``safemed ledger reindex``) empties the tables and derives
  them again from the events, item by item, in bounded memory;
* **checked**: :func:`compare` (part of ``safemed ledger verify``) replays every item's events
  afresh and reports the first item whose stored rows differ.

Events that concern no curation item (:data:`~safemed.records.curation.NON_ITEM_EVENTS`: a
study's frozen analysis plan) are skipped by every one of these: they imply no rows.

Rows summarise; payloads stay in ``ledger_events`` and are read through its ``item_id`` index
(:func:`load_states`) for the bounded set of items a query selects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from safemed.ledger.state import ItemState, specialty_key
from safemed.ledger.tables import READ_MODEL_TABLES, cur_assignments, cur_items, cur_reviews, events, meta
from safemed.records.curation import NON_ITEM_EVENTS, RECORD_TYPES, CurationRecord, EventType, NewEvent

SIZE_KEY = "read_model_size"
"""``ledger_meta`` key: the tree size the read model reflects (equal to the ledger's after every
committed append)."""

CHUNK = 500  # item ids per IN (…) list
_SKIPPED = frozenset(kind.value for kind in NON_ITEM_EVENTS)
T = TypeVar("T")


def _record(event_type: str, payload: Any) -> CurationRecord:
    record: CurationRecord = RECORD_TYPES[EventType(event_type)].model_validate(payload)  # type: ignore[assignment]
    return record


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size`` (bounded IN lists and batches)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def load_states(conn: Connection, item_ids: Iterable[str]) -> dict[str, ItemState]:
    """The full states of the given items from their events (``item_id`` index), ordered by the
    item's first event; ids with no events are absent."""
    wanted = list(dict.fromkeys(item_ids))
    states: dict[str, ItemState] = {}
    for part in chunks(wanted):
        stmt = (select(events.c.seq, events.c.event_type, events.c.item_id, events.c.canonical)
                .where(events.c.item_id.in_(part)).order_by(events.c.seq))
        for seq, event_type, item_id, canonical in conn.execute(stmt):
            if event_type in _SKIPPED:
                continue
            state = states.get(item_id)
            if state is None:
                state = states[item_id] = ItemState(item_id)
            state.apply_record(_record(event_type, json.loads(canonical)["payload"]), int(seq), event_type)
    return dict(sorted(states.items(), key=lambda kv: kv[1].first_seq))


# -- rows derived from one item's state ----------------------------------------------------


def _trace_seqs(state: ItemState) -> dict[str, int]:
    """Trace id → the ``seq`` of the event that generated it."""
    return dict(zip((t.id for t in state.traces), state.seqs.get(EventType.TRACE_GENERATED.value, []), strict=True))


def item_row(state: ItemState) -> dict[str, Any]:
    """The ``cur_items`` row of one item."""
    item, accepted = state.item, state.accepted_trace
    spread = state.score_spread
    flags = {f.kind for f in state.flags}
    trace_seqs = _trace_seqs(state)
    return {
        "item_id": state.item_id, "ord": state.first_seq,
        "item_seq": state.item_seq if item is not None else None,
        "kind": item.kind if item else None, "specialty": item.specialty if item else None,
        "specialty_key": specialty_key(item.specialty) if item else None,
        "language": item.language if item else None,
        "derived": bool(item is not None and item.derived_from is not None),
        "status": state.status, "n_traces": len(state.traces),
        "accepted_trace_id": accepted.id if accepted else None,
        "accepted_trace_seq": trace_seqs.get(accepted.id) if accepted else None,
        "n_attempts": len(state.attempts), "n_failures": state.failures,
        "n_assignments": len(state.assignments),
        "n_assigned_accepted": sum(accepted is not None and a.trace_id == accepted.id for a in state.assignments),
        "n_reviews": len(state.reviews), "n_edits": len(state.edits),
        "near_duplicate": "near_duplicate" in flags, "contamination": "contamination" in flags,
        "escalated": bool(state.escalations),
        "score_spread": max(spread.values()) if spread else None,
        "verdict_conflict": state.verdict_conflict, "distinct_edits": state.distinct_edits,
        "adjudication": state.adjudication.decision if state.adjudication else None,
        "retained": state.retention.retained if state.retention else None,
        "last_seq": state.last_seq,
    }


def assignment_rows(state: ItemState) -> list[dict[str, Any]]:
    """The ``cur_assignments`` rows of one item, each with its state."""
    done = {(r.trace_id, r.reviewer) for r in state.reviews}
    trace_seqs = _trace_seqs(state)
    rows = []
    for seq, a in zip(state.seqs.get(EventType.ASSIGNED.value, []), state.assignments, strict=True):
        status = "done" if (a.trace_id, a.reviewer) in done else "closed" if state.closed else "open"
        rows.append({"seq": seq, "item_id": state.item_id, "trace_id": a.trace_id,
                     "trace_seq": trace_seqs.get(a.trace_id), "reviewer": a.reviewer, "specialty": a.specialty,
                     "round": a.round, "state": status})
    return rows


def review_rows(state: ItemState) -> list[dict[str, Any]]:
    """The ``cur_reviews`` rows of one item."""
    return [{"seq": seq, "item_id": state.item_id, "trace_id": r.trace_id, "reviewer": r.reviewer,
             "specialty": r.specialty, "rubric": r.rubric}
            for seq, r in zip(state.seqs.get(EventType.REVIEW_SUBMITTED.value, []), state.reviews, strict=True)]


def _insert(conn: Connection, states: Iterable[ItemState]) -> None:
    items, assigns, reviews = [], [], []
    for state in states:
        items.append(item_row(state))
        assigns += assignment_rows(state)
        reviews += review_rows(state)
    for table, rows in ((cur_items, items), (cur_assignments, assigns), (cur_reviews, reviews)):
        if rows:
            conn.execute(insert(table), rows)


def _delete(conn: Connection, item_ids: Sequence[str]) -> None:
    for part in chunks(item_ids):
        for table in reversed(READ_MODEL_TABLES):
            conn.execute(delete(table).where(table.c.item_id.in_(part)))


# -- writing --------------------------------------------------------------------------------


def project(conn: Connection, appended: Sequence[tuple[int, NewEvent]]) -> None:
    """Bring the rows of every item in ``appended`` (events just inserted, with their ``seq``) up
    to date, inside the appending transaction. Items already known are re-derived from all their
    events; new items from the appended events alone (the fast path of a bulk import)."""
    appended = [(seq, new) for seq, new in appended if new.event_type not in NON_ITEM_EVENTS]
    if not appended:
        return
    touched = list(dict.fromkeys(new.item_id for _, new in appended))
    known: list[str] = []
    for part in chunks(touched):
        known += conn.execute(select(cur_items.c.item_id).where(cur_items.c.item_id.in_(part))).scalars().all()
    known_set = set(known)
    fresh: dict[str, ItemState] = {}
    for seq, new in appended:
        if new.item_id in known_set:
            continue
        state = fresh.get(new.item_id)
        if state is None:
            state = fresh[new.item_id] = ItemState(new.item_id)
        state.apply_record(_record(new.event_type.value, new.payload), seq, new.event_type.value)
    if known:
        _delete(conn, known)
        _insert(conn, load_states(conn, known).values())
    _insert(conn, fresh.values())


def set_size(conn: Connection, size: int) -> None:
    """Record the tree size the read model now reflects."""
    done = conn.execute(update(meta).where(meta.c.key == SIZE_KEY).values(value=str(size)))
    if done.rowcount == 0:
        conn.execute(insert(meta).values(key=SIZE_KEY, value=str(size)))


def stored_size(conn: Connection) -> int | None:
    """The tree size the read model says it reflects (None: never built)."""
    value = conn.execute(select(meta.c.value).where(meta.c.key == SIZE_KEY)).scalar()
    return None if value is None else int(value)


def _item_pages(conn: Connection, page: int = CHUNK) -> Iterator[list[str]]:
    """Every item id in the events, in pages (keyset over the ``item_id`` index, bounded memory)."""
    after: str | None = None
    while True:
        stmt = select(events.c.item_id).distinct().order_by(events.c.item_id).limit(page)
        if after is not None:
            stmt = stmt.where(events.c.item_id > after)
        ids = list(conn.execute(stmt).scalars().all())
        if not ids:
            return
        yield ids
        after = ids[-1]


def rebuild(conn: Connection) -> int:
    """Empty the read model and derive it again from every event (``ledger reindex``); returns
    the number of items. Runs in the caller's (write) transaction."""
    for table in reversed(READ_MODEL_TABLES):
        conn.execute(delete(table))
    n = 0
    for ids in _item_pages(conn):
        states = load_states(conn, ids)
        _insert(conn, states.values())
        n += len(states)
    size = conn.execute(select(func.max(events.c.seq))).scalar()
    set_size(conn, 0 if size is None else int(size) + 1)
    return n


# -- checking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """The first place the stored read model differs from a fresh replay."""

    item_id: str | None
    table: str
    detail: str

    def __str__(self) -> str:
        where = f"item {self.item_id!r}" if self.item_id is not None else "read model"
        return f"{where}: {self.table}: {self.detail} (rebuild it with `safemed ledger reindex`)"


def _rows_by(conn: Connection, table: Any, key: str, ids: Sequence[str]) -> dict[Any, dict[str, Any]]:
    found: dict[Any, dict[str, Any]] = {}
    for part in chunks(ids):
        for row in conn.execute(select(table).where(table.c.item_id.in_(part))).mappings():
            found[row[key]] = {k: _plain(v) for k, v in row.items()}
    return found


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _first_difference(expected: dict[Any, dict[str, Any]], actual: dict[Any, dict[str, Any]],
                      table: str) -> Mismatch | None:
    for key, row in expected.items():
        got = actual.get(key)
        item_id = row["item_id"]
        if got is None:
            return Mismatch(item_id, table, f"row {key} is missing")
        for column, value in row.items():
            if _plain(value) != got.get(column):
                return Mismatch(item_id, table, f"row {key}: {column} is {got.get(column)!r}, a replay gives "
                                f"{_plain(value)!r}")
    for key, row in actual.items():
        if key not in expected:
            return Mismatch(row["item_id"], table, f"row {key} is not implied by the events")
    return None


def compare(conn: Connection, tree_size: int) -> Mismatch | None:
    """Replay every item's events and compare with the stored rows; the first difference, or None."""
    size = stored_size(conn)
    if size != tree_size:
        return Mismatch(None, "ledger_meta", f"built for {size} events, the ledger has {tree_size}")
    seen = 0
    for ids in _item_pages(conn):
        states = load_states(conn, ids)
        seen += len(states)
        for table, key, rows_of in ((cur_items, "item_id", lambda s: [item_row(s)]),
                                    (cur_assignments, "seq", assignment_rows), (cur_reviews, "seq", review_rows)):
            expected = {row[key]: row for s in states.values() for row in rows_of(s)}
            found = _first_difference(expected, _rows_by(conn, table, key, ids), table.name)
            if found is not None:
                return found
    stored = conn.execute(select(func.count()).select_from(cur_items)).scalar_one()
    if stored != seen:
        stray = conn.execute(text("SELECT item_id FROM cur_items c WHERE NOT EXISTS (SELECT 1 FROM ledger_events e "
                                  "WHERE e.item_id = c.item_id) LIMIT 1")).scalar()
        return Mismatch(stray, "cur_items", f"{stored} rows for {seen} items in the events")
    for table in (cur_assignments, cur_reviews):
        # NOT EXISTS, not NOT IN: PostgreSQL plans NOT IN (subquery) as a hashed subplan only when it
        # fits work_mem, and otherwise re-scans cur_items per row (minutes at 362K items)
        known = select(cur_items.c.item_id).where(cur_items.c.item_id == table.c.item_id).exists()
        stray = conn.execute(select(table.c.item_id).where(~known).limit(1)).scalar()
        if stray is not None:
            return Mismatch(stray, table.name, "rows of an item the events do not have")
    return None
