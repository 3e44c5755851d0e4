"""Bulk review import: validated row by row, one transaction; a bad row names line and field and
nothing is written; reviewer ids are pseudonymised before anything reaches the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safemed.ledger import Ledger, load_keys

from .helpers import ScriptedGenerator, fill, run, through_assignment, write_jsonl


@pytest.fixture
def queue(sqlite_url: str, key_file: Path, tmp_path: Path, generator: ScriptedGenerator) -> list[dict[str, object]]:
    return through_assignment(sqlite_url, tmp_path, generator)


def _size(url: str) -> int:
    with Ledger.open(url) as led:
        return led.size()


@pytest.mark.parametrize(("change", "line", "field", "problem"), [
    (lambda r: r["scores"].update(medical_correctness=7), 3, "scores.medical_correctness", "7 is not an integer"),
    (lambda r: r.update(trace_id="no-such-trace"), 3, "trace_id", "unknown trace 'no-such-trace'"),
    (lambda r: r.update(reviewer_id="dr.nobody@example.org"), 3, "reviewer_id", "not assigned"),
    (lambda r: r["scores"].pop("clinical_utility"), 3, "scores.clinical_utility", "missing"),
    (lambda r: r.update(verdict="maybe"), 3, "verdict", ""),
    (lambda r: r.update(score=3), 3, "score", "unknown field"),
])
def test_bad_review_row_is_an_error_and_nothing_is_written(queue: list[dict[str, object]], sqlite_url: str,
                                                           tmp_path: Path, change: object, line: int, field: str,
                                                           problem: str) -> None:
    rows = [fill(r) for r in queue[:4]]
    change(rows[2])  # type: ignore[operator]
    before = _size(sqlite_url)
    path = write_jsonl(tmp_path / "reviews.jsonl", rows)
    out = run("import-reviews", "--db", sqlite_url, str(path), ok=False)
    assert f"{path}:{line}: field '{field}':" in out and problem in out, out
    assert _size(sqlite_url) == before


def test_duplicate_review_and_closed_item_are_refused(queue: list[dict[str, object]], sqlite_url: str,
                                                      tmp_path: Path) -> None:
    rows = [fill(queue[0]), fill(queue[0], 3)]
    out = run("import-reviews", "--db", sqlite_url, str(write_jsonl(tmp_path / "a.jsonl", rows)), ok=False)
    assert ":2: field 'reviewer_id': this reviewer has already reviewed" in out
    run("import-reviews", "--db", sqlite_url, str(write_jsonl(tmp_path / "b.jsonl", rows[:1])))
    out = run("import-reviews", "--db", sqlite_url, str(write_jsonl(tmp_path / "c.jsonl", rows[:1])), ok=False)
    assert "already reviewed" in out


def test_reviewers_are_pseudonymised_and_edits_recorded(queue: list[dict[str, object]], sqlite_url: str,
                                                        key_file: Path, tmp_path: Path) -> None:
    row = fill(queue[0], edited_reasoning="A corrected explanation.")
    out = run("import-reviews", "--db", sqlite_url, str(write_jsonl(tmp_path / "r.jsonl", [row])))
    assert "imported 1 reviews and 1 edits" in out
    keys = load_keys(key_file)
    with Ledger.open(sqlite_url) as led:
        texts = [e.canonical for e in led.iter_events()]
        state = led.item_state(str(row["item_id"]))
    assert not any(str(row["reviewer_id"]) in text for text in texts)
    assert state.reviews[0].reviewer == keys.pseudonym(str(row["reviewer_id"]))
    assert state.edits[0].editor == state.reviews[0].reviewer and state.edits[0].after == "A corrected explanation."
    assert state.edits[0].before == state.latest_trace.reasoning  # type: ignore[union-attr]
    assert state.current_reasoning == "A corrected explanation."


def test_ethics_items_use_their_own_rubric(queue: list[dict[str, object]], sqlite_url: str, tmp_path: Path) -> None:
    ethics = next(r for r in queue if r["item_id"] == "eth-001")
    wrong = fill(ethics)
    wrong["scores"] = {"medical_correctness": 4, "reasoning_structure": 4, "information_sufficiency": 4,
                       "terminology_language": 4, "clinical_utility": 4}
    out = run("import-reviews", "--db", sqlite_url, str(write_jsonl(tmp_path / "e.jsonl", [wrong])), ok=False)
    assert "field 'scores.clinical_utility': not a dimension of the ethics rubric" in out
    run("import-reviews", "--db", sqlite_url, str(write_jsonl(tmp_path / "f.jsonl", [fill(ethics, 5)])))
    with Ledger.open(sqlite_url) as led:
        review = led.item_state("eth-001").reviews[0]
    assert review.rubric == "ethics" and review.scores.as_dict()["harm_avoidance"] == 5


def test_a_queue_exported_with_pseudonyms_imports_back(queue: list[dict[str, object]], sqlite_url: str,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "pseudonymous.jsonl"
    run("export-queue", "--db", sqlite_url, "--out", str(out))  # no --roster: rows name the pseudonym
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all("reviewer" in r and "reviewer_id" not in r for r in rows)
    path = write_jsonl(tmp_path / "filled.jsonl", [fill(r) for r in rows[:3]])
    assert "imported 3 reviews" in run("import-reviews", "--db", sqlite_url, str(path))
