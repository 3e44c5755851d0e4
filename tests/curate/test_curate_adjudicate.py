"""Adjudication queue contents, decision validation, and the retention rule."""

from __future__ import annotations

from pathlib import Path

from safemed.curate.retain import RetentionRule, decide
from safemed.ledger import Ledger

from .helpers import ALWAYS_WRONG, ScriptedGenerator, fill, read_jsonl, run, through_assignment, write_jsonl


def _pairs(queue: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for row in queue:
        out.setdefault(str(row["item_id"]), []).append(row)
    return out


def test_queue_decisions_and_rule(sqlite_url: str, key_file: Path, tmp_path: Path,
                                  generator: ScriptedGenerator) -> None:
    db = ["--db", sqlite_url]
    pairs = _pairs(through_assignment(sqlite_url, tmp_path, generator))
    a, b = pairs["card-001"]
    c, d = pairs["endo-001"]
    e, f = pairs["ped-001"]
    g, h = pairs["id-002"]
    rows = [fill(a, 4), fill(b, 3, scores={"clinical_utility": 5}),       # 1 apart: no panel needed
            fill(c, 4), fill(d, 4, verdict="reject"),                     # keep/reject conflict
            fill(e, 4, edited_reasoning="Edit one."), fill(f, 4, edited_reasoning="Edit two."),  # two edits
            fill(g, 4), fill(h, 2, scores={"terminology_language": 4})]   # 2 apart on four dimensions
    run("import-reviews", *db, str(write_jsonl(tmp_path / "r.jsonl", rows)))
    run("adjudicate", *db, "--out", str(tmp_path / "q.jsonl"))
    queue = {q["item_id"]: q for q in read_jsonl(tmp_path / "q.jsonl")}
    assert list(queue) == ["endo-001", ALWAYS_WRONG, "id-002", "ped-001"]
    assert queue["endo-001"]["reasons"] == ["keep/reject conflict"]
    assert queue["ped-001"]["reasons"] == ["2 different edits of the reasoning"]
    assert queue["id-002"]["reasons"] == ["scores more than 1 apart on medical_correctness (2), reasoning_structure "
                                          "(2), information_sufficiency (2), clinical_utility (2)"]
    assert queue[ALWAYS_WRONG]["failed_attempts"] == 5 and queue[ALWAYS_WRONG]["trace_answer"] != "A"
    assert [r["scores"]["medical_correctness"] for r in queue["id-002"]["reviews"]] == [4, 2]
    assert "id-002" not in run("adjudicate", *db, "--max-spread", "2")

    bad = [({"item_id": "card-001", "decision": "keep", "reason": "r", "panel": ["x"]}, "item_id",
            "is not awaiting adjudication"),
           ({"item_id": ALWAYS_WRONG, "decision": "keep", "reason": "r", "panel": ["x"]}, "decision",
            "edit it or reject it"),
           ({"item_id": "ped-001", "decision": "edit", "reason": "r", "panel": ["x"]}, "edited_reasoning", "needs"),
           ({"item_id": "ped-001", "decision": "keep", "reason": "", "panel": ["x"]}, "reason", "say why"),
           ({"item_id": "ped-001", "decision": "keep", "reason": "r", "panel": []}, "panel", "non-empty")]
    with Ledger.open(sqlite_url) as led:
        size = led.size()
    for row, field, problem in bad:
        path = write_jsonl(tmp_path / "d.jsonl", [{"item_id": "endo-001", "decision": "reject", "reason": "wrong",
                                                   "panel": ["prof.x"]}, row])
        out = run("adjudicate", *db, "--decisions", str(path), ok=False)
        assert f"{path}:2: field '{field}':" in out and problem in out, out
    with Ledger.open(sqlite_url) as led:
        assert led.size() == size

    decisions = write_jsonl(tmp_path / "ok.jsonl", [
        {"item_id": "endo-001", "decision": "reject", "reason": "not ASCVD-relevant", "panel": ["prof.x"]},
        {"item_id": "ped-001", "decision": "edit", "reason": "merged", "panel": ["prof.x", "prof.y"],
         "edited_reasoning": "Merged edit."}])
    run("adjudicate", *db, "--decisions", str(decisions))
    out = run("retain", *db, "--threshold", "terminology_language=4.5")
    # card-001: mean terminology 3.5 < 4.5 → not retained; endo-001 rejected; ped-001 kept by the panel
    assert "decided 3 items: 1 retained, 2 not retained" in out
    with Ledger.open(sqlite_url) as led:
        card = led.item_state("card-001")
        ped = led.item_state("ped-001")
    assert card.retention is not None and "terminology_language 3.50 < 4.5" in card.retention.reason
    assert ped.retention is not None and ped.retention.retained and ped.current_reasoning == "Merged edit."
    assert "would decide 0 items" in run("retain", *db, "--dry-run")


def test_rule_defaults_and_pending() -> None:
    from safemed.ledger.state import ItemState
    from safemed.records.curation import Item, Review, RubricScores

    state = ItemState("i")
    state.item = Item(id="i", question="Q", options={"A": "a", "B": "b"}, gold="A", specialty="s", source="s")
    rule = RetentionRule()
    assert decide(state, rule) is None  # no reviews yet: pending

    def review(n: int, score: int) -> Review:
        return Review(id=f"r{n}", item_id="i", trace_id="t", reviewer="p-" + f"{n:02d}" * 16, specialty="s",
                      scores=RubricScores(**dict.fromkeys(("medical_correctness", "reasoning_structure",
                                                          "information_sufficiency", "terminology_language",
                                                          "clinical_utility"), score)), seconds_spent=1)
    state.reviews = [review(1, 3), review(2, 3)]
    decision = decide(state, rule)
    assert decision is not None and decision.retained  # ≥ 3 everywhere
    state.reviews = [review(1, 3), review(2, 2)]
    decision = decide(state, rule)
    assert decision is not None and not decision.retained and "2.50 < 3" in decision.reason
    assert decide(state, RetentionRule(min_score=2.5)) is not None
    assert decide(state, RetentionRule(min_reviews=3)) is None
