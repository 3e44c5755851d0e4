"""``safemed export --format inspect``: read back with inspect_ai itself, sample by sample, score by
score, and served by the `inspect view` server's own API."""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from safemed.report.exports import export_run

from .test_export_runs import mcq_run, redteam_run, results, rows, safety_run  # noqa: F401 - session fixtures

inspect_log = pytest.importorskip("inspect_ai.log", reason="inspect-ai is a test dependency")


def read_logs(folder: Path) -> dict[str, Any]:
    """Every log inspect lists in ``folder``, read in full, by task."""
    listed = inspect_log.list_eval_logs(str(folder))
    logs = [inspect_log.read_eval_log(info) for info in listed]
    return {log.eval.task: log for log in logs}


def by_benchmark(run: Path, key: str = "benchmark") -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows(run):
        grouped[row[key]].append(row)
    return grouped


def check_trace(log: Any, run: Path) -> None:
    trace = log.eval.metadata["safemed"]
    manifest = (run / "manifest.json").read_bytes()
    assert trace["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert trace["manifest_id"] == json.loads(manifest)["id"] == log.eval.run_id
    assert trace["outputs_sha256"]["samples.jsonl"] == hashlib.sha256((run / "samples.jsonl").read_bytes()).hexdigest()


def metric(log: Any, score: str, name: str) -> Any:
    (entry,) = [s for s in log.results.scores if s.name == score]
    return entry.metrics[name]


def test_mcq_run_reads_back_with_every_sample_and_score(mcq_run: Path, tmp_path: Path) -> None:  # noqa: F811
    export_run(mcq_run, "inspect", tmp_path)
    logs = read_logs(tmp_path)
    res = results(mcq_run)
    assert set(logs) == {"sample", "sample-zh"}
    for name, samples in by_benchmark(mcq_run).items():
        log, block = logs[name], res["benchmarks"][name]
        assert log.eval.model == res["model"] and log.eval.dataset.name == name
        assert log.eval.dataset.samples == len(samples) == len(log.samples)
        assert log.status == ("error" if block["n_error"] else "success")
        check_trace(log, mcq_run)
        for row, sample in zip(samples, log.samples, strict=True):
            assert (sample.id, sample.input, sample.target) == (row["id"], row["prompt"], row["gold"])
            if row["response"] is None:
                assert sample.error is not None and sample.error.message == row["error"] and not sample.scores
                continue
            assert sample.output.completion == row["response"]
            assert [m.role for m in sample.messages] == ["user", "assistant"]
            score = sample.scores["choice"]
            assert score.value == ("C" if row["correct"] else "I") and score.answer == row["extracted"]
            usage = sample.model_usage[res["model"]]
            assert (usage.input_tokens, usage.output_tokens) == (row["usage"]["prompt_tokens"],
                                                                 row["usage"]["completion_tokens"])
        accuracy = metric(log, "choice", "accuracy")
        assert accuracy.value == block["accuracy"] and accuracy.metadata["ci95"] == block["ci95"]
        assert metric(log, "choice", "ci95_low").value == block["ci95"][0]
        assert accuracy.metadata["n_invalid"] == block["n_invalid"] and accuracy.metadata["n_error"] == block["n_error"]
        subjects = {m.name: m.value for m in log.results.scores[0].metrics.values() if m.group == "accuracy by subject"}
        assert subjects == {k: v["accuracy"] for k, v in block["subjects"].items()}
        answered = [r for r in samples if r["response"] is not None]
        usage = log.stats.model_usage[res["model"]]
        assert usage.input_tokens == sum(r["usage"]["prompt_tokens"] for r in answered)
        assert usage.output_tokens == sum(r["usage"]["completion_tokens"] for r in answered)
        assert log.results.metadata["macro_average"] == res["macro_average"]
    assert any(log.status == "error" for log in logs.values())  # the run had failed requests


def test_safety_run_keeps_every_judge_score_and_unparsed_replies_unscored(safety_run: Path,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    export_run(safety_run, "inspect", tmp_path)
    (log,) = read_logs(tmp_path).values()
    res = results(safety_run)
    block = res["benchmarks"]["sample-safety"]
    samples = rows(safety_run)
    assert log.eval.task == "sample-safety" and log.eval.model == res["model"]
    assert [s.id for s in log.samples] == [r["id"] for r in samples]
    check_trace(log, safety_run)
    n_unparsed = 0
    for row, sample in zip(samples, log.samples, strict=True):
        assert sample.input == row["prompt"] and sample.output.completion == row["response"]
        assert sample.target == (row["expected"] or "") and sample.metadata["category"] == row["category"]
        assert set(sample.scores) == {row["judge_kind"], *(j["judge"] for j in row["judges"])}
        panel = sample.scores[row["judge_kind"]].value
        assert math.isnan(panel) if row["judge_mean"] is None else panel == row["judge_mean"]
        for judge in row["judges"]:
            score = sample.scores[judge["judge"]]
            assert score.metadata["status"] == judge["status"] and score.metadata["raw"] == judge["raw"]
            if judge["score"] is None:
                n_unparsed += 1
                assert math.isnan(score.value) and score.reason == "grader_failed"  # unscored, never a number
            else:
                assert score.value == judge["score"] and score.reason is None
    assert n_unparsed == sum(j["n_unparsed"] for kind in block["judged_by"].values() for j in kind["judges"].values())
    assert n_unparsed > 0
    for kind, panel_block in block["judged_by"].items():
        overall = metric(log, kind, "mean")
        assert overall.value == panel_block["overall_avg"]["value"]
        assert overall.metadata["ci95"] == panel_block["overall_avg"]["ci"]
        for label, judge in panel_block["judges"].items():
            mean = metric(log, label, "mean")
            assert mean.value == judge["mean"]["value"] and mean.metadata["ci95"] == judge["mean"]["ci"]
            assert mean.metadata["n_unparsed"] == judge["n_unparsed"]
            (entry,) = [s for s in log.results.scores if s.name == label]
            assert entry.unscored_samples == judge["n_unparsed"] + judge["n_failed"]
    assert log.results.metadata["over_refusal"] == res["over_refusal"]
    assert log.results.metadata["safemed_results"] == block
    assert log.stats.started_at and log.stats.completed_at


def test_redteam_run_gives_one_log_per_attack(redteam_run: Path, tmp_path: Path) -> None:  # noqa: F811
    export_run(redteam_run, "inspect", tmp_path)
    logs = read_logs(tmp_path)
    res = results(redteam_run)
    assert set(logs) == {f"redteam-{a}" for a in res["attacks"]}
    for attack, samples in by_benchmark(redteam_run, "attack").items():
        log, block = logs[f"redteam-{attack}"], res["attacks"][attack]
        assert [s.id for s in log.samples] == [r["seed_id"] for r in samples]
        for row, sample in zip(samples, log.samples, strict=True):
            sent = row["conversation"][:-1]
            assert [(m.role, m.text) for m in sample.input] == [(m["role"], m["content"]) for m in sent]
            assert sample.output.completion == row["conversation"][-1]["content"]
            wins = row["success"]
            assert sample.scores["attack_success"].value == sum(wins.values()) / len(wins)
            for judge in row["judges"]:
                value = sample.scores[judge["judge"]].value
                assert math.isnan(value) if judge["score"] is None else value == judge["score"]
        assert metric(log, "attack_success", "asr").value == block["asr"]
        for label, judge in block["judges"].items():
            assert metric(log, label, "asr").value == judge["asr"]


def test_a_one_benchmark_run_can_be_written_as_one_named_file(safety_run: Path, tmp_path: Path) -> None:  # noqa: F811
    target = tmp_path / "safety.json"
    assert export_run(safety_run, "inspect", target) == target
    log = inspect_log.read_eval_log(str(target))
    assert log.eval.task == "sample-safety" and len(log.samples) == len(rows(safety_run))
    again = tmp_path / "again.json"
    export_run(safety_run, "inspect", again)
    assert again.read_bytes() == target.read_bytes()  # deterministic: the same run gives the same log


def test_inspect_view_lists_and_serves_the_logs(mcq_run: Path, safety_run: Path, tmp_path: Path) -> None:  # noqa: F811
    """The API `inspect view` serves its viewer from: the listing (which needs inspect's file
    naming), the headers the log list shows, and each whole log."""
    testclient = pytest.importorskip("fastapi.testclient")
    from inspect_ai._view.fastapi_server import view_server_app

    export_run(mcq_run, "inspect", tmp_path)
    export_run(safety_run, "inspect", tmp_path)
    client = testclient.TestClient(view_server_app(default_dir=str(tmp_path)))
    listing = client.get("/log-files")
    assert listing.status_code == 200
    files = listing.json()["files"]
    assert sorted(f["task"] for f in files) == ["sample", "sample-safety", "sample-zh"]
    headers = client.get("/log-headers", params=[("file", f["name"]) for f in files])
    assert headers.status_code == 200
    assert sorted(h["eval"]["task"] for h in headers.json()) == ["sample", "sample-safety", "sample-zh"]
    for entry in files:
        served = client.get("/logs/" + quote(entry["name"], safe=""))
        assert served.status_code == 200 and b'"samples"' in served.content
    assert inspect_log.read_eval_log(files[0]["name"], header_only=True).results is not None


def test_refusal_scored_run_keeps_the_refusal_rates(safety_run: Path, tmp_path: Path) -> None:  # noqa: F811
    """``--score-as refusal`` with the deterministic refusal rules: the per-expected-behaviour
    rates reach both exports."""
    from click.testing import CliRunner

    from safemed.cli.main import cli

    replay = next(safety_run.parent.glob("responses.jsonl"))
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["eval", "--model", f"replay/{replay}", "--benchmark", "sample-safety", "--out",
                                      str(run), "-q", "--judge", "refusal=rules", "--score-as", "refusal"])
    assert result.exit_code == 0, result.output
    res = results(run)
    export_run(run, "inspect", tmp_path / "logs")
    (log,) = read_logs(tmp_path / "logs").values()
    panel = res["benchmarks"]["sample-safety"]["judged_by"]["refusal"]
    (label,) = panel["judges"]
    (entry,) = [s for s in log.results.scores if s.name == label]
    for expected, block in panel["refusal_rate_by_expected"].items():
        assert entry.metrics[f"refusal_rate:{expected}"].value == block["judges"][label]["rate"]
    assert log.results.metadata["refusal"] == res["refusal"]
    lm = export_run(run, "lm-eval", tmp_path / "lm")
    assert json.loads(lm.read_text(encoding="utf-8"))["safemed"]["refusal"] == res["refusal"]
