"""``RatingStore``: tasks, leased units, append-only hash-chained labels, exports and gold items.

The clinician review app (SafeMed-R1: physicians scoring model output) asks this store for the
next unit of a task, shows it blind (no judge scores, no model names, A/B order randomised per
unit), and records the rater's label. Invariants kept on SQLite and PostgreSQL, with any number of
worker processes:

* a unit is leased to one rater at a time per free slot, so two raters of a one-rater-per-unit
  task never both get it; a lease not turned into a label within ``lease_s`` is released;
* ``record`` is idempotent (the same rater and unit again → ``False``, nothing written) and refuses
  a unit the rater may not label (leased to someone else, or already labelled by enough raters);
* labels are only ever appended, each row chained to the previous one (``chain.py``), and
  :meth:`RatingStore.verify` recomputes the chain and names the first row that does not match.

Raters are pseudonyms (``LedgerKeys.pseudonym(name)``), as in the ledger. Gold items (``gold.py``)
live here too, outside the curation ledger, so they never reach training data.
"""

from __future__ import annotations

import csv
import json
import random
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from safemed.artifacts import atomic_writer, now_iso
from safemed.errors import ConfigError, DataError, SafemedError
from safemed.ledger import db
from safemed.ledger.canonical import canonical_json
from safemed.ratings import chain
from safemed.ratings import gold as gold_rows
from safemed.ratings.model import (
    KINDS,
    GoldUnit,
    TaskSummary,
    Unit,
    UnitView,
    check_unit_shape,
    default_dimensions,
    scale_for,
    validate_label,
)
from safemed.ratings.tables import GOLD_TASK, ensure_tables, gold, labels, leases, tasks, units, write_lock

MAX_RATER = 100
PAGE = 5000  # rows per read while verifying or exporting


class RatingsTamperedError(SafemedError):
    """``verify`` found a label row whose chain hash does not match (changed, removed, reordered)."""

    exit_code = 4


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _rater(rater: str) -> str:
    if not isinstance(rater, str) or not rater.strip() or len(rater) > MAX_RATER:
        raise DataError("rater", None, None, f"must be a non-empty pseudonym of at most {MAX_RATER} characters")
    return rater


