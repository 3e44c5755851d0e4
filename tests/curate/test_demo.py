"""The demo ledger of ``safemed app --demo`` (curate.demo), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from safemed.curate.adjudicate import adjudication_queue
from safemed.curate.assign import open_assignments
from safemed.curate.demo import build_demo, demo_gold_units, read_demo_traces, sample_path
from safemed.curate.seeds import read_seeds
from safemed.curate.view import open_view
from safemed.datasets.extract import extract_answer
from safemed.errors import DataError
from safemed.ledger import Ledger
from safemed.ledger.keys import LedgerKeys

from .helpers import SPECIALTIES


def test_demo_counts_queues_and_verifies(db_url: str, keys: LedgerKeys) -> None:
    with Ledger.open(db_url, keys=keys) as ledger:
        counts = build_demo(ledger, keys, [("rev1", SPECIALTIES), ("rev2", SPECIALTIES)])
        assert counts["items"] == 12
        assert counts["reviewable"] == 11  # every seed but the escalated one has an accepted trace
        assert counts["escalated"] == 1
        assert counts["traces"] == counts["attempts"] == 17  # 10 first-time right, one 2nd try, 5 strikes
        assert counts["conflict_item"] == "card-002" and counts["reviews"] == 2
        assert counts["adjudication_queue"] == 2
        assert counts["assignments"] == 22  # 11 reviewable items x 2 reviewers
        assert counts["tree_size"] == ledger.size()
        with open_view(ledger) as view:
            queue = {e.item_id: e.reasons for e in adjudication_queue(view)}
            assert set(queue) == {"card-002", "endo-002"}
            assert "keep/reject conflict" in queue["card-002"]
            open_ = open_assignments(view)
            assert len(open_) == 20  # the newcomer's work: everything but the conflict item
            assert {a["reviewer"] for a in open_} == {keys.pseudonym("rev1"), keys.pseudonym("rev2")}
            conflict = view.state("card-002")
            assert conflict is not None and len(conflict.edits) == 1
            assert "acceptable alternative" in conflict.edits[0].before
            assert "acceptable alternative" not in conflict.edits[0].after  # the flawed step removed
        report = ledger.verify()
        assert report.ok and report.uncovered == 0  # every append ended with a signed checkpoint
        with pytest.raises(DataError, match="already in the ledger"):
            build_demo(ledger, keys, [("rev1", SPECIALTIES)])


def test_demo_with_one_reviewer_fills_the_conflict_with_colleagues(sqlite_url: str, keys: LedgerKeys) -> None:
    with Ledger.open(sqlite_url, keys=keys) as ledger:
        counts = build_demo(ledger, keys, [("solo@example.org", ["Cardiology"])])
        assert counts["conflict_item"] == "card-002" and counts["adjudication_queue"] == 2
        with open_view(ledger) as view:
            mine = open_assignments(view, keys.pseudonym("solo@example.org"))
            state = view.state("card-002")
        assert state is not None
        assert keys.pseudonym("solo@example.org") in {r.reviewer for r in state.reviews}
        # the other cardiology items with an accepted trace (card-001, -003, -004) wait for the newcomer
        assert sorted(a["item_id"] for a in mine) == ["card-001", "card-003", "card-004"]


def test_bundled_traces_cover_every_seed_and_say_what_they_answer() -> None:
    seeds = {item.id: item for item in read_seeds(sample_path("seeds.jsonl"))}
    traces = read_demo_traces()
    assert set(traces) == set(seeds)
    assert len(traces["endo-002"]) == 5 and all(a["answer"] != seeds["endo-002"].gold for a in traces["endo-002"])
    flawed = [item for item, rows in traces.items() if any("flaw" in r for r in rows)]
    assert len(flawed) >= 3
    for item_id, rows in traces.items():
        item = seeds[item_id]
        for row in rows:
            assert row["reasoning"].startswith("<think>") and "</think>" in row["reasoning"]
            said = extract_answer(row["reasoning"], "".join(sorted(item.options)), multi=len(item.gold) > 1)
            assert said == row["answer"], (item_id, row["attempt"])


def test_gold_units_are_well_formed() -> None:
    units = demo_gold_units()
    assert len(units) >= 4
    assert {u["expected"] for u in units} == {"keep", "reject"}
    for unit in units:
        assert set(unit) == {"id", "specialty", "question", "options", "gold", "reasoning", "answer", "expected",
                             "note"}
        assert unit["gold"] in unit["options"] and unit["answer"] in unit["options"]
        assert unit["note"].strip()
    assert len({u["id"] for u in units}) == len(units)
