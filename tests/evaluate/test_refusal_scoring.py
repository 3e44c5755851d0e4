"""`safemed eval --judge refusal=rules [--score-as refusal]` and the paired refusal comparison.

The deterministic refusal rules (judge ``refusal-rules``, model spec ``rules``) score refusals
with no judge model; ``--score-as refusal`` scores the harmful prompts by them too, so a before
/after pair of runs shows what alignment training (SafeMed-R1 §3) should move: the refusal rate
on harmful prompts, with over-refusal on benign ones beside it. The models under test are
loopback stand-ins with scripted answers.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.testing import StandinServer

SAMPLE = Path(str(resources.files("safemed.datasets.prompts") / "samples" / "sample_safety.jsonl"))
HARMFUL = {json.loads(line)["prompt"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()}
REFUSAL = "I'm sorry, but I can't help with that."
ANSWER = ("Here is a careful answer: the usual adult dose and the signs that mean you should stop and "
          "seek care, explained step by step.")


def before(messages: list[dict[str, Any]]) -> str:
    """Refuses a third of all prompts (harmful or not), by a hash of the prompt."""
    prompt = str(messages[-1]["content"])
    return REFUSAL if int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3 == 0 else ANSWER


def after(messages: list[dict[str, Any]]) -> str:
    """Refuses every harmful prompt, and the same benign ones as ``before``."""
    prompt = str(messages[-1]["content"])
    return REFUSAL if prompt in HARMFUL else before(messages)


def evaluate(answer: Any, out: Path, *judges: str, score_as: str = "refusal") -> dict[str, Any]:
    with StandinServer(answer=answer) as model:
        args = ["eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample-safety", "--out", str(out), "-q",
                "--score-as", score_as]
        for judge in judges:
            args += ["--judge", judge]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(json.loads((out / "results.json").read_text()))


def test_refusal_rate_on_harmful_prompts_and_the_paired_difference(tmp_path: Path) -> None:
    a = evaluate(before, tmp_path / "a", "refusal=rules")
    b = evaluate(after, tmp_path / "b", "rules")  # a bare `rules` judge is the refusal rules too
    harmful_a, harmful_b = a["refusal"]["by_expected"]["refuse"], b["refusal"]["by_expected"]["refuse"]
    assert harmful_a["n"] == harmful_b["n"] == 18 and harmful_a["n_unparsed"] == 0
    judge_a = harmful_a["judges"]["refusal[rules]"]
    assert judge_a["ci_method"] == "wilson" and judge_a["ci95"][0] <= judge_a["rate"] <= judge_a["ci95"][1]
    assert harmful_b["rate"] == 1.0 and harmful_a["rate"] < 0.6
    assert a["refusal"]["by_benchmark"]["sample-safety"]["comply"]["n"] == 12
    assert a["over_refusal"]["rate"] == b["over_refusal"]["rate"]  # benign answers did not change
    samples = [json.loads(line) for line in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    assert {s["judge_kind"] for s in samples} == {"refusal"}
    assert all(j["judge"] == "refusal[rules]" and j["decided_by"] == "prefilter" for s in samples for j in s["judges"])

    out = tmp_path / "compare.json"
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(out),
                                      "--n-boot", "500"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Refusal rate, B − A" in result.output
    rows = json.loads(out.read_text())["refusal"]
    harmful = rows["sample-safety / refuse / refusal[rules]"]
    assert harmful["n"] == 18 and harmful["rate_b"] == 1.0
    assert harmful["difference"] == pytest.approx(harmful["rate_b"] - harmful["rate_a"]) and harmful["difference"] > 0
    assert harmful["ci95"][0] > 0  # the rise is clear of zero
    assert harmful["only_a_refused"] == 0 and harmful["only_b_refused"] > 0 and harmful["mcnemar_p"] < 0.05
    benign = rows["sample-safety / comply / refusal[rules]"]
    assert benign["difference"] == 0 and benign["ci95"] == [0, 0]


def test_rules_judge_beside_a_model_judge_scores_only_refusal(tmp_path: Path) -> None:
    """Default scoring: harmful prompts go to the MSB judge model, benign ones to the rules, which
    never ask a model (the rules backend would fail the run if asked to generate)."""
    with StandinServer(answer=lambda m: "#reason: looks fine.\n#score: 2") as judge:
        results = evaluate(before, tmp_path / "r", f"msb=openai/j@{judge.url}", "refusal=rules", score_as="default")
        assert judge.total == 18
    block = results["benchmarks"]["sample-safety"]["judged_by"]
    assert block["msb"]["n"] == 18 and list(block["refusal"]["judges"]) == ["refusal[rules]"]
    assert "refusal" not in results and results["over_refusal"]["n_scored"] == 12


def test_rules_cannot_be_a_model_judge(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--model", "openai/m@http://127.0.0.1:9/v1", "--benchmark",
                                      "sample-safety", "--out", str(tmp_path / "r"), "--judge", "msb=rules"])
    assert result.exit_code == 1
    assert "serves only the refusal rules" in result.output
