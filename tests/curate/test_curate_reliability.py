"""Ten processes importing reviews at once lose nothing and leave a tree that verifies; a process
killed mid-import leaves the ledger as before the import. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest

from safemed.ledger import Ledger, load_keys
from safemed.records.curation import Assignment, Attempt, Item, Trace, event_for

from .helpers import write_jsonl
from .workers import import_reviews_or_exit, import_reviews_worker

WRITERS, ITEMS = 10, 20
REPO = Path(__file__).resolve().parents[2]
SCORES = {"medical_correctness": 4, "reasoning_structure": 4, "information_sufficiency": 3,
          "terminology_language": 5, "clinical_utility": 4}


def test_ten_concurrent_review_imports_lose_nothing(db_url: str, key_file: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    monkeypatch.syspath_prepend(str(REPO))
    keys = load_keys(key_file)
    ids = [f"dr.{w}@example.org" for w in range(WRITERS)]
    records: list[object] = []
    for i in range(ITEMS):
        item_id = f"item-{i:03d}"
        records += [Item(id=item_id, question=f"Question {i}?", options={"A": "a", "B": "b"}, gold="A",
                         specialty="cardiology", source="test"),
                    Trace(id=f"{item_id}#t1", item_id=item_id, model="m", reasoning=f"Because {i}.", answer="A"),
                    Attempt(item_id=item_id, trace_id=f"{item_id}#t1", number=1, answer="A", correct=True)]
        records += [Assignment(item_id=item_id, trace_id=f"{item_id}#t1", reviewer=keys.pseudonym(who),
                               specialty="cardiology", round=n + 1) for n, who in enumerate(ids)]
    with Ledger.open(db_url, keys=keys) as ledger:
        ledger.append(event_for(r, actor="system") for r in records)  # type: ignore[arg-type]
        ledger.checkpoint()
        base = ledger.size()
    files = [write_jsonl(tmp_path / f"reviews-{w}.jsonl", [
        {"item_id": f"item-{i:03d}", "trace_id": f"item-{i:03d}#t1", "reviewer_id": who, "scores": SCORES,
         "seconds_spent": 60, "edited_reasoning": f"Edited by {w}." if i % 5 == 0 else None}
        for i in range(ITEMS)]) for w, who in enumerate(ids)]

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=import_reviews_worker, args=(db_url, str(f), str(key_file), barrier))
             for f in files]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    edits = WRITERS * (ITEMS // 5)
    with Ledger.open(db_url, keys=keys) as ledger:
        assert ledger.size() == base + WRITERS * ITEMS + edits
        assert [row.seq for row in ledger.iter_events()] == list(range(ledger.size()))
        for i in range(ITEMS):
            state = ledger.item_state(f"item-{i:03d}")
            assert sorted(r.reviewer for r in state.reviews) == sorted(keys.pseudonym(w) for w in ids)
        ledger.checkpoint()
        report = ledger.verify()
        assert report.ok, report.lines()


def test_the_same_review_imported_twice_at_once_is_stored_once(db_url: str, key_file: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks hold under concurrency: each import is validated against the very ledger state it is
    appended to, so "never the same reviewer twice" cannot be raced."""
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    monkeypatch.syspath_prepend(str(REPO))
    keys = load_keys(key_file)
    who = "dr.same@example.org"
    records: list[object] = [
        Item(id="item-x", question="Question?", options={"A": "a", "B": "b"}, gold="A", specialty="cardiology",
             source="test"),
        Trace(id="item-x#t1", item_id="item-x", model="m", reasoning="Because.", answer="A"),
        Assignment(item_id="item-x", trace_id="item-x#t1", reviewer=keys.pseudonym(who), specialty="cardiology",
                   round=1)]
    with Ledger.open(db_url, keys=keys) as ledger:
        ledger.append(event_for(r, actor="system") for r in records)  # type: ignore[arg-type]
    review = write_jsonl(tmp_path / "review.jsonl", [{"item_id": "item-x", "trace_id": "item-x#t1",
                                                      "reviewer_id": who, "scores": SCORES}])
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=import_reviews_or_exit, args=(db_url, str(review), str(key_file), barrier))
             for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert sorted(p.exitcode for p in procs) == [0, 3, 3, 3]
    with Ledger.open(db_url, keys=keys) as ledger:
        assert len(ledger.item_state("item-x").reviews) == 1


def test_sigkill_mid_import_leaves_ledger_unchanged(db_url: str, key_file: Path, tmp_path: Path,
                                                    kill_mid_import: Callable[[list[str], str, int], None]) -> None:
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        ledger.append([event_for(Item(id="before", question="Q?", options={"A": "a", "B": "b"}, gold="A",
                                      specialty="s", source="s"), actor="system")])
        before = ledger.checkpoint()
    seeds = write_jsonl(tmp_path / "big.jsonl", [
        {"id": f"big-{i:05d}", "question": f"Generated question {i}?", "options": {"A": "x", "B": "y"},
         "answer": "A", "specialty": "cardiology"} for i in range(3000)])
    kill_mid_import(["tests.curate.workers", db_url, str(seeds), "2500"], db_url, before.tree_size)
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        assert ledger.size() == before.tree_size and ledger.root() == before.root_hash
        assert ledger.seqs_for_item("big-00000") == []
        assert ledger.verify().ok
    assert json.loads(seeds.read_text().splitlines()[0])["id"] == "big-00000"
