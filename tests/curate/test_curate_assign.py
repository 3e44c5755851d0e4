"""Assignment: by specialty, never the same reviewer twice for an item, balanced, reproducible."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from safemed.curate.assign import AssignmentPlan, Reviewer, plan_assignments, read_roster
from safemed.curate.view import CurationView, open_view
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.store import Ledger
from safemed.records.curation import Assignment, Attempt, CurationRecord, Item, Trace, event_for

from .helpers import run, write_roster

KEYS = LedgerKeys.generate()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(str(tmp_path / "assign.db")) as led:
        yield led


def _add_items(ledger: Ledger, n: int, specialty: str = "cardiology", wrong: frozenset[int] = frozenset(),
               prefix: str = "i") -> None:
    records: list[CurationRecord] = []
    for i in range(n):
        item_id = f"{prefix}{i}"
        answer = "B" if i in wrong else "A"
        records += [Item(id=item_id, question="Q?", options={"A": "a", "B": "b"}, gold="A", specialty=specialty,
                         source="s"),
                    Trace(id=f"{item_id}#t1", item_id=item_id, model="m", reasoning="r", answer=answer),
                    Attempt(item_id=item_id, trace_id=f"{item_id}#t1", number=1, answer=answer, correct=answer == "A")]
    ledger.append(event_for(r, actor="system") for r in records)


@contextmanager
def _view(ledger: Ledger) -> Iterator[CurationView]:
    with open_view(ledger) as view:
        yield view


def _plan(ledger: Ledger, roster: list[Reviewer], per_item: int) -> AssignmentPlan:
    with _view(ledger) as view:
        return plan_assignments(view, roster, per_item=per_item)


def _roster(names: dict[str, set[str]]) -> list[Reviewer]:
    return [Reviewer(n, KEYS.pseudonym(n), frozenset(s)) for n, s in names.items()]


def test_specialty_distinct_reviewers_and_balance(ledger: Ledger) -> None:
    _add_items(ledger, 30)
    roster = _roster({"a": {"cardiology"}, "b": {"cardiology"}, "c": {"cardiology", "pediatrics"},
                      "d": {"pediatrics"}})
    plan = _plan(ledger, roster, per_item=2)
    assert len(plan.assignments) == 60 and not plan.short
    per_item: dict[str, list[str]] = {}
    for a in plan.assignments:
        per_item.setdefault(a.item_id, []).append(a.reviewer)
    assert all(len(set(rs)) == 2 for rs in per_item.values())
    load = Counter(a.reviewer for a in plan.assignments)
    assert KEYS.pseudonym("d") not in load and max(load.values()) - min(load.values()) <= 1
    assert plan == _plan(ledger, roster, per_item=2)  # reproducible


def test_more_reviewers_later_never_repeats_one(ledger: Ledger) -> None:
    _add_items(ledger, 5)
    roster = _roster({n: {"cardiology"} for n in "abc"})
    first = _plan(ledger, roster, per_item=2).assignments
    ledger.append(event_for(a, actor="system") for a in first)
    third = _plan(ledger, roster, per_item=3)
    assert len(third.assignments) == 5
    for a in third.assignments:
        earlier = {x.reviewer for x in first if x.item_id == a.item_id}
        assert a.reviewer not in earlier and a.round == 3
    assert _plan(ledger, roster, per_item=4).short == {f"i{i}": 1 for i in range(5)}
    _add_items(ledger, 2, "nephrology", prefix="n")
    short = _plan(ledger, roster, per_item=2)
    assert short.assignments == [] and short.short == {"n0": 2, "n1": 2} and short.n_short == 2


def test_escalated_and_untraced_items_are_not_assigned(ledger: Ledger) -> None:
    _add_items(ledger, 2, wrong=frozenset({1}))
    plan = _plan(ledger, _roster({"a": {"Cardiology "}, "b": {"cardiology"}}), per_item=2)
    assert {a.item_id for a in plan.assignments} == {"i0"}
    assert all(isinstance(a, Assignment) for a in plan.assignments)


def test_roster_errors_name_line_and_field(tmp_path: Path, key_file: Path) -> None:
    path = write_roster(tmp_path / "r.csv", [("dr.a@example.org", "cardiology"), ("", "cardiology")])
    out = run("assign", "--db", str(tmp_path / "x.db"), "--roster", str(path), ok=False)
    assert f"{path}:3: field 'reviewer_id': missing or empty" in out
    path.write_text("name,specialty\nx,y\n")
    assert "field 'reviewer_id': missing column" in run("assign", "--db", str(tmp_path / "x.db"), "--roster",
                                                       str(path), ok=False)
    assert [r.specialties for r in read_roster(write_roster(tmp_path / "ok.csv", [("a", "Cardiology"), ("a", "ICU")]),
                                                KEYS)] == [frozenset({"cardiology", "icu"})]
