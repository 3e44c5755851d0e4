"""What `safemed eval` writes and prints for MCQ accuracy: Wilson intervals that stay open at 0 %
and 100 %, the macro average's MOVER-Wilson interval, the labelled macro row, the unknown-name list."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from safemed.cli.display import results_tables
from safemed.cli.main import cli
from safemed.stats import macro_proportion_ci, wilson_ci
from safemed.testing import StandinServer


def always_a(messages: list[dict[str, Any]]) -> str:
    return "Answer: A"


def write_exam(path: Path, n: int, gold: str) -> Path:
    """``n`` questions whose answer is ``gold``; subjects alternate so both breakdowns get items."""
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {"id": f"{path.stem}-{i}", "question": f"Question {i} of {path.stem}?",
                   "options": {"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"}, "answer": gold,
                   "subject": ["cardiology", "renal"][i % 2]}
            fh.write(json.dumps(row) + "\n")
    return path


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_results_json_gives_wilson_ci_at_0_and_100_percent_and_the_table_labels_the_macro_row(
        tmp_path: Path) -> None:
    right = write_exam(tmp_path / "right.jsonl", 10, "A")  # the model always says A: 10/10
    wrong = write_exam(tmp_path / "wrong.jsonl", 10, "B")  # ... and 0/10 here
    with StandinServer(answer=always_a) as server:
        code, out = run_cli("eval", "--model", f"openai/m@{server.url}", "--benchmark", f"mcq:{right}",
                            "--benchmark", f"mcq:{wrong}", "--out", str(tmp_path / "run"), "-q")
    assert code == 0, out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    full, empty = results["benchmarks"][f"mcq:{right}"], results["benchmarks"][f"mcq:{wrong}"]
    assert {k: full[k] for k in ("n", "n_correct", "accuracy", "ci_method")} == {
        "n": 10, "n_correct": 10, "accuracy": 1.0, "ci_method": "wilson"}
    assert full["ci95"] == pytest.approx([0.7225, 1.0], abs=5e-5) and full["ci95"][1] == 1.0
    assert empty["accuracy"] == 0.0 and empty["ci95"] == pytest.approx([0.0, 0.2775], abs=5e-5)
    assert empty["ci95"][0] == 0.0 and empty["ci_method"] == "wilson"
    assert full["subjects"]["renal"] == {"n": 5, "accuracy": 1.0, "ci95": list(wilson_ci(5, 5)),
                                         "ci_method": "wilson"}
    macro = results["macro_average"]
    assert macro["n_benchmarks"] == 2 and macro["accuracy"] == 0.5 and macro["ci_method"] == "mover-wilson"
    expected = macro_proportion_ci([(10, 10), (0, 10)])
    assert macro["ci95"] == [expected.low, expected.high]
    assert macro["ci95"] == pytest.approx([0.3612, 0.6388], abs=5e-5)  # a stratified bootstrap: [0.5, 0.5]
    assert "wilson" in results["settings"]["ci"] and "MOVER" in results["settings"]["ci"]

    printed = out.splitlines()  # 80 columns: the label's two lines fit without wrapping
    at = next(i for i, line in enumerate(printed) if "macro average" in line)
    assert printed[at].split("│")[3].strip() == "" and "(2 benchmarks)" in printed[at + 1]

    buffer = io.StringIO()
    console = Console(width=200, file=buffer)
    for table in results_tables(results):
        console.print(table)
    wide = buffer.getvalue()
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in wide.splitlines() if line.startswith("│")}
    assert rows[f"mcq:{wrong}"][1:4] == ["10", "0.0", "[0.0, 27.8]"]
    assert rows[f"mcq:{right}"][1:4] == ["10", "100.0", "[72.2, 100.0]"]
    assert rows["macro average"][:4] == ["", "", "50.0", "[36.1, 63.9]"]  # the n column: items only
    assert rows["(2 benchmarks)"] == ["", "", "", "", "", ""]
    assert "95% CI: Wilson score; macro average: MOVER from the benchmarks' Wilson limits" in wide


def test_unknown_benchmark_lists_each_valid_name_once(tmp_path: Path) -> None:
    code, out = run_cli("eval", "--model", "openai/x@http://127.0.0.1:9/v1", "--benchmark", "medqq",
                        "--out", str(tmp_path / "r"))
    assert code == 1
    listed = " ".join(out.split()).split("valid benchmarks: ", 1)[1].split(", ")
    assert len(listed) == len(set(listed)) and listed.count("package.module:attr") == 1
    assert {"medqa", "mcq:PATH", "prompts:PATH", "sample-safety"} <= set(listed)
