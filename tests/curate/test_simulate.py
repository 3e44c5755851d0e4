"""Simulated clinicians (safemed.curate.simulate): deterministic, on the rubric's scale, labelled
SIMULATED everywhere, accepted by the real import paths, and an export of them says so."""

from __future__ import annotations

import json
from pathlib import Path

from safemed.curate.simulate import (
    SIMULATED_TAG,
    simulate_decisions,
    simulate_review,
    simulate_reviews,
    simulated_roster,
)

from .helpers import SEEDS, ScriptedGenerator, read_jsonl, run, through_assignment, write_jsonl

ROW = {"item_id": "card-001", "trace_id": "card-001#t1", "reviewer_id": "sim@simulated.invalid",
       "reasoning": "Step one.\nStep two.\nStep three.", "answer": "B",
       "scores": dict.fromkeys(["medical_correctness", "reasoning_structure", "information_sufficiency",
                                "terminology_language", "clinical_utility"])}


def test_review_is_seeded_on_scale_and_labelled() -> None:
    a = simulate_review(ROW, gold="B", seed=3)
    assert a == simulate_review(ROW, gold="B", seed=3)
    assert all(1 <= v <= 5 and isinstance(v, int) for v in a["scores"].values())
    assert a["comment"].startswith(SIMULATED_TAG) and a["reviewer_id"] == ROW["reviewer_id"]
    # a wrong answer scores lower on average than a right one (the stated model: 4.2 vs 2.4)
    rows = [dict(ROW, trace_id=f"t{i}") for i in range(200)]
    right = [sum(r["scores"].values()) / 5 for r in simulate_reviews(rows, {"card-001": "B"})]
    wrong = [sum(r["scores"].values()) / 5 for r in simulate_reviews(rows, {"card-001": "C"})]
    assert sum(right) / 200 > sum(wrong) / 200 + 1.0
    assert {r["verdict"] for r in simulate_reviews(rows, {"card-001": "C"})} == {"keep", "reject"}


def test_roster_and_panel_say_simulated() -> None:
    roster = simulated_roster(["cardiology", "medical ethics"], per_specialty=2)
    assert len(roster) == 4 and all(rid.endswith("@simulated.invalid") for rid, _ in roster)
    entries = [{"item_id": "a", "reasons": ["escalated: five strikes"], "reviews": []},
               {"item_id": "b", "reasons": ["scores differ"], "reviews": [{"scores": {"x": 5}}, {"scores": {"x": 4}}]},
               {"item_id": "c", "reasons": ["scores differ"], "reviews": [{"scores": {"x": 1}}, {"scores": {"x": 4}}]}]
    decisions = simulate_decisions(entries, ["p1"])
    assert [d["decision"] for d in decisions] == ["reject", "keep", "reject"]
    assert all(d["reason"].startswith(SIMULATED_TAG) for d in decisions)
    edited = simulate_decisions(entries, ["p1"], {"a": "Reference reasoning.", "b": "unused"})
    assert [d["decision"] for d in edited] == ["edit", "keep", "reject"]  # references only rewrite escalations
    assert edited[0]["edited_reasoning"] == "Reference reasoning." and edited[0]["reason"].startswith(SIMULATED_TAG)


def test_simulated_reviews_import_and_export_says_simulated(sqlite_url: str, key_file: Path, tmp_path: Path,
                                                            generator: ScriptedGenerator) -> None:
    queue = through_assignment(sqlite_url, tmp_path, generator)
    gold = {s["id"]: s["answer"] for s in read_jsonl(SEEDS)}
    reviews = write_jsonl(tmp_path / "reviews.jsonl", list(simulate_reviews(queue, gold)))
    out = run("import-reviews", "--db", sqlite_url, str(reviews))
    assert f"imported {len(queue)} reviews" in out
    run("adjudicate", "--db", sqlite_url, "--out", str(tmp_path / "adj.jsonl"))
    entries = read_jsonl(tmp_path / "adj.jsonl")
    if entries:
        decisions = write_jsonl(tmp_path / "decisions.jsonl", simulate_decisions(entries, ["panel@simulated.invalid"]))
        run("adjudicate", "--db", sqlite_url, "--decisions", str(decisions))
    run("retain", "--db", sqlite_url)
    run("export", "--db", sqlite_url, "--out", str(tmp_path / "sim"), "--simulated")
    run("export", "--db", sqlite_url, "--out", str(tmp_path / "real"))
    sim = json.loads((tmp_path / "sim" / "manifest.json").read_text())
    real = json.loads((tmp_path / "real" / "manifest.json").read_text())
    assert sim["config"]["simulated"] is True and "simulated" not in real["config"]
    assert "SIMULATED" in (tmp_path / "sim" / "datasheet.md").read_text()
    assert json.loads((tmp_path / "sim" / "datasheet.json").read_text())["safemed:simulated"] is True
    assert "SIMULATED" not in (tmp_path / "real" / "datasheet.md").read_text()
