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

    with StandinServer() as server:  # prepare checks that the endpoints are there
        run = EvalRun.prepare(f"openai/m@{server.url}", [name], tmp_path, data_dir, McqSettings(),
                              EngineSettings(), JudgeSettings(judges=(f"openai/j@{server.url}",)))
        assert server.total == 0
    expected = {"med-safety-bench": {"med-safety-bench": 900, "xstest": 450}, "xstest": {"xstest": 450}}
    assert run.counts == expected[name]


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished three-judge run on the bundled safety sample."""
    out = tmp_path_factory.mktemp("panel") / "run"
    with StandinServer(answer=target) as model, StandinServer(answer=judge("plain")) as j1, \
            StandinServer(answer=judge("garbles")) as j2, StandinServer(answer=judge("never")) as j3:
        result = CliRunner().invoke(cli, [
            "eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample-safety", "--out", str(out), "-q",
            "--judge", f"openai/j1@{j1.url}", "--judge", f"openai/j2@{j2.url}", "--judge", f"openai/j3@{j3.url}"])
        assert result.exit_code == 0, result.output
    return out


def _msb_matrix(run: Path) -> tuple[list[str], list[list[float]]]:
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["judge_kind"] == "msb"]
    labels = [j["judge"] for j in rows[0]["judges"]]
    matrix = [[next(j["score"] for j in r["judges"] if j["judge"] == lab) or float("nan") for r in rows]
              for lab in labels]
    return labels, matrix


def test_judges_agreement_matches_reference_implementations(panel_run: Path) -> None:
    import krippendorff
    import numpy as np
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    result = CliRunner().invoke(cli, ["judges", "agreement", str(panel_run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output and "Krippendorff" in result.output
    report = json.loads((panel_run / "agreement-msb.json").read_text())
    labels, matrix = _msb_matrix(panel_run)
    data = np.array(matrix, dtype=float)
    domain = sorted({v for v in data.ravel() if not np.isnan(v)})
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=domain)
    alpha = report["krippendorff_alpha_ordinal"]
    assert alpha["value"] == pytest.approx(expected, abs=1e-9)
    assert alpha["ci"][0] <= alpha["value"] <= alpha["ci"][1]
    first = report["pairwise"][0]
    a, b = data[labels.index(first["rater_a"])], data[labels.index(first["rater_b"])]
    ok = ~np.isnan(a) & ~np.isnan(b)
    assert first["n"] == ok.sum()
    kappa = cohen_kappa_score(a[ok], b[ok], weights="quadratic", labels=domain)
    assert first["kappa_quadratic"]["value"] == pytest.approx(kappa, abs=1e-9)
    assert first["spearman"]["value"] == pytest.approx(spearmanr(a[ok], b[ok]).statistic, abs=1e-9)
    assert len(report["error_correlation"]) == 3


def test_judges_calibrate_against_human_labels(panel_run: Path, tmp_path: Path) -> None:
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    labels, matrix = _msb_matrix(panel_run)
    rows = [json.loads(x) for x in (panel_run / "samples.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in rows if r["judge_kind"] == "msb"]
    human = {i: (1 if j % 3 == 0 else 4 if j % 3 == 1 else 2) for j, i in enumerate(ids)}
    csv = tmp_path / "labels.csv"
    csv.write_text("id,score,rater\n" + "".join(f"{i},{s},r1\n" for i, s in human.items()) + "unknown-id,3,r1\n")
    result = CliRunner().invoke(cli, ["judges", "calibrate", str(panel_run), "--human", str(csv)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    cal = json.loads((panel_run / "calibration.json").read_text())
    assert cal["n_shared"] == 18 and cal["n_unmatched_labels"] == 1
    j1 = cal["judges"][labels[0]]
    a = np.array(matrix[0])
    truth = np.array([human[i] for i in ids], dtype=float)
    assert j1["kappa_quadratic"]["value"] == pytest.approx(
        cohen_kappa_score(truth, a, weights="quadratic", labels=[1, 2, 3, 4, 5]), abs=1e-9)
    assert j1["mae"] == pytest.approx(float(np.mean(np.abs(a - truth))))
    cut = j1["unsafe_cut"]
    assert cut["tp"] == int(((a >= 4) & (truth >= 4)).sum()) and cut["fn"] == int(((a < 4) & (truth >= 4)).sum())
    assert sum(map(sum, j1["confusion_matrix"]["counts"])) == 18
    assert "panel_mean" in cal["judges"] and set(cal["recommendation"]) >= {"keep", "drop", "rule"}
    rates = cal["corrected_unsafe_rates"]
    assert set(rates) == set(labels)
    assert rates[labels[0]]["raw_rate"] == pytest.approx(float(np.mean(a >= 4)))
    assert "keep:" in result.output


def test_calibrate_with_no_shared_ids_is_a_clear_error(panel_run: Path, tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("id,score\nnope,1\n")
    result = CliRunner().invoke(cli, ["judges", "calibrate", str(panel_run), "--human", str(csv)])
    assert result.exit_code == 1 and "share no item ids" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,score\nx,high\n")
    result = CliRunner().invoke(cli, ["judges", "calibrate", str(panel_run), "--human", str(bad)])
    assert result.exit_code == 1 and f"{bad}:2" in result.output and "score" in result.output


def test_compare_safety_runs_per_judge(panel_run: Path, tmp_path: Path) -> None:
    def complier(messages: list[dict[str, Any]]) -> str:
        return "Sure. Here is everything you asked for, in detail. " * 6

    out = tmp_path / "b"
    with StandinServer(answer=complier) as model, StandinServer(answer=judge("plain")) as j1:
        result = CliRunner().invoke(cli, ["eval", "--model", f"openai/m@{model.url}", "--benchmark",
                                          "sample-safety", "--out", str(out), "-q", "--judge", f"openai/j1@{j1.url}"])
        assert result.exit_code == 0, result.output
    # judges are matched by configuration hash, not by endpoint URL: j1 (same model name, template,
    # parser, parameters) is the same judge in both runs although it was served from another port;
    # j2 and j3 have no counterpart and are reported as not comparable
    result = CliRunner().invoke(cli, ["compare", str(panel_run), str(out), "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text())["safety"]
    compared = [r for r in report.values() if r["comparable"]]
    assert {r["judge"].split("@")[0] for r in compared} == {"msb[openai/j1", "refusal[openai/j1"}
    msb = next(r for r in compared if r["judge"].startswith("msb["))
    assert msb["n"] == 18 and msb["difference"] == pytest.approx(msb["mean_b"] - msb["mean_a"])
    assert sum(not r["comparable"] for r in report.values()) == 4


def test_compare_safety_same_judges(tmp_path: Path) -> None:
    def complier(messages: list[dict[str, Any]]) -> str:
        return "Sure. Here is everything you asked for, in detail. " * 6

    with StandinServer(answer=target) as m1, StandinServer(answer=complier) as m2, \
            StandinServer(answer=judge("plain")) as j1:
        for name, model in (("a", m1), ("b", m2)):
            result = CliRunner().invoke(cli, ["eval", "--model", f"openai/m@{model.url}", "--benchmark",
                                              "sample-safety", "--out", str(tmp_path / name), "-q",
                                              "--judge", f"openai/j1@{j1.url}"])
            assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json",
                                      str(tmp_path / "c.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text())
    msb = next(v for k, v in report["safety"].items() if "/ msb[" in k)
    assert msb["comparable"] and msb["n"] == 18
    assert msb["difference"] == pytest.approx(msb["mean_b"] - msb["mean_a"]) and msb["difference"] > 0
    assert msb["ci95"][0] <= msb["difference"] <= msb["ci95"][1] and 0 <= msb["p_holm"] <= 1
    assert "Judge scores" in result.output


def test_replay_backend_scores_recorded_responses(tmp_path: Path) -> None:
    """Recorded responses (here: refusals for every harmful sample prompt) judged like a live model."""
    from safemed.datasets import get_prompt_set

    items = list(get_prompt_set("sample-safety").load(tmp_path))
    harmful = [i for i in items if i.expected == "refuse"]
    replay = tmp_path / "responses.jsonl"
    replay.write_text("".join(json.dumps({"prompt": i.prompt, "response": "I can't help with that."}) + "\n"
                              for i in harmful))
    with StandinServer(answer=judge("plain")) as j1:
        result = CliRunner().invoke(cli, ["eval", "--model", f"replay/{replay}", "--benchmark", "sample-safety",
                                          "--out", str(tmp_path / "r"), "-q", "--judge", f"openai/j1@{j1.url}"])
    assert result.exit_code == 4, result.output  # benign prompts have no recorded response: counted errors
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    block = results["benchmarks"]["sample-safety"]
    assert block["n"] == 18 and block["n_error"] == 12
    msb = next(iter(block["judged_by"]["msb"]["judges"].values()))
    assert msb["mean"]["value"] == 1.0 and msb["share_1"]["k"] == 18
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["model"]["backend"] == "replay" and len(manifest["config"]["model"]["sha256"]) == 64


def test_eval_with_calibration_reports_corrected_unsafe_rates(tmp_path: Path) -> None:
    with StandinServer(answer=target) as model, StandinServer(answer=judge("plain")) as j1:
        args = ["eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample-safety", "--out",
                str(tmp_path / "run"), "-q", "--judge", f"openai/j1@{j1.url}"]
        assert CliRunner().invoke(cli, args).exit_code == 0
        rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
        ids = [r["id"] for r in rows if r["judge_kind"] == "msb"]
        labels = tmp_path / "labels.csv"
        labels.write_text("id,score\n" + "".join(f"{i},{5 if n % 2 else 1}\n" for n, i in enumerate(ids)))
        result = CliRunner().invoke(cli, ["judges", "calibrate", str(tmp_path / "run"), "--human", str(labels)])
        assert result.exit_code == 0, result.output
        again = CliRunner().invoke(cli, [*args, "--calibration", str(tmp_path / "run" / "calibration.json")])
        assert again.exit_code == 0, again.output
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    corrected = results["benchmarks"]["sample-safety"]["judged_by"]["msb"]["unsafe_rate_corrected"]
    (label, entry), = corrected.items()
    assert label.startswith("msb[openai/j1@") and entry["n"] == 18 and entry["threshold"] == 4.0
    flags = [next(j["score"] for j in r["judges"]) >= 4 for r in rows if r["judge_kind"] == "msb"]
    assert entry["raw_rate"] == pytest.approx(sum(flags) / len(flags))
    assert set(entry["corrected"]) >= {"value", "ci"}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["calibration"]["judge_kind"] == "msb"
