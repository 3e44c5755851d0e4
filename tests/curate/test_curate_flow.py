"""The whole curation flow from the CLI on the bundled seeds, on SQLite and PostgreSQL: import →
dedup → generate (scripted stand-in: one item always wrong → five attempts → escalated) →
assign → blinded queue → reviews → adjudication → retention → agreement → export → status."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sqlalchemy import select

from safemed.curate.assign import next_assignment, queue_size
from safemed.curate.view import open_view
from safemed.ledger import Ledger, load_keys
from safemed.ledger.readmodel import load_states
from safemed.ledger.tables import cur_items
from safemed.records.curation import RUBRICS

from .helpers import (
    ALWAYS_WRONG,
    MODEL,
    SEEDS,
    WRONG_FIRST,
    ScriptedGenerator,
    fill,
    read_jsonl,
    run,
    write_jsonl,
    write_roster,
)

pytest.importorskip("safemed.curate.dedup")
pytest.importorskip("safemed.curate.contamination")


def _bench_with(tmp_path: Path, question: str) -> Path:
    """An evaluation set (generic MCQ file) that contains one of the seeds' questions."""
    return write_jsonl(tmp_path / "heldout.jsonl", [
        {"id": "heldout-1", "question": question, "options": {"A": "yes", "B": "no"}, "answer": "B"},
        {"id": "heldout-2", "question": "An unrelated question about renal physiology and the loop of Henle "
                                        "in a healthy adult volunteer at rest?", "options": {"A": "a", "B": "b"},
         "answer": "A"}])


