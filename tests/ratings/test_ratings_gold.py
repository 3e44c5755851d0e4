"""Hidden gold items: imported outside the curation ledger, served like review items without
their known verdict, answered once per reviewer, and scored with a Wilson interval."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from safemed.errors import DataError
from safemed.ratings import GoldUnit, RatingStore, read_gold
from safemed.records.curation import RUBRIC_DIMENSIONS

from .helpers import invoke

SCORES = dict.fromkeys(RUBRIC_DIMENSIONS, 4)


def gold_row(n: int, specialty: str, expected: str) -> dict[str, Any]:
    return {"id": f"gold-{n}", "specialty": specialty, "question": f"Which drug first, case {n}?",
            "options": {"B": "beta blocker", "A": "aspirin"}, "gold": "A",
            "reasoning": "Aspirin first because ..." if expected == "keep" else "Beta blockers first, since ...",
            "answer": "A" if expected == "keep" else "B", "expected": expected,
            "note": "" if expected == "keep" else "the chain of thought contradicts the guideline"}


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927), as the independent reference."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_gold_flow_and_accuracy(store: RatingStore, tmp_path: Path, db_url: str) -> None:
    rows = [gold_row(n, "cardiology" if n < 8 else "neurology", "keep" if n % 2 else "reject") for n in range(10)]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("ratings", "import-gold", str(path), "--db", db_url)
    assert result.exit_code == 0 and "imported 10 new" in result.output, result.output
    assert store.import_gold(rows) == 0  # the same items again: nothing new

    unit = store.gold_for("dr.a", ["cardiology"])
    assert unit is not None and unit.id == "gold-0" and unit.options == {"A": "aspirin", "B": "beta blocker"}
    assert {f.name for f in fields(GoldUnit)} & {"expected", "note"} == set()  # the known verdict stays hidden
    assert unit.dimensions == RUBRIC_DIMENSIONS

    # dr.a answers the 8 cardiology items: right on all but two; dr.b only keeps everything
    for n in range(8):
        expected = rows[n]["expected"]
        verdict = ("accept" if expected == "keep" else "reject") if n not in (2, 3) else (
            "fix" if expected == "reject" else "reject")
        assert store.record_gold(f"gold-{n}", "dr.a", verdict=verdict, scores=SCORES, seconds_spent=20)
        assert store.record_gold(f"gold-{n}", "dr.b", verdict="accept", scores=SCORES, seconds_spent=5)
    assert store.gold_for("dr.a", ["cardiology"]) is None
    assert store.gold_for("dr.a", ["cardiology", "neurology"]).id == "gold-8"  # type: ignore[union-attr]
    assert store.gold_unit("gold-0", "dr.a") is None and store.gold_unit("gold-9", "dr.a") is not None
    assert store.record_gold("gold-0", "dr.a", verdict="reject", scores=SCORES, seconds_spent=1) is False

    acc = store.gold_accuracy()
    assert (acc["dr.a"]["n"], acc["dr.a"]["correct"]) == (8, 6) and acc["dr.a"]["accuracy"] == 0.75
    assert acc["dr.a"]["ci95"] == pytest.approx(list(wilson(6, 8)))
    assert (acc["dr.b"]["correct"], acc["dr.b"]["accuracy"]) == (4, 0.5)  # a fix of a flawed trace keeps it: wrong
    assert acc["dr.b"]["ci95"] == pytest.approx(list(wilson(4, 8)))
    assert store.verify()["ok"] and store.verify()["n"] == 16  # gold answers are chained with the labels
    printed = invoke("ratings", "gold-accuracy", "--db", db_url)
    assert "dr.a  6/8  75%" in printed.output

    with pytest.raises(DataError, match=r"field 'scores\.clinical_utility'"):
        store.record_gold("gold-9", "dr.c", verdict="accept", scores={**SCORES, "clinical_utility": 6},
                          seconds_spent=1)
    with pytest.raises(DataError, match="field 'verdict'"):
        store.record_gold("gold-9", "dr.c", verdict="maybe", scores=SCORES, seconds_spent=1)
    with pytest.raises(DataError, match="exists with other content"):
        store.import_gold([{**rows[0], "note": "changed"}])


@pytest.mark.parametrize("change, field", [
    ({"expected": "fix"}, "expected"),
    ({"gold": "C"}, "gold"),
    ({"options": {"a": "x", "B": "y"}}, "options"),
    ({"question": ""}, "question"),
    ({"rubric": "dental"}, "rubric"),
    ({"secret": 1}, "secret"),
])
def test_gold_rows_are_validated_with_line(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(gold_row(1, "cardiology", "keep")) + "\n\n"
                    + json.dumps({**gold_row(2, "cardiology", "keep"), **change}) + "\n")
    with pytest.raises(DataError) as err:
        read_gold(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 3, field)
