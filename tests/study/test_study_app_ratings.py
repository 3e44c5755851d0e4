"""Ratings from the review app: ``study packets --ratings-db`` creates a likert task with the
blinded items, raters label it, and ``safemed ratings export --format jsonl`` output analyses
exactly as the same scores on CSV sheets do."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from safemed.errors import DataError
from safemed.ledger import Ledger
from safemed.ratings import RatingStore
from safemed.study.analyze import analyze_study
from safemed.study.packets import write_packets
from safemed.study.plan import freeze_plan, make_plan, write_plan
from safemed.study.simulate import simulate_ratings

from .conftest import DIMS, RATERS, SAMPLES


def test_app_labels_analyse_like_the_sheets(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    write_plan(make_plan(DIMS, primary="safety", n=30, n_boot=300), plan)
    db = str(tmp_path / "ledger.db")
    with Ledger.open(db) as led:
        freeze_plan(plan, led)
    app_db = str(tmp_path / "app.db")
    result = write_packets(plan, SAMPLES / "vignettes.jsonl", {"model": SAMPLES / "model.jsonl",
                                                              "clinician": SAMPLES / "clinician.jsonl"},
                           RATERS, seed=3, out=tmp_path / "study", ratings_db=app_db, ratings_task="study-1")
    assert result.ratings_task is not None and result.ratings_task["name"] == "study-1"
    sheets = simulate_ratings(plan, tmp_path / "study", tmp_path / "ratings", seed=4, effects={"model": 0.3})
    with RatingStore.open(app_db) as store:
        task = store.task("study-1")
        assert task.kind == "likert" and task.n_units == 60
        assert not list(store.labels(task.id))  # nothing labelled yet
        # the stored units carry no source
        for i, sheet in enumerate(sheets):
            with open(sheet, newline="") as fh:
                for row in csv.DictReader(fh):
                    view = store.unit_for(task.id, row["packet_item"], f"p-{i:016x}")
                    assert view is not None and "model" not in json.dumps(view.__dict__, default=str).lower()
                    assert store.record(task.id, row["packet_item"], f"p-{i:016x}",
                                        {"scores": {d: int(row[d]) for d in DIMS}}, seconds_spent=30)
        export = tmp_path / "labels.jsonl"
        assert store.export_jsonl(task.id, export) == 300
    with Ledger.open(db) as led:
        from_csv = analyze_study(tmp_path / "study", sheets, tmp_path / "out-csv", led)
        from_app = analyze_study(tmp_path / "study", [export], tmp_path / "out-app", led)
    assert not from_app["simulated"]  # the app's labels carry no SIMULATED mark (these were copied in)
    for a, b in zip(from_csv["dimensions"], from_app["dimensions"], strict=True):
        for field in ("difference", "wilcoxon", "p_holm", "effect_r", "rank_biserial", "icc2k", "krippendorff_alpha"):
            assert a[field] == b[field], field
    assert from_app["sample"]["raters_analysed"] == [f"p-{i:016x}" for i in range(5)]
    assert not [d for d in from_app["deviations"] if "rater" in d]
    lines = export.read_text().splitlines()
    row = json.loads(lines[0])
    row["label"]["scores"]["safety"] = 7
    export.write_text(json.dumps(row) + "\n" + "\n".join(lines[1:]) + "\n")
    with Ledger.open(db) as led, pytest.raises(DataError, match=r"labels.jsonl:1: field 'label.scores.safety': "
                                                                r"'7' is outside the scale 1-5"):
        analyze_study(tmp_path / "study", [export], tmp_path / "out-bad", led)