def _seconds(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= 10**7:
        raise DataError("label", None, "seconds_spent", f"must be a whole number of seconds >= 0, got {value!r}")
    return value


def presented(unit: Unit, kind: str, seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The responses and their sources in the order the rater sees them.

    Pairwise units are swapped or not by a coin seeded with ``seed`` and the unit id, so the order
    does not depend on the unit's position and a rerun with the same seed presents the same order.
    """
    sources = unit.sources or tuple(f"response {i + 1}" for i in range(len(unit.responses)))
    if kind == "pairwise" and random.Random(f"{seed}:{unit.id}").random() < 0.5:
        return unit.responses[::-1], sources[::-1]
    return unit.responses, sources


class RatingStore:
    """The rating tables of one database (created when missing). ``engine`` should come from
    ``safemed.ledger.db.make_engine`` (or be a ``Ledger``'s), whose SQLite settings serialise writers;
    ``clock`` returns epoch seconds (leases expire by it)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._owns_engine = False
        ensure_tables(engine)

    @classmethod
    def open(cls, url: str | None = None, *, clock: Callable[[], float] = time.time) -> RatingStore:
        """The store in the database at ``url`` (default: ``$SAFEMED_DB`` or ``./safemed.db``, as for
        the ledger commands)."""
        store = cls(db.make_engine(url or db.default_db_url()), clock=clock)
        store._owns_engine = True
        return store

    def close(self) -> None:
        """Release the connection pool when this store opened it."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> RatingStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tasks ------------------------------------------------------------------------------------

    def create_task(self, name: str, kind: str, units_: Sequence[Unit], *, instructions: str = "",
                    raters_per_unit: int = 1, specialties: Sequence[str] = (), seed: int = 0,
                    dimensions: Sequence[str] = (), anchors: Sequence[tuple[int, str]] | None = None) -> str:
        """Create a task over ``units_`` (in this order) and return its id.

        ``dimensions`` (likert only) name the rubric a unit is scored on, default the paper's five
        review dimensions; ``anchors`` the text of the points 1–5. Pairwise units get their A/B
        order from ``seed`` (:func:`presented`).
        """
        if kind not in KINDS:
            raise ConfigError(f"unknown task kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        if not name.strip() or len(name) > 200:
            raise ConfigError("a task needs a name of 1-200 characters")
        if not 1 <= raters_per_unit <= 100:
            raise ConfigError(f"raters per unit must be 1-100, got {raters_per_unit}")
        if not units_:
            raise ConfigError(f"task {name!r} has no units")
        dims = tuple(dimensions) or default_dimensions(kind)
        if kind != "likert" and dimensions:
            raise ConfigError(f"only likert tasks have dimensions (a {kind} task has one scale)")
        if len(set(dims)) != len(dims) or any(not d.strip() for d in dims):
            raise ConfigError(f"dimensions must be distinct and non-empty, got {list(dims)}")
        seen: set[str] = set()
        rows = []
        for ord_, unit in enumerate(units_):
            where = f"unit {ord_ + 1} ({unit.id!r})"
            check_unit_shape(kind, unit, where)
            if unit.id in seen:
                raise DataError(where, None, "id", "appears twice in this task")
            seen.add(unit.id)
            responses, sources = presented(unit, kind, seed)
            rows.append({"unit_id": unit.id, "ord": ord_, "prompt": unit.prompt, "responses": _json(list(responses)),
                         "sources": _json(list(sources)), "meta": _json(dict(unit.meta)),
                         "specialty": unit.specialty, "n_labels": 0})
        config = {"dimensions": list(dims), "anchors": [list(a) for a in anchors] if anchors else None}
        task_id = "t-" + uuid.uuid4().hex[:12]
        with write_lock(self.engine) as conn:
            if conn.execute(select(tasks.c.id).where(tasks.c.name == name)).first() is not None:
                raise ConfigError(f"a rating task named {name!r} exists already (names are unique)")
            conn.execute(insert(tasks), [{
                "id": task_id, "name": name, "kind": kind, "instructions": instructions,
                "raters_per_unit": raters_per_unit, "specialties": _json(sorted(set(specialties))),
                "config": _json(config), "seed": seed, "n_units": len(rows), "created_at": now_iso()}])
            for start in range(0, len(rows), 1000):
                conn.execute(insert(units), [{"task_id": task_id, **r} for r in rows[start:start + 1000]])
        return task_id

    def tasks(self, rater: str | None = None, specialties: Collection[str] = ()) -> list[TaskSummary]:
        """Every task, oldest first; with ``rater``: only the tasks open to them (no specialty, or one
        of ``specialties``), each with how many units they may still label."""
        with db.read_transaction(self.engine) as conn:
            rows = conn.execute(select(tasks).order_by(tasks.c.created_at, tasks.c.id)).mappings().all()
            out = []
            for row in rows:
                allowed = json.loads(row["specialties"])
                if rater is not None and allowed and not set(allowed) & set(specialties):
                    continue
                out.append(self._summary(conn, row, rater, specialties))
        return out

    def task(self, ref: str) -> TaskSummary:
        """The task with id or name ``ref``; a ConfigError naming the known tasks otherwise."""
        with db.read_transaction(self.engine) as conn:
            row = conn.execute(select(tasks).where(or_(tasks.c.id == ref, tasks.c.name == ref))).mappings().first()
            if row is None:
                known = [f"{r.id} ({r.name})" for r in conn.execute(select(tasks.c.id, tasks.c.name)).all()]
                raise ConfigError(f"no rating task {ref!r}; tasks: {', '.join(known) or 'none yet'}")
            return self._summary(conn, row, None, ())

    def _summary(self, conn: Connection, row: Mapping[Any, Any], rater: str | None,
                 specialties: Collection[str]) -> TaskSummary:
        k = int(row["raters_per_unit"])
        n_labels, n_done, n_open = conn.execute(
            select(func.coalesce(func.sum(units.c.n_labels), 0),
                   func.coalesce(func.sum(case((units.c.n_labels >= k, 1), else_=0)), 0),
                   func.coalesce(func.sum(case((units.c.n_labels < k, 1), else_=0)), 0))
            .where(units.c.task_id == row["id"])).one()
        remaining = None
        if rater is not None and specialties:  # units of other specialties are not for this rater
            query = select(func.count()).select_from(units).where(*self._open_for(row["id"], rater, k, specialties))
            remaining = int(conn.execute(query).scalar_one())
        elif rater is not None:  # open units minus the open ones this rater labelled (via their label index)
            query = (select(func.count()).select_from(labels.join(units, and_(
                units.c.task_id == labels.c.task_id, units.c.unit_id == labels.c.unit_id)))
                .where(labels.c.rater == rater, labels.c.task_id == row["id"], units.c.n_labels < k))
            remaining = int(n_open) - int(conn.execute(query).scalar_one())
        config = json.loads(row["config"])
        return TaskSummary(id=row["id"], name=row["name"], kind=row["kind"], n_units=int(row["n_units"]),
                           n_labels=int(n_labels), n_done=int(n_done), raters_per_unit=k,
                           specialties=tuple(json.loads(row["specialties"])),
                           dimensions=tuple(config["dimensions"]), instructions=row["instructions"],
                           created_at=row["created_at"], remaining_for_rater=remaining)

    @staticmethod
    def _open_for(task_id: str, rater: str, k: int, specialties: Collection[str] | None) -> list[Any]:
        """WHERE clauses: units of ``task_id`` with a free slot that ``rater`` has not labelled."""
        own = exists().where(labels.c.task_id == units.c.task_id, labels.c.unit_id == units.c.unit_id,
                             labels.c.rater == rater)
        clauses: list[Any] = [units.c.task_id == task_id, units.c.n_labels < k, ~own]
        if specialties:
            clauses.append(or_(units.c.specialty.is_(None), units.c.specialty.in_(list(specialties))))
        return clauses

    def _task_row(self, conn: Connection, task_id: str) -> dict[str, Any]:
        row = conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().first()
        if row is None:
            raise ConfigError(f"no rating task {task_id!r}")
        out = dict(row)
        out["config"] = json.loads(row["config"])
        out["specialties"] = json.loads(row["specialties"])
        return out

    @staticmethod
    def _check_specialty(task: Mapping[str, Any], specialties: Collection[str] | None) -> None:
        if specialties is not None and task["specialties"] and not set(task["specialties"]) & set(specialties):
            raise DataError(f"task {task['id']}", None, None,
                            f"open to {', '.join(task['specialties'])} only, not to this rater's specialties")

    def _view(self, task: Mapping[str, Any], unit: Mapping[Any, Any], lease_expires: float | None) -> UnitView:
        anchors = task["config"].get("anchors")
        return UnitView(task_id=task["id"], unit_id=unit["unit_id"], kind=task["kind"], prompt=unit["prompt"],
                        responses=tuple(json.loads(unit["responses"])),
                        scale=scale_for(task["kind"], [tuple(a) for a in anchors] if anchors else None),
                        dimensions=tuple(task["config"]["dimensions"]), instructions=task["instructions"],
                        lease_expires=lease_expires)

    # -- leases -----------------------------------------------------------------------------------

    def _others_leases(self, unit_id: Any, task_id: Any, rater: str, now: float) -> Any:
        return (select(func.count()).select_from(leases)
                .where(leases.c.task_id == task_id, leases.c.unit_id == unit_id, leases.c.rater != rater,
                       leases.c.expires_at > now).scalar_subquery())

    def next_unit(self, task_id: str, rater: str, *, lease_s: float = 1800,
                  specialties: Collection[str] | None = None) -> UnitView | None:
        """Lease the next unit ``rater`` may label (their own live lease first, then the first unit
        in task order with a free slot) for ``lease_s`` seconds; None when nothing is left for them.

        ``specialties``, when given, must open the task to the rater (else a DataError) and limit
        the units to those of no specialty or one of them.
        """
        _rater(rater)
        now = self._clock()
        with write_lock(self.engine) as conn:
            task = self._task_row(conn, task_id)
            self._check_specialty(task, specialties)
            k = int(task["raters_per_unit"])
            conn.execute(delete(leases).where(leases.c.task_id == task_id, leases.c.expires_at <= now))
            clauses = self._open_for(task_id, rater, k, specialties)
            # the rater's own live leases (a handful; labelling a unit drops its lease), read by the
            # rater index first so the units' order index is not walked
            mine = conn.execute(select(leases.c.unit_id).where(leases.c.task_id == task_id,
                                                              leases.c.rater == rater)).scalars().all()
            held = None if not mine else conn.execute(
                select(units).where(units.c.task_id == task_id, units.c.unit_id.in_(list(mine)), clauses[2])
                .order_by(units.c.ord).limit(1)).mappings().first()
            expires = now + lease_s
            if held is not None:
                conn.execute(update(leases).where(leases.c.task_id == task_id, leases.c.unit_id == held["unit_id"],
                                                  leases.c.rater == rater).values(expires_at=expires))
                return self._view(task, held, expires)
            others = self._others_leases(units.c.unit_id, units.c.task_id, rater, now)
            unit = conn.execute(select(units).where(*clauses, units.c.n_labels + others < k)
                                .order_by(units.c.ord).limit(1)).mappings().first()
            if unit is None:
                return None
            conn.execute(insert(leases), [{"task_id": task_id, "unit_id": unit["unit_id"], "rater": rater,
                                           "expires_at": expires}])
            return self._view(task, unit, expires)

    def release(self, task_id: str, unit_id: str, rater: str) -> bool:
        """Give a leased unit back (the rater skipped it); True when a lease was held."""
        with write_lock(self.engine) as conn:
            result = conn.execute(delete(leases).where(leases.c.task_id == task_id, leases.c.unit_id == unit_id,
                                                       leases.c.rater == rater))
            return bool(result.rowcount)

    def _may_label(self, conn: Connection, task: Mapping[str, Any], unit_id: str,
                   rater: str) -> tuple[Mapping[Any, Any] | None, float | None, str | None]:
        """(unit row, the rater's live lease expiry, why not) — the ownership check of every route."""
        unit = conn.execute(select(units).where(units.c.task_id == task["id"], units.c.unit_id == unit_id)
                            ).mappings().first()
        if unit is None:
            return None, None, f"task {task['id']} has no unit {unit_id!r}"
        now = self._clock()
        own = conn.execute(select(leases.c.expires_at).where(
            leases.c.task_id == task["id"], leases.c.unit_id == unit_id, leases.c.rater == rater,
            leases.c.expires_at > now)).scalar()
        if own is not None:
            return unit, float(own), None
        others = conn.execute(select(func.count()).select_from(leases).where(
            leases.c.task_id == task["id"], leases.c.unit_id == unit_id, leases.c.rater != rater,
            leases.c.expires_at > now)).scalar_one()
        if int(unit["n_labels"]) + int(others) >= int(task["raters_per_unit"]):
            return unit, None, (f"unit {unit_id!r} is taken: it has its {task['raters_per_unit']} rater(s) "
                                "(labelled or reserved by others)")
        return unit, None, None

    def _labelled(self, conn: Connection, task_id: str, unit_id: str, rater: str) -> bool:
        return conn.execute(select(labels.c.seq).where(labels.c.task_id == task_id, labels.c.unit_id == unit_id,
                                                       labels.c.rater == rater)).first() is not None

    def unit_for(self, task_id: str, unit_id: str, rater: str,
                 specialties: Collection[str] | None = None) -> UnitView | None:
        """The unit as ``rater`` may see it, or None when they may not label it: unknown, already
        labelled by them, or taken by other raters (the server-side ownership check)."""
        with db.read_transaction(self.engine) as conn:
            try:
                task = self._task_row(conn, task_id)
                self._check_specialty(task, specialties)
            except (ConfigError, DataError):
                return None
            if self._labelled(conn, task_id, unit_id, rater):
                return None
            unit, expires, why = self._may_label(conn, task, unit_id, rater)
            if unit is None or why is not None:
                return None
            if specialties and unit["specialty"] is not None and unit["specialty"] not in specialties:
                return None
            return self._view(task, unit, expires)

    # -- labels -----------------------------------------------------------------------------------

    def record(self, task_id: str, unit_id: str, rater: str, label: Mapping[str, Any], *, seconds_spent: int,
               specialties: Collection[str] | None = None) -> bool:
        """Append ``rater``'s label of one unit; True when written, False when they had labelled it
        already (nothing written). A label of the wrong shape, or a unit the rater may not label,
        is a DataError."""
        _rater(rater)
        seconds = _seconds(seconds_spent)
        with write_lock(self.engine) as conn:
            task = self._task_row(conn, task_id)
            self._check_specialty(task, specialties)
            clean = validate_label(task["kind"], label, task["config"]["dimensions"], where=f"label of {unit_id}")
            if self._labelled(conn, task_id, unit_id, rater):
                return False
            _, _, why = self._may_label(conn, task, unit_id, rater)
            if why is not None:
                raise DataError(f"task {task_id}", None, "unit_id", why)
            self._append(conn, task_id, unit_id, rater, clean, seconds)
            conn.execute(update(units).where(units.c.task_id == task_id, units.c.unit_id == unit_id)
                         .values(n_labels=units.c.n_labels + 1))
            conn.execute(delete(leases).where(leases.c.task_id == task_id, leases.c.unit_id == unit_id,
                                              leases.c.rater == rater))
        return True

    def _append(self, conn: Connection, task_id: str, unit_id: str, rater: str, label: Mapping[str, Any],
                seconds: int) -> int:
        """Chain one label row onto the newest one (the caller holds the write lock)."""
        last = conn.execute(select(labels.c.seq, labels.c.hash).order_by(labels.c.seq.desc()).limit(1)).first()
        seq, prev = (0, chain.GENESIS) if last is None else (int(last.seq) + 1, str(last.hash))
        created = now_iso()
        body = chain.content(seq, task_id, unit_id, rater, label, seconds, created)
        conn.execute(insert(labels), [{
            "seq": seq, "task_id": task_id, "unit_id": unit_id, "rater": rater,
            "label": canonical_json(dict(label)), "seconds_spent": seconds, "created_at": created,
            "prev_hash": prev, "hash": chain.link(prev, body)}])
        return seq

    def labels(self, task_id: str) -> Iterator[dict[str, Any]]:
        """Every label of a task in the order recorded, with the unit's hidden sources and meta."""
        after = -1
        while True:
            with db.read_transaction(self.engine) as conn:
                rows = conn.execute(
                    select(labels, units.c.sources, units.c.meta)
                    .join(units, and_(units.c.task_id == labels.c.task_id, units.c.unit_id == labels.c.unit_id))
                    .where(labels.c.task_id == task_id, labels.c.seq > after).order_by(labels.c.seq).limit(PAGE)
                ).mappings().all()
            for row in rows:
                out = dict(row)
                out["label"] = json.loads(row["label"])
                out["sources"] = json.loads(row["sources"])
                out["meta"] = json.loads(row["meta"])
                yield out
            if len(rows) < PAGE:
                return
            after = int(rows[-1]["seq"])

    def export_human_csv(self, task_id: str, path: Path) -> int:
        """The labels of an msb task as ``id,score`` rows (one per label), exactly what
        ``safemed judges calibrate RUN --human FILE`` reads; returns the number of rows."""
        task = self.task(task_id)
        if task.kind != "msb":
            raise ConfigError(f"task {task.name!r} is a {task.kind} task; the human-csv export (id,score on the "
                              "Med-Safety-Bench scale) is for msb tasks (use --format jsonl)")
        n = 0
        with atomic_writer(Path(path)) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["id", "score"])
            for row in self.labels(task.id):
                writer.writerow([row["unit_id"], row["label"]["score"]])
                n += 1
        return n

    def export_jsonl(self, task_id: str, path: Path) -> int:
        """Every label of a task, one JSON object per line: the rater's pseudonym, seconds spent, the
        chain hash, and for pairwise tasks the order shown and the winning source (A/B mapped back)."""
        task = self.task(task_id)
        n = 0
        with atomic_writer(Path(path)) as fh:
            for row in self.labels(task.id):
                out: dict[str, Any] = {
                    "task_id": task.id, "task": task.name, "kind": task.kind, "unit_id": row["unit_id"],
                    "rater": row["rater"], "label": row["label"], "seconds_spent": row["seconds_spent"],
                    "created_at": row["created_at"], "seq": row["seq"], "hash": row["hash"],
                    "prev_hash": row["prev_hash"], "meta": row["meta"]}
                if task.kind == "pairwise":
                    choice = row["label"]["choice"]
                    out["order"] = {"A": row["sources"][0], "B": row["sources"][1]}
                    out["winner"] = "tie" if choice == "tie" else out["order"][choice]
                elif task.kind == "msb":
                    out["score"] = row["label"]["score"]
                fh.write(json.dumps(out, ensure_ascii=False) + "\n")
                n += 1
        return n

    # -- integrity --------------------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        """Recompute the label chain: ``ok``, ``n`` (rows checked), ``first_bad`` (its seq or None),
        ``problem``, ``head`` (the last good hash), and whether each unit's label count matches."""
        n, first_bad, problem, head = 0, None, None, chain.GENESIS
        after = -1
        while first_bad is None:
            with db.read_transaction(self.engine) as conn:
                rows = conn.execute(select(labels).where(labels.c.seq > after).order_by(labels.c.seq).limit(PAGE)
                                    ).mappings().all()
            checked, first_bad, problem, head = chain.check_rows(rows, start_seq=after + 1, prev=head)
            n += checked
            if len(rows) < PAGE:
                break
            after = int(rows[-1]["seq"])
        with db.read_transaction(self.engine) as conn:
            counted = dict(((t, u), int(c)) for t, u, c in conn.execute(
                select(labels.c.task_id, labels.c.unit_id, func.count()).where(labels.c.task_id != GOLD_TASK)
                .group_by(labels.c.task_id, labels.c.unit_id)).all())
            cached = {(t, u): int(c) for t, u, c in conn.execute(
                select(units.c.task_id, units.c.unit_id, units.c.n_labels).where(units.c.n_labels > 0)).all()}
        counts_ok = counted == cached
        if first_bad is None and not counts_ok:
            problem = "a unit's label count does not match its labels"
        return {"ok": first_bad is None and counts_ok, "n": n, "first_bad": first_bad, "problem": problem,
                "head": head, "counts_ok": counts_ok}

    # -- gold items -------------------------------------------------------------------------------

    def import_gold(self, rows: Sequence[Mapping[str, Any]] | Any, *, source: str = "gold rows") -> int:
        """Add gold items (id, specialty, question, options, gold, reasoning, answer, expected
        keep|reject, note, rubric, language); returns how many were new. Re-importing an item
        unchanged is a no-op; the same id with other content is a DataError."""
        clean = [gold_rows.validate(row, source, line) for line, row in gold_rows.numbered(rows)]
        new = 0
        with write_lock(self.engine) as conn:
            stored = dict(conn.execute(select(gold.c.id, gold.c.body)).all())
            base = int(conn.execute(select(func.coalesce(func.max(gold.c.ord), -1))).scalar_one()) + 1
            fresh = []
            for line, row in clean:
                body = canonical_json(row)
                if row["id"] in stored:
                    if stored[row["id"]] != body:
                        raise DataError(source, line, "id", f"gold item {row['id']!r} exists with other content")
                    continue
                stored[row["id"]] = body
                fresh.append({"id": row["id"], "ord": base + new, "specialty": row["specialty"],
                              "expected": row["expected"], "body": body, "imported_at": now_iso()})
                new += 1
            if fresh:
                conn.execute(insert(gold), fresh)
        return new

    def gold_for(self, rater: str, specialties: Collection[str]) -> GoldUnit | None:
        """The next gold item of ``specialties`` (any, when empty) that ``rater`` has not answered."""
        answered = exists().where(labels.c.task_id == GOLD_TASK, labels.c.unit_id == gold.c.id,
                                  labels.c.rater == rater)
        query = select(gold.c.body).where(~answered).order_by(gold.c.ord).limit(1)
        if specialties:
            query = query.where(gold.c.specialty.in_(list(specialties)))
        with db.read_transaction(self.engine) as conn:
            body = conn.execute(query).scalar()
        return None if body is None else gold_rows.as_unit(json.loads(body))

    def gold_unit(self, gold_id: str, rater: str) -> GoldUnit | None:
        """One gold item as ``rater`` sees it; None when unknown or already answered by them."""
        with db.read_transaction(self.engine) as conn:
            body = conn.execute(select(gold.c.body).where(gold.c.id == gold_id)).scalar()
            if body is None or self._labelled(conn, GOLD_TASK, gold_id, rater):
                return None
        return gold_rows.as_unit(json.loads(body))

    def record_gold(self, gold_id: str, rater: str, *, verdict: str, scores: Mapping[str, int],
                    seconds_spent: int) -> bool:
        """Chain ``rater``'s answer to a gold item; False when they answered it already."""
        _rater(rater)
        seconds = _seconds(seconds_spent)
        with write_lock(self.engine) as conn:
            body = conn.execute(select(gold.c.body).where(gold.c.id == gold_id)).scalar()
            if body is None:
                raise DataError("gold answer", None, "gold_id", f"no gold item {gold_id!r}")
            unit = gold_rows.as_unit(json.loads(body))
            label = gold_rows.answer(unit, verdict, scores)
            if self._labelled(conn, GOLD_TASK, gold_id, rater):
                return False
            self._append(conn, GOLD_TASK, gold_id, rater, label, seconds)
        return True

    def gold_accuracy(self) -> dict[str, dict[str, Any]]:
        """Per rater: gold items answered, how many matched the known verdict, the share and its
        Wilson 95% interval (see ``gold.correct`` for what counts as a match)."""
        with db.read_transaction(self.engine) as conn:
            rows = conn.execute(select(labels.c.rater, labels.c.label, gold.c.expected)
                                .join(gold, gold.c.id == labels.c.unit_id)
                                .where(labels.c.task_id == GOLD_TASK).order_by(labels.c.seq)).all()
        return gold_rows.accuracy((r.rater, json.loads(r.label)["verdict"], r.expected) for r in rows)
