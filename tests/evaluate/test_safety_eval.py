"""`safemed eval` on safety sets with a three-judge panel over real loopback servers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli
from safemed.testing import Faults, StandinServer


def target(messages: list[dict[str, Any]]) -> str:
    """A model that refuses some harmful requests, complies with the rest, and over-refuses a bit."""
    prompt = str(messages[-1]["content"])
    h = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    if h % 3 == 0:
        return "I'm sorry, but I can't help with that."
    return ("Sure. Here is a detailed and thorough answer that addresses every part of the request with "
            "specific steps, considerations and background information for the person asking it. " * 3)


def judge(variant: str) -> Any:
    def answer(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        if "#class" in prompt:
            return "#class: partial_refusal" if "sorry" in prompt.lower() else "#class: full_compliance"
        h = int(hashlib.sha256(prompt.split("(Re-ask")[0].encode()).hexdigest(), 16)
        if variant == "garbles" and h % 4 == 0 and "Re-ask" not in prompt:
            return "Hard to say; maybe a 3/5."
        if variant == "never" and h % 5 == 0:
            return "no idea"
        score = 1 if "can't help" in prompt else 2 + h % 4
        return f"#reason: analysed.\n#score: {score}"
    return answer


def test_msb_style_panel_run(tmp_path: Path) -> None:
    with StandinServer(answer=target) as model, StandinServer(answer=judge("plain")) as j1, \
            StandinServer(answer=judge("garbles")) as j2, \
            StandinServer(answer=judge("never"), faults=Faults(first_failures=1, kinds=("429",),
                                                               retry_after=0.01)) as j3:
        args = ["eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample-safety", "--out",
                str(tmp_path / "run"), "-q", "--judge", f"openai/j1@{j1.url}", "--judge", f"openai/j2@{j2.url}",
                "--judge", f"openai/j3@{j3.url}", "--concurrency", "8"]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        total_judge_requests = j1.total + j2.total + j3.total
        again = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert again.exit_code == 0
        assert j1.total + j2.total + j3.total == total_judge_requests  # resumed entirely from the cache
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    block = results["benchmarks"]["sample-safety"]
    msb = block["judged_by"]["msb"]
    assert msb["n"] == 18 and len(msb["judges"]) == 3
    labels = sorted(msb["judges"])
    assert labels[0].startswith("msb[openai/j1@")
    j2_summary = msb["judges"][labels[1]]
    assert j2_summary["n_reasked"] > 0 and j2_summary["n_unparsed"] == 0
    j3_summary = msb["judges"][labels[2]]
    assert j3_summary["n_unparsed"] > 0
    assert j3_summary["n_scored"] + j3_summary["n_unparsed"] == 18  # unparsed counted, never imputed
    assert set(msb["by_category"]) == {str(k) for k in range(1, 10)}
    assert msb["overall_avg"]["ci"][0] <= msb["overall_avg"]["value"] <= msb["overall_avg"]["ci"][1]
    assert "share_ge_4" in msb["judges"][labels[0]] and msb["spread"]["judge_means_range"] is not None
    refusal = block["judged_by"]["refusal"]
    assert refusal["n"] == 12
    over = results["over_refusal"]
    assert over["sets"] == ["sample-safety"] and 0 <= over["rate"] <= 1
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 30 and all(len(s["judges"]) == 3 for s in samples)
    assert {s["judge_kind"] for s in samples} == {"msb", "refusal"}
    unparsed = [j for s in samples for j in s["judges"] if j["status"] == "unparsed"]
    assert unparsed and all(j["score"] is None and len(j["raw"]) == 3 for j in unparsed)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    hashes = {p["config_hash"] for p in manifest["config"]["panels"]}
    assert len(hashes) == 6  # 3 judge models × 2 judge kinds, each its own configuration
    assert "over-refusal" in result.output


def test_safety_set_needs_a_judge(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--model", "openai/m@http://127.0.0.1:9/v1", "--benchmark",
                                      "sample-safety", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "--judge" in result.output


def test_unknown_name_lists_mcq_and_prompt_sets(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "--model", "openai/m@http://127.0.0.1:9/v1", "--benchmark",
                                      "msb", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "med-safety-bench" in result.output and "medqa" in result.output


@pytest.mark.parametrize("name", ["med-safety-bench", "xstest"])
def test_real_sets_plan(tmp_path: Path, data_dir: Path, name: str) -> None:
    from safemed.evaluate.mcq import McqSettings
    from safemed.evaluate.run import EngineSettings, EvalRun, JudgeSettings

    run = EvalRun.prepare("openai/m@http://127.0.0.1:9/v1", [name], tmp_path, data_dir, McqSettings(),
                          EngineSettings(), JudgeSettings(judges=("openai/j@http://127.0.0.1:9/v1",)))
    expected = {"med-safety-bench": {"med-safety-bench": 900, "xstest": 450}, "xstest": {"xstest": 450}}
    assert run.counts == expected[name]
