"""Pairwise A vs B over two real runs: sources hidden, A/B order randomised per unit with a seed,
and the export maps every choice back to the run it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safemed.errors import ConfigError
from safemed.ratings import RatingStore, pairwise_units

from .helpers import invoke, samples


def test_pairwise_order_randomised_and_mapped_back(store: RatingStore, run_a: Path, run_b: Path,
                                                   tmp_path: Path) -> None:
    a = {r["id"]: r["response"] for r in samples(run_a)}
    b = {r["id"]: r["response"] for r in samples(run_b)}
    units = pairwise_units(run_a, run_b)
    assert len(units) == 30 and all(u.responses == (a[u.id], b[u.id]) for u in units)  # every shared id
    task = store.create_task("a-vs-b", "pairwise", units, seed=7)

    shown: dict[str, tuple[str, ...]] = {}
    while (view := store.next_unit(task, "dr.p")) is not None:
        assert len(view.responses) == 2 and str(run_a) not in json.dumps(view.__dict__)  # sources hidden
        shown[view.unit_id] = view.responses
        # the rater always prefers the response written by model A, wherever it is shown
        choice = "A" if view.responses[0] == a[view.unit_id] else "B"
        if view.unit_id == units[0].id:
            choice = "tie"
        assert store.record(task, view.unit_id, "dr.p", {"choice": choice, "reason": "clearer"}, seconds_spent=9)
    swapped = {i for i, pair in shown.items() if pair == (b[i], a[i])}
    assert len(shown) == 30 and {i for i, pair in shown.items() if pair == (a[i], b[i])} | swapped == set(shown)
    assert 5 <= len(swapped) <= 25  # both orders occur (seeded coin per unit)

    out = tmp_path / "pairs.jsonl"
    assert store.export_jsonl(task, out) == 30
    rows = {r["unit_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    for unit_id, row in rows.items():
        assert row["order"] == ({"A": str(run_b), "B": str(run_a)} if unit_id in swapped
                                else {"A": str(run_a), "B": str(run_b)})
        assert row["winner"] == ("tie" if unit_id == units[0].id else str(run_a))
    with pytest.raises(ConfigError, match="pairwise task"):
        store.export_human_csv(task, tmp_path / "no.csv")

    # the same seed presents the same order; another seed another one
    again = store.create_task("a-vs-b again", "pairwise", units, seed=7)
    other = store.create_task("a-vs-b seed 8", "pairwise", units, seed=8)
    order_again, order_other = {}, {}
    for tid, found in ((again, order_again), (other, order_other)):
        while (view := store.next_unit(tid, "dr.q")) is not None:
            found[view.unit_id] = view.responses
            store.record(tid, view.unit_id, "dr.q", {"choice": "tie"}, seconds_spent=1)
    assert order_again == shown and order_other != shown


def test_pairwise_cli(db_url: str, run_a: Path, run_b: Path) -> None:
    result = invoke("ratings", "create", "--db", db_url, "--name", "cmp", "--from-run", str(run_a),
                    "--pairwise", str(run_b), "--limit", "6", "--raters-per-unit", "3")
    assert result.exit_code == 0, result.output
    assert "pairwise, 6 units, 3 rater(s) per unit" in result.output
    wrong = invoke("ratings", "create", "--db", db_url, "--name", "cmp2", "--from-run", str(run_a),
                   "--kind", "pairwise")
    assert wrong.exit_code == 1 and "--pairwise RUN_B" in wrong.output
    with pytest.raises(ConfigError, match="two different run folders"):
        pairwise_units(run_a, run_a)
