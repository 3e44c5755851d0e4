"""`safemed report`: the evidence package from real artifacts — verified first, then written whole."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from safemed.artifacts import read_manifest, sha256_file
from safemed.cli.report_cmd import report_command
from safemed.report.package import SECTIONS, LineageError, build_report, evidence_schema

from .evidence import EvidenceInputs, build_curated_export, point_at_model, write_ablation, write_study

FILES = ("report.html", "evidence.json", "model_card.md", "datasheet.md", "crosswalk.md", "manifest.json")


@pytest.fixture(scope="module")
def full(evidence_inputs: EvidenceInputs, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(OUT, study folder, ablation folder) of a package with every input given."""
    root = tmp_path_factory.mktemp("full")
    ins = evidence_inputs
    study, ablation = write_study(root / "study"), write_ablation(root / "ablation")
    out = root / "package"
    build_report([ins.mcq, ins.safety], [ins.redteam], study, ablation, ins.ledger, ins.grpo, out, seed=3)
    return out, study, ablation


def report(*args: str) -> Any:
    return CliRunner().invoke(report_command, list(args))


def test_full_package_files_schema_and_manifest(full: tuple[Path, Path, Path], evidence_inputs: EvidenceInputs) -> None:
    out, study, ablation = full
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    evidence = json.loads((out / "evidence.json").read_text())
    jsonschema.validate(evidence, evidence_schema())
    assert evidence["lineage"]["ok"] and evidence["lineage"]["ledger_checked"]
    whats = {c["what"] for c in evidence["lineage"]["checks"]}
    assert {"consistent with the latest signed checkpoint", "run names the model", "row events", "files"} <= whats
    manifest = read_manifest(out)
    assert manifest.kind == "evidence-package"
    ins = evidence_inputs
    named = {a["id"]: a for a in manifest.config["artifacts"]}
    for folder in (ins.mcq, ins.safety, ins.redteam, ins.grpo, ins.grpo / "model", study, ablation):
        own = read_manifest(folder)
        assert named[own.id]["manifest_sha256"] == sha256_file(folder / "manifest.json")
        assert own.id in manifest.parents
    recorded = {d.path: d.sha256 for d in manifest.inputs}
    assert recorded[str(ins.safety / "calibration.json")] == sha256_file(ins.safety / "calibration.json")
    assert {o.path for o in manifest.outputs} == set(FILES) - {"manifest.json"}


def test_html_is_self_contained_and_has_every_section(full: tuple[Path, Path, Path]) -> None:
    html = (full[0] / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}" data-section="{section}">' in html
    for pattern in (r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', r"@import", r"url\(", r"<link\b", r"<script\b",
                    r"<iframe\b", r"<object\b", r"<embed\b"):
        assert not re.search(pattern, html, re.IGNORECASE), pattern
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) >= 6 and all(s.startswith("data:image/png;base64,") for s in srcs)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("#") and h[1:] in SECTIONS for h in hrefs)
    # the model's answer "<script>alert('x')</script>" in a case study is shown as text
    assert "&lt;script&gt;alert(" in html
    assert html.index("Lineage verified") < html.index('id="summary"')  # the verdict tops the report


