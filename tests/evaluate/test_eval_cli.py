"""`safemed eval` / `compare` end to end against a real loopback server: files, numbers, resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.testing import Faults, StandinServer


def write_mcq(path: Path, n: int, *, bad_line: int | None = None) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"id": f"q{i:05d}", "question": f"Synthetic question number {i}?",
                   "options": {"A": f"alpha {i}", "B": f"beta {i}", "C": f"gamma {i}", "D": f"delta {i}"},
                   "answer": "ABCD"[i % 4], "subject": ["cardiology", "pharmacology"][i % 2]}
            if bad_line is not None and i + 1 == bad_line:
                row["answer"] = "E"
            fh.write(json.dumps(row) + "\n")
    return path


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_eval_writes_samples_results_manifest(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 40)
    with StandinServer() as server:
        code, out = run_cli("eval", "--model", f"openai/standin@{server.url}", "--benchmark", f"mcq:{data}",
                            "--out", str(tmp_path / "run"), "--concurrency", "8", "-q")
    assert code == 0, out
    run = tmp_path / "run"
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert [s["id"] for s in samples] == [f"q{i:05d}" for i in range(40)]
    first = samples[0]
    assert set(first) >= {"id", "prompt", "response", "extracted", "gold", "correct", "usage", "cache_hit"}
    assert "Synthetic question number 0?" in first["prompt"] and first["response"].endswith(first["extracted"])
    results = json.loads((run / "results.json").read_text())
    block = results["benchmarks"][f"mcq:{data}"]
    n_correct = sum(s["correct"] for s in samples)
    assert block["n"] == 40 and block["accuracy"] == pytest.approx(n_correct / 40)
    low, high = block["ci95"]
    assert low <= block["accuracy"] <= high
    assert block["n_invalid"] == 0 and set(block["subjects"]) == {"cardiology", "pharmacology"}
    assert results["complete"] is True and results["macro_average"]["n_benchmarks"] == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "eval-run" and manifest["seed"] == 0
    assert manifest["inputs"][0]["path"].endswith("exam.jsonl") and len(manifest["inputs"][0]["sha256"]) == 64
    assert {o["path"] for o in manifest["outputs"]} == {"samples.jsonl", "results.json"}
    assert manifest["config"]["params"]["temperature"] == 0.0
    assert "Accuracy" in out


def test_unknown_benchmark_lists_valid_names(tmp_path: Path) -> None:
    code, out = run_cli("eval", "--model", "openai/x@http://127.0.0.1:9/v1", "--benchmark", "medqq",
                        "--out", str(tmp_path / "r"))
    assert code == 1 and "unknown benchmark 'medqq'" in out and "medqa" in out and "pubmedqa" in out


def test_unknown_backend_lists_valid_names(tmp_path: Path) -> None:
    code, out = run_cli("eval", "--model", "vllm/x", "--benchmark", "sample", "--out", str(tmp_path / "r"))
    assert code == 1 and "unknown backend 'vllm'" in out and "local, openai, replay" in out


def test_bad_row_names_file_line_field_and_sends_nothing(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "bad.jsonl", 10, bad_line=3)
    with StandinServer() as server:
        code, out = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}",
                            "--out", str(tmp_path / "r"), "-q")
        assert code == 1 and f"{data}:3" in out and "answer" in out
        assert server.total == 0
        code, out = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}",
                            "--out", str(tmp_path / "r"), "-q", "--skip-bad-rows")
    assert code == 0, out
    block = json.loads((tmp_path / "r" / "results.json").read_text())["benchmarks"][f"mcq:{data}"]
    assert block["n"] == 9 and block["n_bad_rows_skipped"] == 1


def test_unreachable_endpoint_fails_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    code, out = run_cli("eval", "--model", "openai/m@http://127.0.0.1:9/v1", "--benchmark", "sample",
                        "--out", str(tmp_path / "r"), "-q")
    assert code == 1 and "http://127.0.0.1:9/v1/chat/completions" in out
    assert time.monotonic() - started < 10


def test_storm_of_429_and_500_is_survived_and_reported(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 30)
    faults = Faults(first_failures=2, kinds=("429", "500"), retry_after=0.01)
    with StandinServer(faults=faults) as server:
        code, out = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}",
                            "--out", str(tmp_path / "r"), "-q", "--concurrency", "10")
    assert code == 0, out
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["engine"]["retries"] == {"429": 30, "500": 30}
    assert "60 retries" in out


def test_exhausted_retries_mark_run_incomplete_then_resume(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 12)
    with StandinServer(faults=Faults(first_failures=3, kinds=("503",), retry_after=0.0)) as server:
        args = ("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}",
                "--out", str(tmp_path / "r"), "-q", "--max-attempts", "2")
        code, out = run_cli(*args)
        assert code == 4 and "incomplete" in out
        results = json.loads((tmp_path / "r" / "results.json").read_text())
        assert results["complete"] is False and results["benchmarks"][f"mcq:{data}"]["n_error"] == 12
        code, out = run_cli(*args)
    assert code == 0, out
    assert json.loads((tmp_path / "r" / "results.json").read_text())["benchmarks"][f"mcq:{data}"]["n"] == 12


def test_token_budget_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 20)
    with StandinServer() as server:
        args = ["eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}", "--out",
                str(tmp_path / "r"), "-q", "--concurrency", "1"]
        code, out = run_cli(*args, "--max-tokens", "200")
        assert code == 3 and "token budget of 200 reached" in out
        assert not (tmp_path / "r" / "results.json").exists()
        asked = server.total
        code, out = run_cli(*args)
    assert code == 0
    assert server.total == 20 and 0 < asked < 20


def _cli_subprocess(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "safemed", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _cached_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_without_repeating_finished_samples(tmp_path: Path, sig: signal.Signals) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 300)
    with StandinServer(latency=0.02) as server:
        def args(out: str) -> list[str]:
            return ["eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}", "--out",
                    str(tmp_path / out), "-q", "--concurrency", "4"]

        proc = _cli_subprocess(args("killed"))
        deadline = time.monotonic() + 60
        while _cached_rows(tmp_path / "killed" / "cache.sqlite") < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=30)
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "run the same command again to resume" in output
        else:
            assert proc.returncode == -signal.SIGKILL
        assert not (tmp_path / "killed" / "results.json").exists()
        finished = _cached_rows(tmp_path / "killed" / "cache.sqlite")
        assert 40 <= finished < 300
        before = dict(server.requests)

        resumed = subprocess.run([sys.executable, "-m", "safemed", *args("killed")], capture_output=True, text=True,
                                 timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        again = {prompt: server.requests[prompt] - before.get(prompt, 0) for prompt in server.requests}
        assert sum(1 for v in again.values() if v == 0) >= finished  # finished samples were not asked again
        assert sum(again.values()) <= 300 - finished + 4  # at most the in-flight ones were repeated

        clean = subprocess.run([sys.executable, "-m", "safemed", *args("clean")], capture_output=True, text=True,
                               timeout=120)
        assert clean.returncode == 0, clean.stderr
    killed_results = (tmp_path / "killed" / "results.json").read_text()
    assert killed_results == (tmp_path / "clean" / "results.json").read_text()

    def strip(path: Path) -> list[dict[str, object]]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:
            row.pop("cache_hit")
        return rows

    assert strip(tmp_path / "killed" / "samples.jsonl") == strip(tmp_path / "clean" / "samples.jsonl")


def test_shuffle_is_seeded_and_scored_in_original_letters(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 30)
    outs = []
    with StandinServer() as server:
        for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
            code, out = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}", "--out",
                                str(tmp_path / name), "-q", "--shuffle", "--seed", seed)
            assert code == 0, out
            outs.append([json.loads(x) for x in (tmp_path / name / "samples.jsonl").read_text().splitlines()])
    assert [s["letter_map"] for s in outs[0]] == [s["letter_map"] for s in outs[1]]
    assert [s["letter_map"] for s in outs[0]] != [s["letter_map"] for s in outs[2]]
    for sample in outs[0]:
        shown = sample["response"].rsplit(" ", 1)[-1]
        assert sample["extracted"] == sample["letter_map"][shown]
        assert sample["correct"] == (sample["extracted"] == sample["gold"])


def test_compare_two_runs(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 60)

    def always_a(messages: list[dict[str, object]]) -> str:
        return "Answer: A"

    with StandinServer() as s1, StandinServer(answer=always_a) as s2:
        for name, server in (("a", s1), ("b", s2)):
            code, out = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data},sample",
                                "--out", str(tmp_path / name), "-q")
            assert code == 0, out
    code, out = run_cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(tmp_path / "c.json"))
    assert code == 0, out
    report = json.loads((tmp_path / "c.json").read_text())
    row = report["benchmarks"][f"mcq:{data}"]
    assert row["n"] == 60 and row["accuracy_b"] == pytest.approx(0.25)
    assert row["difference"] == pytest.approx(row["accuracy_b"] - row["accuracy_a"])
    assert row["ci95"][0] <= row["difference"] <= row["ci95"][1]
    assert set(report["benchmarks"]) == {f"mcq:{data}", "sample"}
    p_raw = sorted(r["mcnemar_p"] for r in report["benchmarks"].values())
    p_holm = sorted(r["p_holm"] for r in report["benchmarks"].values())
    assert p_holm[0] == pytest.approx(min(1.0, 2 * p_raw[0]))
    assert "McNemar" in out


def test_help_and_version() -> None:
    import click

    from safemed.cli.commands import COMMANDS

    code, out = run_cli("--version")
    assert code == 0 and "safemed, version" in out
    code, out = run_cli("--help")
    assert all(command in out for command in COMMANDS)

    def walk(path: list[str]) -> None:
        code, out = run_cli(*path, "--help")
        assert code == 0 and "Usage:" in out, path
        command = cli
        for name in path:
            assert isinstance(command, click.Group)
            found = command.get_command(click.Context(command), name)
            assert found is not None and found.help, f"{' '.join(path)} has no help text"
            command = found
        if isinstance(command, click.Group):
            for sub in command.list_commands(click.Context(command)):
                walk([*path, sub])

    for name in COMMANDS:
        walk([name])


@pytest.mark.skipif(os.environ.get("SAFEMED_SKIP_MODEL") == "1", reason="SAFEMED_SKIP_MODEL=1")
def test_local_default_model_answers_sample(tmp_path: Path) -> None:
    code, out = run_cli("eval", "--model", "local/default", "--benchmark", "sample", "--limit", "3",
                        "--max-new-tokens", "24", "--out", str(tmp_path / "r"), "-q")
    assert code == 0, out
    samples = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 and all(s["response"] for s in samples)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["model"]["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert len(manifest["config"]["model"]["sha256"]) == 64
