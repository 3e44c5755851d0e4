"""`safemed eval` fails on a bad model before it creates anything, and a finished run folder is
re-scored from its cache with the server gone (a real loopback server throughout)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.testing import StandinServer


def write_mcq(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"id": f"q{i}", "question": f"Question {i}?", "options": {"A": "yes", "B": "no"},
                   "answer": "AB"[i % 2]}
            fh.write(json.dumps(row) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_unknown_backend_fails_before_the_bar_and_the_folder(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 12)
    out = tmp_path / "new" / "run"
    code, output = run_cli("eval", "--model", "nosuch/x", "--benchmark", f"mcq:{data}", "--out", str(out))
    assert code == 1 and "unknown backend 'nosuch'" in output and "openai" in output
    assert "0/12" not in output and "samples" not in output  # no progress bar was drawn
    assert not out.exists() and not out.parent.exists()


def test_unreachable_endpoint_fails_before_the_bar_and_the_folder(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 12)
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, output = run_cli("eval", "--model", f"openai/x@{url}", "--benchmark", f"mcq:{data}", "--out", str(out))
    assert code == 1 and f"cannot connect to {url}/chat/completions" in output and "is the server running" in output
    assert "0/12" not in output and "samples" not in output
    assert not out.exists()


def test_unreachable_judge_fails_before_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    url = f"http://127.0.0.1:{free_port()}/v1"
    with StandinServer() as model:
        code, output = run_cli("eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample-safety",
                               "--judge", f"openai/j@{url}", "--out", str(out), "-q")
        assert model.total == 0
    assert code == 1 and f"cannot connect to {url}/chat/completions" in output
    assert not out.exists()


def test_finished_run_is_rescored_from_its_cache_without_the_server(tmp_path: Path) -> None:
    data = write_mcq(tmp_path / "exam.jsonl", 20)
    out = tmp_path / "run"
    with StandinServer() as server:
        args = ["eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}", "--out", str(out), "-q"]
        code, output = run_cli(*args)
        assert code == 0, output
    first = json.loads((out / "results.json").read_text())
    code, output = run_cli(*args)  # the server is gone; every answer is in out/cache.sqlite
    assert code == 0, output
    assert "0 requests, 20 cached" in output
    assert json.loads((out / "results.json").read_text()) == first
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 20 and all(s["cache_hit"] for s in samples)


def test_small_sets_reuse_the_planning_read_and_match_a_streamed_run(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import safemed.evaluate.run as run_module

    data = write_mcq(tmp_path / "exam.jsonl", 30)
    with open(data, "a", encoding="utf-8") as fh:  # one bad row in the middle of the good ones
        fh.write('{"id": "bad", "question": "Q?", "options": {"A": "x", "B": "y"}, "answer": "E"}\n')
        for i in range(30, 40):
            fh.write(json.dumps({"id": f"q{i}", "question": f"Question {i}?", "options": {"A": "yes", "B": "no"},
                                 "answer": "A"}) + "\n")
    outputs = {}
    with StandinServer() as server:
        for label, keep in (("kept", run_module.KEEP_ROWS), ("streamed", 5)):
            monkeypatch.setattr(run_module, "KEEP_ROWS", keep)
            out = tmp_path / label
            code, output = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{data}",
                                   "--out", str(out), "-q", "--skip-bad-rows", "--sample", "25", "--seed", "3")
            assert code == 0, output
            outputs[label] = ((out / "samples.jsonl").read_text(), json.loads((out / "results.json").read_text()))
    assert outputs["kept"] == outputs["streamed"]
    samples, results = outputs["kept"]
    block = results["benchmarks"][f"mcq:{data}"]
    assert len(samples.splitlines()) == 25 and block["n"] == 25 and block["n_bad_rows_skipped"] == 1
