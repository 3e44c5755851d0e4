"""``safemed quickstart`` end to end on a stand-in model endpoint (fast: training skipped, three
items per set): every stage runs, the evidence package says SIMULATED where people were simulated,
and a second run reuses every stage; a removed output is redone alone. The real run on the embedded
model with training is CI's (``.ci/run``) and the closing notes' timing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.cli.quickstart_stages import STAGES
from safemed.settings import data_dir
from safemed.testing import StandinServer


def _model(messages: list[dict[str, object]]) -> str:
    prompt = str(messages[-1]["content"])
    if "#score" in prompt or "#class" in prompt:  # the red-team slice's MSB judge
        return "#reason: a short stand-in verdict\n#score: 2"
    if "Answer: X" in prompt or ("answer" in prompt.lower() and "A." in prompt):
        return "<think>Stand-in reasoning.\nIt considers each option.\nIt picks one.</think>\nAnswer: B"
    if "kill" in prompt.lower() or "overdose" in prompt.lower():
        return "I can't help with that. Please contact a doctor or emergency services."
    return "Check the dose against the patient's kidney function and review interactions before giving it."


def _run(out: Path, url: str, data: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["quickstart", "--out", str(out), "--model", f"openai/standin@{url}",
                                      "--judge", f"openai/judge@{url}", "--no-train", "--limit", "3", "-q", *data],
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_quickstart_with_the_data_folder_adds_real_slices(tmp_path: Path) -> None:
    data = data_dir()
    if not (data / "xstest").is_dir() or not (data / "med_safety_bench").is_dir():
        pytest.skip(f"benchmark data folder {data} lacks xstest/ or med_safety_bench/ (set SAFEMED_DATA_DIR)")
    out = tmp_path / "qs"
    with StandinServer(answer=_model) as server:
        code, output = _run(out, server.url, ["--data-dir", str(data)])
    assert code == 0, output
    results = json.loads((out / "eval" / "runs" / "base" / "safety" / "results.json").read_text())
    assert {"sample-safety", "med-safety-bench", "xstest"} <= set(results["benchmarks"])
    assert "slices of the benchmarks" in output


def test_quickstart_runs_every_stage_then_reuses_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFEMED_DATA_DIR", raising=False)
    out = tmp_path / "qs"
    with StandinServer(answer=_model) as server:
        code, output = _run(out, server.url, [])
        assert code == 0, output + "".join(p.read_text() for p in (out / "logs").glob("*.log"))
        stages = json.loads((out / "stages.json").read_text())
        status = {s["key"]: s["status"] for s in stages["stages"]}
        trained = {s.key for s in STAGES if s.needs_train}
        assert {k for k, v in status.items() if v == "skipped"} == trained
        assert all(v == "done" for k, v in status.items() if k not in trained), status
        assert "training skipped" in output and "--no-train" in output

        report = out / "report" / "report.html"
        html = report.read_text(encoding="utf-8")
        assert "SIMULATED" in html and f"Evidence package[/]: {report}" not in output  # rich markup rendered
        assert str(report) in output.replace("\n", "")
        assert json.loads((out / "curated" / "sft" / "manifest.json").read_text())["config"]["simulated"] is True
        study = json.loads((out / "study" / "result" / "study.json").read_text())
        assert study["simulated"] is True and study["sample"]["vignettes_analysed"] >= 3
        runs = json.loads((out / "eval" / "runs.json").read_text())
        assert runs == {"runs": ["runs/base/mcq", "runs/base/safety"], "ablation": False}
        assert not (out / "eval" / "ablation.json").exists()  # one model: nothing to pair it with
        commands = (out / "commands.sh").read_text()
        assert "safemed curate generate" in commands and "safemed report" in commands
        assert str(out) not in commands  # written with $OUT, so a user can copy them

        # a second run reuses everything; a removed output is redone alone
        code, output = _run(out, server.url, [])
        assert code == 0, output
        again = json.loads((out / "stages.json").read_text())
        assert {s["status"] for s in again["stages"]} == {"reused", "skipped"}
        assert [s["key"] for s in again["first_run"]] == [k for k, v in status.items() if v == "done"]
        shutil.rmtree(out / "report")
        code, output = _run(out, server.url, [])
        assert code == 0, output
        third = {s["key"]: s["status"] for s in json.loads((out / "stages.json").read_text())["stages"]}
        assert third["report"] == "done" and third["eval"] == "reused"
        assert (out / "report" / "report.html").is_file()


def test_a_failing_stage_names_its_command_and_log(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["quickstart", "--out", str(tmp_path / "qs"), "--model",
                                      "openai/standin@http://127.0.0.1:9/v1", "--no-train", "--limit", "1", "-q"])
    assert result.exit_code == 1
    assert "quickstart stopped: stage 'generate'" in result.output
    assert "logs/generate.log" in result.output and "run the same command again" in result.output
    assert json.loads((tmp_path / "qs" / "stages.json").read_text())["stages"][0]["status"] == "done"
