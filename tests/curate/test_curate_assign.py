"""Assignment: by specialty, never the same reviewer twice for an item, balanced, reproducible."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from safemed.curate.assign import Reviewer, plan_assignments, read_roster
from safemed.curate.view import CurationView
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.state import ItemState
from safemed.records.curation import Assignment, Attempt, Item, Trace

from .helpers import run, write_roster

KEYS = LedgerKeys.generate()


def _view(n: int, specialty: str = "cardiology") -> CurationView:
    view = CurationView(0)
    for i in range(n):
        state = ItemState(f"i{i}")
        state.item = Item(id=f"i{i}", question="Q?", options={"A": "a", "B": "b"}, gold="A", specialty=specialty,
                          source="s")
        state.traces.append(Trace(id=f"i{i}#t1", item_id=f"i{i}", model="m", reasoning="r", answer="A"))
        state.attempts.append(Attempt(item_id=f"i{i}", trace_id=f"i{i}#t1", number=1, answer="A", correct=True))
        view.states[state.item_id] = state
    return view


def _roster(names: dict[str, set[str]]) -> list[Reviewer]:
    return [Reviewer(n, KEYS.pseudonym(n), frozenset(s)) for n, s in names.items()]


def test_specialty_distinct_reviewers_and_balance() -> None:
    view = _view(30)
    roster = _roster({"a": {"cardiology"}, "b": {"cardiology"}, "c": {"cardiology", "pediatrics"},
                      "d": {"pediatrics"}})
    plan = plan_assignments(view, roster, per_item=2)
    assert len(plan.assignments) == 60 and not plan.short
    per_item: dict[str, list[str]] = {}
    for a in plan.assignments:
        per_item.setdefault(a.item_id, []).append(a.reviewer)
    assert all(len(set(rs)) == 2 for rs in per_item.values())
    load = Counter(a.reviewer for a in plan.assignments)
    assert KEYS.pseudonym("d") not in load and max(load.values()) - min(load.values()) <= 1
    assert plan == plan_assignments(view, roster, per_item=2)  # reproducible


def test_more_reviewers_later_never_repeats_one() -> None:
    view = _view(5)
    roster = _roster({n: {"cardiology"} for n in "abc"})
    for a in plan_assignments(view, roster, per_item=2).assignments:
        view.states[a.item_id].assignments.append(a)
    third = plan_assignments(view, roster, per_item=3)
    assert len(third.assignments) == 5
    for a in third.assignments:
        earlier = {x.reviewer for x in view.states[a.item_id].assignments}
        assert a.reviewer not in earlier and a.round == 3
    assert plan_assignments(view, roster, per_item=4).short == {f"i{i}": 1 for i in range(5)}
    short = plan_assignments(_view(2, "nephrology"), roster, per_item=2)
    assert short.assignments == [] and short.short == {"i0": 2, "i1": 2}


def test_escalated_and_untraced_items_are_not_assigned() -> None:
    view = _view(2)
    view.states["i1"].attempts[0] = Attempt(item_id="i1", trace_id="i1#t1", number=1, answer="B", correct=False)
    plan = plan_assignments(view, _roster({"a": {"Cardiology "}, "b": {"cardiology"}}), per_item=2)
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
