"""Judge labelling end to end: a real eval run → an msb task → two clinicians label it blind →
the human-csv export → the real ``safemed judges calibrate --human`` on it."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from safemed.judges.msb import MSB_SCALE
from safemed.ratings import RatingStore, UnitView, units_from_run

from .helpers import invoke, samples


def _truth(unit_id: str) -> int:
    return sum(map(ord, unit_id)) % 5 + 1


def test_msb_task_labelled_exported_and_calibrated(store: RatingStore, run_a: Path, tmp_path: Path) -> None:
    rows = {r["id"]: r for r in samples(run_a) if r["judge_kind"] == "msb"}
    units = units_from_run(run_a)
    assert [u.id for u in units] == list(rows) and len(units) == 18  # unit id = the sample id, run order
    for unit in units:
        assert unit.prompt == rows[unit.id]["prompt"] and unit.responses == (rows[unit.id]["response"],)
        assert not {"judges", "judge_mean"} & set(unit.meta)  # the judges' scores are never stored
    task = store.create_task("msb-pilot", "msb", units, raters_per_unit=2, instructions="Score each response.")

    offsets = {"dr.a": 0, "dr.b": 1}
    for rater, offset in offsets.items():
        while (view := store.next_unit(task, rater)) is not None:
            assert view.responses == (rows[view.unit_id]["response"],)
            assert view.scale == tuple((int(p), t) for p, t in MSB_SCALE.labels) and view.kind == "msb"
            score = min(5, _truth(view.unit_id) + offset * (view.unit_id.endswith("1")))
            assert store.record(task, view.unit_id, rater, {"score": score}, seconds_spent=30)
    # blind: the view has no field that could carry a judge score, a model name or the run folder
    assert {f.name for f in fields(UnitView)} == {"task_id", "unit_id", "kind", "prompt", "responses", "scale",
                                                  "dimensions", "instructions", "lease_expires"}
    summary = store.task(task)
    assert (summary.n_labels, summary.n_done, summary.n_units) == (36, 18, 18)

    out = tmp_path / "labels.csv"
    assert store.export_human_csv(task, out) == 36
    with open(out, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["id", "score"]  # exactly the two columns calibrate reads
        exported = list(reader)
    assert len(exported) == 36 and {i for i, _ in exported} == set(rows)

    result = invoke("judges", "calibrate", str(run_a), "--human", str(out))
    assert result.exit_code == 0, result.output
    cal = json.loads((run_a / "calibration.json").read_text())
    assert cal["n_shared"] == 18 and cal["n_unmatched_labels"] == 0
    human = {i: np.mean([float(s) for j, s in exported if j == i]) for i in rows}  # calibrate averages raters
    judge = {i: float(rows[i]["judges"][0]["score"]) for i in rows}
    (label,) = [name for name in cal["judges"] if name != "panel_mean"]
    assert cal["judges"][label]["mae"] == pytest.approx(np.mean([abs(judge[i] - human[i]) for i in rows]))


def test_ratings_cli_create_list_export(db_url: str, run_a: Path, tmp_path: Path) -> None:
    result = invoke("ratings", "create", "--db", db_url, "--name", "pilot", "--from-run", str(run_a),
                    "--limit", "5", "--seed", "3", "--specialty", "emergency")
    assert result.exit_code == 0, result.output
    assert "msb, 5 units" in result.output
    listed = invoke("ratings", "list", "--db", db_url, "--json")
    assert listed.exit_code == 0, listed.output
    (task,) = json.loads(listed.output)
    assert (task["name"], task["kind"], task["units"], task["specialties"]) == ("pilot", "msb", 5, ["emergency"])
    with RatingStore.open(db_url) as store:
        assert store.tasks("dr.x", ["cardiology"]) == []  # not open to other specialties
        view = store.next_unit(task["id"], "dr.x", specialties=["emergency"])
        assert view is not None
        assert store.record(task["id"], view.unit_id, "dr.x", {"score": 2, "comment": "restrained"},
                            seconds_spent=12)
    out = tmp_path / "h.csv"
    result = invoke("ratings", "export", "pilot", "--db", db_url, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == f"id,score\n{view.unit_id},2\n"
    jsonl = tmp_path / "all.jsonl"
    assert invoke("ratings", "export", task["id"], "--db", db_url, "--out", str(jsonl), "--format", "jsonl"
                  ).exit_code == 0
    (row,) = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert row["rater"] == "dr.x" and row["seconds_spent"] == 12 and row["label"]["comment"] == "restrained"
    assert row["meta"]["benchmark"] == "sample-safety" and len(row["hash"]) == 64

    again = invoke("ratings", "create", "--db", db_url, "--name", "pilot", "--from-run", str(run_a))
    assert again.exit_code == 1 and "exists already" in again.output
    none = invoke("ratings", "create", "--db", db_url, "--name", "x")
    assert none.exit_code == 1 and "--from-run" in none.output
    missing = invoke("ratings", "export", "nope", "--db", db_url, "--out", str(out))
    assert missing.exit_code == 1 and "no rating task 'nope'" in missing.output and "pilot" in missing.output


def test_units_from_run_errors(tmp_path: Path, run_a: Path) -> None:
    from safemed.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="not a finished run folder"):
        units_from_run(tmp_path)
    with pytest.raises(ConfigError, match="judge kinds in this run: msb, refusal"):
        units_from_run(run_a, kind="harm")
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = (run_a / "samples.jsonl").read_text().splitlines()
    (bad / "samples.jsonl").write_text("\n".join([lines[0], lines[0]]) + "\n")
    with pytest.raises(DataError, match=r"samples.jsonl:2: field 'id'"):
        units_from_run(bad)
    (bad / "samples.jsonl").write_text(lines[0] + "\n{oops\n")
    with pytest.raises(DataError, match=r"samples.jsonl:2: not JSON"):
        units_from_run(bad)
    picked = units_from_run(run_a, limit=4, seed=1)
    assert len(picked) == 4 and picked == units_from_run(run_a, limit=4, seed=1)
    assert [u.id for u in picked] != [u.id for u in units_from_run(run_a, limit=4, seed=2)]
