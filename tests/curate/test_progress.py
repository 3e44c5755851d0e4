"""Admin numbers (curate.progress) and the integrity panel (curate.integrity) on real ledgers."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from safemed.curate.assign import AssignmentPlan, Reviewer, iter_assignments
from safemed.curate.demo import build_demo
from safemed.curate.integrity import latest_checkpoint, verify_now
from safemed.curate.progress import reviewer_progress, specialty_progress
from safemed.curate.view import append_consistent, open_view
from safemed.curate.workbench import review_page, reviewer_queue, submit
from safemed.ledger import Ledger, db
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.tables import cur_items, events
from safemed.records.curation import RUBRIC_DIMENSIONS, event_for

from .helpers import SPECIALTIES as ALL


def test_specialty_progress(db_url: str, keys: LedgerKeys) -> None:
    with Ledger.open(db_url, keys=keys) as ledger:
        build_demo(ledger, keys, [("rev1", ALL), ("rev2", ALL)])
        with open_view(ledger) as view:
            rows = {r["specialty"]: r for r in specialty_progress(view)}
    assert list(rows) == ["cardiology", "endocrinology", "infectious disease", "medical ethics", "pediatrics"]
    assert rows["cardiology"] == {"specialty": "cardiology", "items": 4, "with_trace": 4, "assigned": 4,
                                  "reviewed": 1, "open_assignments": 6, "escalated": 0, "adjudicated": 0,
                                  "retained": 0, "rejected": 0}
    assert rows["endocrinology"]["escalated"] == 1 and rows["endocrinology"]["with_trace"] == 1
    assert sum(r["items"] for r in rows.values()) == 12


def _review_everything(ledger: Ledger, keys: LedgerKeys, name: str, score: int, seconds: int,
                       verdict: str = "accept") -> int:
    who = keys.pseudonym(name)
    n = 0
    while True:
        with open_view(ledger) as view:
            slots = [s for s in reviewer_queue(view, who, ALL, limit=50) if s.assigned]
        if not slots:
            return n
        for slot in slots:
            with open_view(ledger) as view:
                page = review_page(view, slot)
            dims = page.dimensions
            graded = {d: score if i % 2 == 0 else min(5, score + (slot.order % 2)) for i, d in enumerate(dims)}
            submit(ledger, keys, slot.key, who, ALL, scores=graded, verdict=verdict, comment="",  # type: ignore[arg-type]
                   edited_reasoning=page.reasoning + "\nEdited." if verdict == "fix" else None, seconds_spent=seconds)
            n += 1


def test_reviewer_progress_counts_and_alpha(sqlite_url: str, keys: LedgerKeys) -> None:
    with Ledger.open(sqlite_url, keys=keys) as ledger:
        build_demo(ledger, keys, [("rev1", ALL), ("rev2", ALL)])
        with open_view(ledger) as view:
            before = {r["pseudonym"]: r for r in reviewer_progress(view)}
        rev1, rev2 = keys.pseudonym("rev1"), keys.pseudonym("rev2")
        assert before[rev1]["open"] == 10 and before[rev1]["reviews"] == 1
        assert before[rev1]["alpha"]["medical_correctness"] is None  # one shared trace: no α yet
        assert _review_everything(ledger, keys, "rev1", 4, 100) == 10
        assert _review_everything(ledger, keys, "rev2", 4, 300, verdict="fix") == 10
        with open_view(ledger) as view:
            rows = {r["pseudonym"]: r for r in reviewer_progress(view, n_boot=50)}
            sampled = {r["pseudonym"]: r for r in reviewer_progress(view, n_boot=50, sample=3)}
    one, two = rows[rev1], rows[rev2]
    assert one["reviews"] == two["reviews"] == 11 and one["open"] == two["open"] == 0
    assert one["specialties"] == sorted(ALL)
    assert one["median_seconds"] == 100 and two["median_seconds"] == 300
    # rev2 also rejected (and edited) the demo's conflict item
    assert (one["edits"], one["rejects"], two["edits"], two["rejects"]) == (0, 0, 11, 1)
    assert one["shared_traces"] == two["shared_traces"] == 11  # every reviewed trace has the other's review
    for dim in RUBRIC_DIMENSIONS:
        assert one["alpha"][dim] is not None and -1.0 <= one["alpha"][dim] <= 1.0
        assert one["alpha"][dim] == two["alpha"][dim]  # two reviewers: the same units from either side
    assert sampled[rev1]["sampled"] == 3 and sampled[rev1]["reviews"] == 11
    with Ledger.open(sqlite_url, keys=keys) as ledger, open_view(ledger) as view:
        quick = {r["pseudonym"]: r for r in reviewer_progress(view, n_boot=0)}
    assert quick[rev1]["alpha"] == one["alpha"] and quick[rev1]["alpha_ci"]["clinical_utility"] == [None, None]


def test_reviewer_progress_matches_a_hand_computed_alpha(sqlite_url: str, keys: LedgerKeys) -> None:
    """Three traces reviewed by two reviewers with known scores: α equals the textbook value."""
    from safemed.stats.agreement import krippendorff_alpha

    with Ledger.open(sqlite_url, keys=keys) as ledger:
        build_demo(ledger, keys, [])
        pair = [Reviewer(n, keys.pseudonym(n), frozenset({"pediatrics", "infectious disease"})) for n in ("a", "b")]
        append_consistent(ledger, lambda v: [event_for(x, actor="system")
                                             for x in iter_assignments(v, pair, AssignmentPlan())])
        given = {"a": [5, 4, 2, 3], "b": [4, 4, 1, 3]}
        for name, values in given.items():
            who = keys.pseudonym(name)
            with open_view(ledger) as view:
                slots = [s for s in reviewer_queue(view, who, ALL) if s.assigned]
            assert len(slots) == 4
            for slot, value in zip(slots, values, strict=True):
                submit(ledger, keys, slot.key, who, ALL, scores=dict.fromkeys(RUBRIC_DIMENSIONS, value),
                       verdict="accept", comment="", edited_reasoning=None, seconds_spent=10)
        with open_view(ledger) as view:
            rows = {r["pseudonym"]: r for r in reviewer_progress(view, n_boot=20)}
    expected = krippendorff_alpha([given["a"], given["b"]], "ordinal", value_domain=[1, 2, 3, 4, 5])
    assert rows[keys.pseudonym("a")]["alpha"]["clinical_utility"] == pytest.approx(expected, abs=1e-4)


def test_integrity_reports_checkpoint_and_tampering(db_url: str, keys: LedgerKeys) -> None:
    with Ledger.open(db_url, keys=keys) as ledger:
        build_demo(ledger, keys, [("rev1", ALL)])
        cp = latest_checkpoint(ledger)
        assert cp is not None and cp["signed"] and cp["unsigned_events"] == 0
        assert cp["tree_size"] == ledger.size() and len(cp["root_hash"]) == 64
        ok = verify_now(ledger)
        assert ok["ok"] and ok["problems"] == [] and ok["read_model_ok"] is True and ok["tree_size"] == ledger.size()
        # a read-model row edited behind the ledger's back: the events verify, the read model does not
        with db.write_transaction(ledger.engine) as conn:
            conn.execute(update(cur_items).where(cur_items.c.item_id == "card-001").values(n_reviews=7))
        drift = verify_now(ledger)
        assert not drift["ok"] and drift["read_model_ok"] is False and "card-001" in drift["problems"][0]
        # an event's text changed: the hash chain fails, the read model is not compared
        with db.write_transaction(ledger.engine) as conn:
            text = conn.execute(events.select().where(events.c.seq == 3)).mappings().one()["canonical"]
            doc = json.loads(text)
            doc["actor"] = "mallory"
            conn.execute(update(events).where(events.c.seq == 3).values(canonical=json.dumps(doc)))
        bad = verify_now(ledger)
        assert not bad["ok"] and bad["read_model_ok"] is None and any("event 3" in p for p in bad["problems"])
    with Ledger.open(db_url) as fresh:
        assert fresh.size() > 0


def test_latest_checkpoint_none_before_the_first(sqlite_url: str) -> None:
    with Ledger.open(sqlite_url) as ledger:
        assert latest_checkpoint(ledger) is None