def test_numbers_and_warnings_match_the_runs(full: tuple[Path, Path, Path], evidence_inputs: EvidenceInputs) -> None:
    evidence = json.loads((full[0] / "evidence.json").read_text())
    results = json.loads((evidence_inputs.safety / "results.json").read_text())
    msb = results["benchmarks"]["sample-safety"]["judged_by"]["msb"]
    kind = evidence["safety"]["runs"][0]["sets"][0]["kinds"]
    block = next(k for k in kind if k["judge_kind"] == "msb")
    assert block["overall"]["value"] == msb["overall_avg"]["value"]
    assert [c["name"] for c in block["by_category"]] == [str(k) for k in range(1, 10)]
    assert evidence["safety"]["runs"][0]["over_refusal"]["rate"] == results["over_refusal"]["rate"]
    refusal = next(k for k in kind if k["judge_kind"] == "refusal")
    assert all(j["warnings"] == ["uncalibrated: not validated against clinicians"] for j in refusal["judges"])
    calibration = json.loads((evidence_inputs.safety / "calibration.json").read_text())
    for j in block["judges"]:
        kappa = calibration["judges"][j["judge"]]["kappa_quadratic"]["value"]
        assert bool(j["warnings"]) == (kappa < 0.6)
    assert [bool(j["warnings"]) for j in block["judges"]] == [False, True]  # judge b agrees poorly
    cap = evidence["capability"]["runs"][0]
    mcq = json.loads((evidence_inputs.mcq / "results.json").read_text())
    assert cap["macro_average"]["accuracy"] == mcq["macro_average"]["accuracy"]
    attacks = {a["attack"]: a for a in evidence["redteam"]["runs"][0]["attacks"]}
    assert set(attacks) == {"direct", "role_play", "prefix_injection"}
    assert evidence["redteam"]["runs"][0]["over_refusal"]["rate"] == results["over_refusal"]["rate"]
    assert evidence["training"]["curves"]["loss"][0] == [1.0, 0.5] and len(evidence["training"]["curves"]["kl"]) == 8
    funnel = evidence["curation"]["exports"][0]["funnel"]
    assert funnel == read_manifest(evidence_inputs.export).config["funnel"]
    assert evidence["curation"]["reviewer_agreement"]
    study = evidence["study"]
    assert study["simulated"] and study["plan_sha256"] == "5" * 64 and study["dimensions"][0]["primary"]
    html = (full[0] / "report.html").read_text()
    study_html = html[html.index('<section id="study"'):html.index('<section id="curation"')]
    assert "SIMULATED" in study_html and "5" * 64 in study_html and "0.76 [0.50, 0.92]" in study_html
    assert "SIMULATED" in html[html.index('<section id="summary"'):html.index('<section id="lineage"')]
    ablation_html = html[html.index('<section id="ablation"'):html.index('<section id="study"')]
    assert "Holm p=0.400" in ablation_html and "data:image/png" in ablation_html
    assert "low agreement" in html and "uncalibrated" in html
    assert all(row["section"] in SECTIONS for row in evidence["crosswalk"]["rows"])
    assert "no legal" in (full[0] / "crosswalk.md").read_text()


def test_case_studies_follow_the_stated_rule(full: tuple[Path, Path, Path], evidence_inputs: EvidenceInputs,
                                             tmp_path: Path) -> None:
    cases = json.loads((full[0] / "evidence.json").read_text())["cases"]
    assert "largest disagreement" in cases["rule"] and "seed 3" in cases["rule"]
    rows = [json.loads(x) for x in (evidence_inputs.safety / "samples.jsonl").read_text().splitlines()]
    msb = [r for r in rows if r["judge_kind"] == "msb"]
    spread = {r["id"]: max(j["score"] for j in r["judges"]) - min(j["score"] for j in r["judges"]) for r in msb}
    top = [c for c in cases["items"] if c["why"].startswith("judge disagreement") and "(msb)" in c["why"]]
    assert top and all(spread[c["id"]] == max(spread.values()) or spread[c["id"]] > 0 for c in top)
    assert spread[top[0]["id"]] == max(spread.values())
    seeded = [c for c in cases["items"] if c["why"].startswith("seeded") and "(msb)" in c["why"]]
    assert sorted(c["category"] for c in seeded) == sorted({str(r["category"]) for r in msb})
    again = tmp_path / "again"
    ins = evidence_inputs
    build_report([ins.mcq, ins.safety], [], None, None, None, None, again, seed=3)
    assert json.loads((again / "evidence.json").read_text())["cases"]["items"] == cases["items"]


