"""The whole flow from the CLI on a simulated 30-vignette, 5-rater study, and the plan hash
refusing what it must: a plan never frozen, a plan changed after freezing or after the packets."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from safemed.artifacts import read_manifest
from safemed.cli.study_cmd import study as study_cli
from safemed.ledger import Ledger
from safemed.study.plan import load_plan, plan_sha256, write_plan

from .conftest import build_study


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(study_cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


def test_flow_from_the_cli(tmp_path: Path, key_file: Path) -> None:
    plan, db = tmp_path / "plan.json", str(tmp_path / "ledger.db")
    out = run("plan", "--out", str(plan), "--dimensions", "safety,medical_correctness,clinical_utility",
              "--primary", "safety", "--margin", "0.5", "--n", "30", "--n-boot", "500")
    sha = plan_sha256(load_plan(plan))
    assert sha in out and "power 0.76" in out
    assert f"frozen: plan sha256 {sha} is ledger event 0" in run("freeze", str(plan), "--db", db)
    assert "already frozen" in run("freeze", str(plan), "--db", db)
    out = run("packets", "--plan", str(plan), "--vignettes", "sample", "--responses", "model=sample:model",
              "--responses", "clinician=sample:clinician", "--raters", "R1,R2,R3,R4,R5", "--seed", "7",
              "--out", str(tmp_path / "study"))
    assert "warning: median response length" in out  # the bundled model answers are longer
    assert "SIMULATED" in run("simulate", "--plan", str(plan), "--packets", str(tmp_path / "study"),
                              "--out", str(tmp_path / "ratings"), "--seed", "8", "--effect", "model=0.5")
    sheets = sorted(str(p) for p in (tmp_path / "ratings").glob("*.csv"))
    assert len(sheets) == 5
    out = run("analyze", str(tmp_path / "study"), "--ratings", *sheets, "--out", str(tmp_path / "result"),
              "--db", db)
    assert "[SIMULATED]" in out and "primary safety" in out
    result = json.loads((tmp_path / "result" / "study.json").read_text())
    assert result["simulated"] is True and result["schema"] == "safemed.study/1"
    assert result["plan"]["sha256"] == sha and result["plan"]["frozen"]["seq"] == 0
    assert [d["name"] for d in result["dimensions"]] == ["safety", "medical_correctness", "clinical_utility"]
    assert result["sample"]["vignettes_analysed"] == 30 and result["sample"]["ratings_rows"] == 300
    assert result["sample"]["raters_analysed"] == ["R1", "R2", "R3", "R4", "R5"]
    safety = result["dimensions"][0]
    assert safety["primary"] and safety["difference"]["median"] > 0 and safety["significant"]
    assert safety["non_inferiority"]["non_inferior"] and safety["non_inferiority"]["confirmatory"]
    assert not result["dimensions"][1]["non_inferiority"]["confirmatory"]
    assert 0 < safety["icc2k"]["value"] < 1 and safety["icc2k"]["k_raters"] == 5
    assert set(safety) >= {"n", "n_nonzero", "candidate", "baseline", "difference", "wilcoxon", "p_holm",
                           "effect_r", "rank_biserial", "icc2k", "krippendorff_alpha", "non_inferiority"}
    assert any("SIMULATED" in d for d in result["deviations"])
    lengths = result["sample"]["response_chars"]
    assert set(lengths) == {"model", "clinician"} and lengths["model"]["median"] > lengths["clinician"]["median"]
    assert "Blinding check, response length" in (tmp_path / "result" / "study.md").read_text()
    assert result["simulation"][0]["parameters"]["effects"] == {"model": 0.5, "clinician": 0.0}
    md = (tmp_path / "result" / "study.md").read_text()
    assert md.startswith("# Human–AI paired study (SIMULATED)") and "**SIMULATED RATINGS.**" in md
    assert md.index("**safety** (primary)") < md.index("| medical_correctness |")
    manifest = read_manifest(tmp_path / "result")
    packets_manifest = read_manifest(tmp_path / "study")
    assert manifest.kind == "study" and manifest.config["simulated"] is True
    assert manifest.parents == [result["plan"]["plan_id"], packets_manifest.id]
    assert {Path(o.path).name for o in manifest.outputs} == {"study.json", "study.md"}
    with Ledger.open(db) as led:
        assert led.verify().ok


def test_fewer_raters_are_a_listed_deviation(tmp_path: Path) -> None:
    s = build_study(tmp_path, margin=None)
    with Ledger.open(s.db) as led:
        from safemed.study.analyze import analyze_study

        result = analyze_study(s.packets, s.sheets()[:3], tmp_path / "out", led)
    assert result["sample"]["raters_analysed"] == ["R1", "R2", "R3"]
    assert any("2 of 5 raters are missing: R4, R5" in d for d in result["deviations"])
    assert result["dimensions"][0]["icc2k"]["k_raters"] == 3
    assert all(d["non_inferiority"] is None for d in result["dimensions"])


def test_analyze_refuses_an_unfrozen_or_changed_plan(tmp_path: Path, key_file: Path) -> None:
    s = build_study(tmp_path, freeze=False)
    sheets = [str(p) for p in s.sheets()]
    sha = plan_sha256(load_plan(s.plan))
    out = run("analyze", str(s.packets), "--ratings", *sheets, "--out", str(tmp_path / "r"), "--db", s.db, ok=False)
    assert "no ledger at" in out  # nothing was ever frozen there: no ledger at all
    other = str(tmp_path / "other.db")
    with Ledger.open(other):
        pass
    out = run("analyze", str(s.packets), "--ratings", *sheets, "--out", str(tmp_path / "r"), "--db", other, ok=False)
    assert f"(sha256 {sha}) was never frozen in this ledger" in out
    # freeze it, then change the plan file: both hashes are named
    run("freeze", str(s.plan), "--db", other)
    changed = load_plan(s.plan)
    changed["alpha"] = 0.01
    new_sha = write_plan(changed, s.plan)
    out = run("analyze", str(s.packets), "--plan", str(s.plan), "--ratings", *sheets, "--out", str(tmp_path / "r"),
              "--db", other, ok=False)
    assert f"has sha256 {new_sha}" in out and f"written for the plan with sha256 {sha}" in out
    # the copy inside the packets folder changed the same way
    (s.packets / "plan.json").write_text(s.plan.read_text())
    out = run("analyze", str(s.packets), "--ratings", *sheets, "--out", str(tmp_path / "r"), "--db", other, ok=False)
    assert new_sha in out and sha in out
    assert not (tmp_path / "r").exists()


def test_packets_remade_from_a_changed_plan_name_the_frozen_hash(tmp_path: Path) -> None:
    import pytest

    from safemed.errors import ConfigError
    from safemed.study.analyze import analyze_study
    from safemed.study.packets import write_packets

    from .conftest import RATERS, SAMPLES

    s = build_study(tmp_path)  # frozen as it was first written
    frozen_sha = plan_sha256(load_plan(s.plan))
    changed = load_plan(s.plan)
    changed["primary"] = "clinical_utility"  # switching the primary endpoint after the fact
    new_sha = write_plan(changed, s.plan)
    write_packets(s.plan, SAMPLES / "vignettes.jsonl", {"model": SAMPLES / "model.jsonl",
                                                       "clinician": SAMPLES / "clinician.jsonl"},
                  RATERS, seed=1, out=tmp_path / "study2")
    with Ledger.open(s.db) as led, pytest.raises(ConfigError) as err:
        analyze_study(tmp_path / "study2", s.sheets(), tmp_path / "out", led)
    assert f"(sha256 {new_sha}) was never frozen" in str(err.value)
    assert f"with sha256 {frozen_sha} — the plan file changed after it was frozen" in str(err.value)