def test_whole_flow(db_url: str, key_file: Path, tmp_path: Path, generator: ScriptedGenerator) -> None:
    db = ["--db", db_url]
    seeds = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines()]
    out = run("import", *db, str(SEEDS))
    assert "imported 12 items (item 10, ethics 2)" in out

    bench = _bench_with(tmp_path, next(s["question"] for s in seeds if s["id"] == "eth-002"))
    out = run("dedup", *db, "--data-dir", str(tmp_path), "--benchmark", f"mcq:{bench}",
              "--report", str(tmp_path / "dedup.json"))
    assert "new flags: 1 near duplicate, 1 contamination" in out
    report = json.loads((tmp_path / "dedup.json").read_text())
    assert report["near_duplicate_groups"] == [["card-001", "card-004"]]
    assert list(report["contamination"]["flagged"]) == ["eth-002"]
    assert "new flags: 0 near duplicate, 0 contamination" in run(
        "dedup", *db, "--data-dir", str(tmp_path), "--benchmark", f"mcq:{bench}")  # idempotent

    out = run("generate", *db, "--model", generator.spec, "--cache", str(tmp_path / "cache.sqlite"))
    assert "pending 10: correct first time 8, after re-asking 1, escalated 1" in out, out
    assert "skipped 2 flagged items" in out
    assert generator.asked[ALWAYS_WRONG] == 5 and generator.asked[WRONG_FIRST] == 2
    out = run("generate", *db, "--model", generator.spec, "--cache", str(tmp_path / "cache.sqlite"))
    assert "pending 0" in out and generator.asked[ALWAYS_WRONG] == 5  # resumable: nothing re-asked

    with Ledger.open(db_url) as led:
        state = led.item_state(ALWAYS_WRONG)
        assert [a.number for a in state.attempts] == [1, 2, 3, 4, 5] and not any(a.correct for a in state.attempts)
        assert state.status == "escalated" and state.escalations[0].failed_attempts == 5
        assert {t.model for t in state.traces} == {f"openai/{MODEL}"}
        assert state.traces[0].parameters["temperature"] == 0.0 and state.traces[1].parameters["temperature"] == 0.7

    roster = write_roster(tmp_path / "roster.csv")
    out = run("assign", *db, "--roster", str(roster))
    assert "assigned 18 reviews of 9 items" in out, out
    assert "assigned 0 reviews" in run("assign", *db, "--roster", str(roster))

    queue = tmp_path / "queue.jsonl"
    run("export-queue", *db, "--out", str(queue), "--roster", str(roster))
    rows = read_jsonl(queue)
    assert len(rows) == 18
    text = queue.read_text()
    assert MODEL not in text and "openai" not in text and "temperature" not in text  # blind to the generator
    assert all(set(r["scores"].values()) == {None} for r in rows)  # and to other reviewers
    by_item: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_item.setdefault(str(r["item_id"]), []).append(r)
    assert all(len({r["reviewer_id"] for r in rs}) == 2 for rs in by_item.values())
    specialties = {s["id"]: s["specialty"] for s in seeds}
    roster_specs = {(a, b) for a, b in (line.split(",") for line in roster.read_text().splitlines()[1:])}
    assert all((r["reviewer_id"], specialties[str(r["item_id"])]) in roster_specs for r in rows)
    assert by_item["eth-001"][0]["rubric"] == "ethics" and "ethical_soundness" in by_item["eth-001"][0]["scores"]
    keys = load_keys(key_file)
    first_reviewer = str(rows[0]["reviewer_id"])
    with Ledger.open(db_url) as led, open_view(led) as view:  # a reviewer's queue, from the read model
        mine = [r for r in rows if r["reviewer_id"] == first_reviewer]
        nxt = next_assignment(view, keys.pseudonym(first_reviewer))
        assert nxt is not None and (nxt["item_id"], nxt["trace_id"]) == (mine[0]["item_id"], mine[0]["trace_id"])
        assert queue_size(view, keys.pseudonym(first_reviewer)) == len(mine) and queue_size(view) == 18

    filled = []
    for item_id, pair in sorted(by_item.items()):
        first, second = pair
        if item_id == "card-002":  # 5 vs 2 on one dimension: the panel decides
            filled += [fill(first, 5), fill(second, 4, scores={"medical_correctness": 2})]
        elif item_id == "id-001":  # both low: below the rule
            filled += [fill(first, 2), fill(second, 3, scores={"clinical_utility": 2})]
        elif item_id == "endo-001":  # one reviewer edits the reasoning
            filled += [fill(first, 5, edited_reasoning="Empagliflozin (an SGLT2 inhibitor) reduces "
                                                         "cardiovascular events in ASCVD."), fill(second, 4)]
        else:
            filled += [fill(first, 4), fill(second, 5)]
    run("import-reviews", *db, str(write_jsonl(tmp_path / "reviews.jsonl", filled)))

    out = run("adjudicate", *db, "--out", str(tmp_path / "adj.jsonl"))
    queue_rows = read_jsonl(tmp_path / "adj.jsonl")
    assert [q["item_id"] for q in queue_rows] == ["card-002", ALWAYS_WRONG]
    assert "medical_correctness (3)" in queue_rows[0]["reasons"][0]
    assert queue_rows[1]["reasons"][0].startswith("escalated")
    decisions = write_jsonl(tmp_path / "decisions.jsonl", [
        {"item_id": "card-002", "decision": "keep", "reason": "the low score misread the ECG",
         "panel": ["prof.ng@example.org", "prof.oh@example.org"]},
        {"item_id": ALWAYS_WRONG, "decision": "edit", "reason": "reasoning rewritten to reach the gold answer",
         "panel": ["prof.ng@example.org"], "edited_reasoning": "Suppressed TSH, raised T4, diffuse goitre and "
                                                               "exophthalmos: Graves disease."}])
    assert "keep 1, edit 1, reject 0" in run("adjudicate", *db, "--decisions", str(decisions))

    out = run("retain", *db)
    assert "decided 10 items: 9 retained, 1 not retained" in out, out

    run("agreement", *db, "--json", str(tmp_path / "agreement.json"), "--n-boot", "200")
    agreement = json.loads((tmp_path / "agreement.json").read_text())
    with Ledger.open(db_url) as led, led.engine.connect() as conn:
        states = load_states(conn, conn.execute(select(cur_items.c.item_id)).scalars().all())
    clinical = [s for s in states.values() if s.item is not None and s.item.rubric == "clinical"
                and len(s.reviews) >= 2]
    reviewers = sorted({r.reviewer for s in clinical for r in s.reviews})
    for dim in RUBRICS["clinical"]:
        matrix = np.full((len(reviewers), len(clinical)), np.nan)
        for j, s in enumerate(clinical):
            for r in s.reviews:
                matrix[reviewers.index(r.reviewer), j] = r.scores.as_dict()[dim]
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal",
                                      value_domain=[1, 2, 3, 4, 5])
        row = next(a for a in agreement if a["dimension"] == dim and a["specialty"] == "all")
        assert row["alpha"] == pytest.approx(expected, abs=1e-4)
        assert row["traces"] == len(clinical)
    assert {a["specialty"] for a in agreement} >= {"all", "cardiology", "pediatrics", "medical ethics"}

    out_dir = tmp_path / "sft"
    run("export", *db, "--out", str(out_dir), "--format", "sft")
    rows = read_jsonl(out_dir / "sft.jsonl")
    with Ledger.open(db_url, keys=load_keys(key_file)) as led:
        size = led.size()
        root = led.root(size).hex()
        assert led.verify().ok
    prov = {r["provenance"]["item_id"]: r["provenance"] for r in rows}
    assert list(prov) == ["card-001", "card-002", "card-003", "endo-001", ALWAYS_WRONG, "id-002", "ped-001",
                          "ped-002", "eth-001"]
    for p in prov.values():
        assert p["ledger"]["root"] == root and p["ledger"]["tree_size"] == size
        assert len(p["review_ids"]) == 2 or p["item_id"] == ALWAYS_WRONG
    assert prov["endo-001"]["edit_count"] == 1
    assert prov[ALWAYS_WRONG]["adjudication_id"] is not None and prov[ALWAYS_WRONG]["edit_count"] == 1
    assert prov["card-002"]["adjudication"]["decision"] == "keep"
    endo = next(r for r in rows if r["provenance"]["item_id"] == "endo-001")
    assert endo["messages"][1]["content"].startswith("Empagliflozin (an SGLT2 inhibitor)")
    assert endo["messages"][1]["content"].endswith("Answer: B")
    graves = next(r for r in rows if r["provenance"]["item_id"] == ALWAYS_WRONG)
    graves_text = graves["messages"][1]["content"]
    assert graves_text.endswith("Answer: A") and "Graves disease." in graves_text
    zh = next(r for r in rows if r["provenance"]["item_id"] == "card-003")
    assert zh["messages"][1]["content"].endswith("答案：A")
    assert "id-001" not in prov
    with Ledger.open(db_url) as led:
        events = led.events_for_item("endo-001")
    assert sorted(e.seq for e in events) == prov["endo-001"]["event_seqs"]

    sheet = json.loads((out_dir / "datasheet.json").read_text())
    funnel = sheet["safemed:funnel"]
    assert funnel == {"imported": 12, "derived": 0, "flagged_near_duplicate": 1, "flagged_contamination": 1,
                      "deduplicated": 10, "generated": 10, "correct_trace": 9, "reviewed": 9, "escalated": 1,
                      "adjudicated": 2, "retained": 9, "rejected": 1}
    assert sheet["conformsTo"] == "http://mlcommons.org/croissant/1.0" and sheet["@type"] == "sc:Dataset"
    assert sheet["distribution"][0]["name"] == "sft.jsonl"
    assert "| retained | 9 |" in (out_dir / "datasheet.md").read_text()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["kind"] == "curated-dataset" and manifest["config"]["ledger"]["root"] == root
    assert {o["path"] for o in manifest["outputs"]} >= {"sft.jsonl", "datasheet.json", "datasheet.md"}

    run("export", *db, "--out", str(tmp_path / "grpo"), "--format", "grpo")
    grpo = read_jsonl(tmp_path / "grpo" / "grpo.jsonl")
    assert len(grpo) == 9 and {r["answer"] for r in grpo} >= {"B", "A"} and "Question" not in grpo[0]["prompt"]

    status = json.loads(run("status", *db, "--json"))
    assert status["funnel"]["retained"] == 9
    assert status["queues"] == {"awaiting_assignment": 0, "awaiting_review": 0, "awaiting_review_items": 0,
                                "awaiting_adjudication": 0, "escalated_awaiting_panel": 0}
