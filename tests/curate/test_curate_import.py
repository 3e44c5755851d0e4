"""Seed import: one transaction; a bad row is an error naming line and field, nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safemed.ledger import Ledger

from .helpers import SEEDS, run, seed_rows, write_jsonl


def _size(url: str) -> int:
    with Ledger.open(url) as led:
        return led.size()


@pytest.mark.parametrize(("change", "field", "problem"), [
    ({"answer": "E"}, "answer", "names options not present: E"),
    ({"options": {"A": "only one"}}, "options", "must be an object"),
    ({"specialty": None, "subject": None}, "specialty", "missing"),
    ({"question": ""}, "question", "missing or empty"),
    ({"kind": "ethics"}, "dimension", "needs a dimension"),
    ({"kind": "ethics", "dimension": "medication_safety"}, "dimension", "unknown ethics dimension"),
    ({"kind": "folklore"}, "kind", ""),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_seed_row_names_line_and_field(sqlite_url: str, tmp_path: Path, change: dict[str, object], field: str,
                                           problem: str) -> None:
    rows = seed_rows()
    rows[4] = {k: v for k, v in {**rows[4], **change}.items() if v is not None}
    path = write_jsonl(tmp_path / "seeds.jsonl", rows)
    out = run("import", "--db", sqlite_url, str(path), ok=False)
    assert f"{path}:5: field '{field}':" in out and problem in out, out
    assert _size(sqlite_url) == 0


def test_invalid_json_and_duplicates(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text(SEEDS.read_text(encoding="utf-8") + "{not json\n", encoding="utf-8")
    assert f"{path}:13: invalid JSON" in run("import", "--db", sqlite_url, str(path), ok=False)
    rows = seed_rows()
    path = write_jsonl(tmp_path / "dup.jsonl", [*rows, rows[0]])
    assert "13: field 'id': duplicate id 'card-001' (first on line 1)" in run("import", "--db", sqlite_url, str(path),
                                                                               ok=False)
    run("import", "--db", sqlite_url, str(SEEDS))
    size = _size(sqlite_url)
    out = run("import", "--db", sqlite_url, str(SEEDS), ok=False)
    assert f"{SEEDS}:1: field 'id': item 'card-001' is already in the ledger" in out
    assert _size(sqlite_url) == size == 12


def test_items_carry_kind_dimension_language(sqlite_url: str) -> None:
    run("import", "--db", sqlite_url, str(SEEDS))
    with Ledger.open(sqlite_url) as led:
        eth = led.item_state("eth-001").item
        zh = led.item_state("card-003").item
        tb = led.item_state("id-002").item
        card = json.loads(next(e.canonical for e in led.iter_events() if e.item_id == "card-001"))
    assert eth is not None and eth.kind == "ethics" and eth.dimension == "end_of_life" and eth.rubric == "ethics"
    assert zh is not None and zh.language == "zh" and tb is not None and tb.gold == "ABD"
    assert "kind" not in card["payload"] and "dimension" not in card["payload"]  # defaults stay out of the hash