def test_absent_inputs_say_not_provided(evidence_inputs: EvidenceInputs, tmp_path: Path) -> None:
    result = report("--runs", str(evidence_inputs.mcq), "--out", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    evidence = json.loads((tmp_path / "p" / "evidence.json").read_text())
    jsonschema.validate(evidence, evidence_schema())
    for key, command in (("safety", "safemed eval"), ("redteam", "safemed redteam"), ("ablation", "safemed ablate"),
                         ("study", "safemed study"), ("training", "safemed train"), ("curation", "safemed curate"),
                         ("judges", "safemed judges calibrate")):
        assert not evidence[key]["provided"] and command in evidence[key]["note"], key
    html = (tmp_path / "p" / "report.html").read_text()
    for key in ("safety", "redteam", "ablation", "study", "training", "curation"):
        start = html.index(f'<section id="{key}"')
        body = html[start:html.index("</section>", start)]
        assert "not provided" in body and "%" not in body and "data:image" not in body, key
    assert "no trained model was given" in evidence["lineage"]["statement"]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_tampered_file_fails_and_writes_nothing(evidence_inputs: EvidenceInputs, tmp_path: Path) -> None:
    run = _copy(evidence_inputs.safety, tmp_path / "safety")
    samples = run / "samples.jsonl"
    raw = bytearray(samples.read_bytes())
    raw[40] = ord("X") if raw[40] != ord("X") else ord("Y")
    samples.write_bytes(bytes(raw))
    out = tmp_path / "p"
    result = report("--runs", str(run), "--model", str(evidence_inputs.grpo), "--out", str(out))
    assert result.exit_code == 1
    assert "lineage verification failed" in result.output and "nothing was written" in result.output
    assert f"FAIL files: {samples}: sha256 " in result.output and "but the manifest records" in result.output
    assert not out.exists() and not list(tmp_path.glob(".p.*"))


def test_run_of_another_model_fails(evidence_inputs: EvidenceInputs, tmp_path: Path) -> None:
    """A run of a model that is neither --model nor one it was trained from fails; a run of an
    earlier training stage (an ablation's +SFT row) is fine, but some run must evaluate --model."""
    run = _copy(evidence_inputs.mcq, tmp_path / "mcq")
    point_at_model(run, evidence_inputs.grpo / "model")  # the GRPO model, given --model SFT (its ancestor)
    with pytest.raises(LineageError) as info:
        build_report([run], [], None, None, None, evidence_inputs.sft, tmp_path / "p")
    grpo = read_manifest(evidence_inputs.grpo / "model").id
    failed = dict(info.value.failures)
    assert grpo in failed["run names the model"] and str(run) in failed["run names the model"]
    assert "a run evaluates the model" in failed
    assert not (tmp_path / "p").exists()

    sft_run = _copy(evidence_inputs.safety, tmp_path / "safety-sft")
    point_at_model(sft_run, evidence_inputs.sft / "model")  # only the SFT stage, given --model GRPO
    with pytest.raises(LineageError) as info:
        build_report([sft_run], [], None, None, None, evidence_inputs.grpo, tmp_path / "p")
    failed = dict(info.value.failures)
    assert set(failed) == {"a run evaluates the model"}, failed
    assert not (tmp_path / "p").exists()
    # beside a run of the GRPO model itself, the SFT run is an earlier stage and passes
    build_report([sft_run, evidence_inputs.mcq], [], None, None, None, evidence_inputs.grpo, tmp_path / "p")
    assert (tmp_path / "p" / "report.html").is_file()


def test_another_ledger_fails_the_consistency_checks(evidence_inputs: EvidenceInputs, tmp_path: Path) -> None:
    other = str(tmp_path / "other.db")
    build_curated_export(other, tmp_path / "other-export")
    result = report("--runs", str(evidence_inputs.mcq), "--model", str(evidence_inputs.grpo), "--ledger", other,
                    "--out", str(tmp_path / "p"))
    assert result.exit_code == 1
    assert "FAIL ledger origin" in result.output and "FAIL ledger root" in result.output
    assert not (tmp_path / "p").exists()


def test_dataset_export_changed_is_named(evidence_inputs: EvidenceInputs, tmp_path: Path) -> None:
    """A training row edited after training: the model's manifest no longer matches its dataset."""
    export = evidence_inputs.export / "sft.jsonl"
    original = export.read_bytes()
    try:
        export.write_bytes(original.replace(b"Answer: B", b"Answer: C", 1))
        with pytest.raises(LineageError) as info:
            build_report([evidence_inputs.mcq], [], None, None, evidence_inputs.ledger, evidence_inputs.grpo,
                         tmp_path / "p")
        failed = dict(info.value.failures)
        assert f"{export}: sha256" in failed["dataset file vs the model manifest"]
    finally:
        export.write_bytes(original)
