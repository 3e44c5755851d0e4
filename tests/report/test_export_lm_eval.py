"""``safemed export --format lm-eval``: found, loaded and tabulated with lm-eval's own utilities,
every number equal to results.json, every standard error recomputed with lm-eval's metrics from
the exported samples files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from safemed.report.exports import export_run

from .test_export_runs import mcq_run, redteam_run, results, rows, safety_run  # noqa: F401 - session fixtures

lm_utils = pytest.importorskip("lm_eval.utils", reason="lm-eval is a test dependency")
lm_metrics = pytest.importorskip("lm_eval.api.metrics", reason="lm-eval is a test dependency")


def load(out: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """What an lm-eval user does with an output folder: the latest results file and the samples
    files by task (lm-eval's file-name helpers pick them out)."""
    files = [str(p) for p in out.rglob("*") if p.is_file()]
    latest = lm_utils.get_latest_filename(lm_utils.get_results_filenames(files))
    loaded = json.loads(Path(latest).read_text(encoding="utf-8"))
    samples = {}
    for name in lm_utils.get_sample_results_filenames(files):
        task = lm_utils.get_file_task_name(Path(name).name)
        samples[task] = [json.loads(line) for line in Path(name).read_text(encoding="utf-8").splitlines()]
    return loaded, samples


def values(lines: list[dict[str, Any]], metric: str, filt: str = "none") -> list[float]:
    return [line[metric] for line in lines if line["filter"] == filt and line[metric] is not None]


def test_mcq_run_as_lm_eval_results(mcq_run: Path, tmp_path: Path) -> None:  # noqa: F811
    path = export_run(mcq_run, "lm-eval", tmp_path)
    res = results(mcq_run)
    loaded, samples = load(tmp_path)
    assert Path(path).parent.name == lm_utils.sanitize_model_name(res["model"])
    table = lm_utils.make_table(loaded)
    accs = []
    for name, block in res["benchmarks"].items():
        entry = loaded["results"][name]
        assert entry["alias"] == name and entry["acc,none"] == block["accuracy"]
        lines = samples[name]
        answered = [r for r in rows(mcq_run) if r["benchmark"] == name and r["response"] is not None]
        assert [line["doc"]["id"] for line in lines] == [r["id"] for r in answered]
        assert [line["resps"] for line in lines] == [[[r["response"]]] for r in answered]
        acc = values(lines, "acc")
        assert lm_metrics.mean(acc) == pytest.approx(block["accuracy"])
        assert entry["acc_stderr,none"] == pytest.approx(lm_metrics.mean_stderr(acc))
        assert loaded["n-samples"][name] == {"original": len(answered) + block["n_error"], "effective": block["n"]}
        meta = loaded["configs"][name]["metadata"]["safemed"]
        assert meta["ci95"] == block["ci95"] and meta["n_invalid"] == block["n_invalid"]
        assert f"{block['accuracy']:.4f}" in table
        accs.append(block["accuracy"])
    group = loaded["groups"]["safemed_mcq"]
    assert loaded["group_subtasks"]["safemed_mcq"] == list(res["benchmarks"])
    assert group["acc,none"] == res["macro_average"]["accuracy"]
    assert group["acc,none"] == pytest.approx(lm_metrics.aggregate_subtask_metrics(accs, [1, 1],
                                                                                    weight_by_size=False))
    stderrs = [loaded["results"][n]["acc_stderr,none"] for n in res["benchmarks"]]
    assert group["acc_stderr,none"] == pytest.approx(lm_metrics.unweighted_mean_stderr(stderrs))
    assert "macro average" in lm_utils.make_table(loaded, "groups")
    assert loaded["config"]["model_args"]["model"] == res["model"]
    assert loaded["safemed"]["manifest_id"] == json.loads((mcq_run / "manifest.json").read_text())["id"]


def test_safety_run_as_lm_eval_results(safety_run: Path, tmp_path: Path) -> None:  # noqa: F811
    export_run(safety_run, "lm-eval", tmp_path)
    res = results(safety_run)
    loaded, samples = load(tmp_path)
    block = res["benchmarks"]["sample-safety"]
    for kind, panel in block["judged_by"].items():
        task = f"sample-safety_{kind}"
        entry, lines = loaded["results"][task], samples[task]
        assert entry["judge_mean,none"] == panel["overall_avg"]["value"]
        assert entry["judge_mean_stderr,none"] == pytest.approx(lm_metrics.mean_stderr(values(lines, "judge_mean")))
        assert lm_metrics.mean(values(lines, "judge_mean")) == pytest.approx(panel["overall_avg"]["value"])
        for label, judge in panel["judges"].items():
            assert entry[f"judge_mean,{label}"] == judge["mean"]["value"]
            assert lm_metrics.mean(values(lines, "judge_mean", label)) == pytest.approx(judge["mean"]["value"])
            assert entry[f"n_unparsed,{label}"] == judge["n_unparsed"]
            unparsed = [line for line in lines if line["filter"] == label and line["judge_status"] == "unparsed"]
            assert len(unparsed) == judge["n_unparsed"]
            assert all(line["judge_mean"] is None and line["judge_raw"] for line in unparsed)  # never a number
            if "share_ge_4" in judge:
                assert entry[f"share_ge_4,{label}"] == judge["share_ge_4"]["value"]
        assert loaded["configs"][task]["metadata"]["safemed"]["overall_avg"] == panel["overall_avg"]
    over = loaded["results"]["over_refusal"]
    assert over["refusal_rate,none"] == res["over_refusal"]["rate"]
    refused = values(samples["over_refusal"], "refusal_rate")
    assert lm_metrics.mean(refused) == pytest.approx(res["over_refusal"]["rate"])
    for label, judge in res["over_refusal"]["judges"].items():
        assert over[f"refusal_rate,{label}"] == judge["rate"]
    assert loaded["higher_is_better"]["sample-safety_msb"]["judge_mean"] is False  # MSB: lower is safer
    table = lm_utils.make_table(loaded)
    assert "sample-safety (msb judges)" in table and "over-refusal" in table
    text = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json*") if p.is_file())
    assert "NaN" not in text  # strict JSON, as lm-eval and its readers expect


def test_redteam_run_as_lm_eval_results(redteam_run: Path, tmp_path: Path) -> None:  # noqa: F811
    export_run(redteam_run, "lm-eval", tmp_path)
    res = results(redteam_run)
    loaded, samples = load(tmp_path)
    for attack, block in res["attacks"].items():
        task = f"redteam_{attack}"
        entry = loaded["results"][task]
        assert entry["asr,none"] == block["asr"]
        assert lm_metrics.mean(values(samples[task], "asr")) == pytest.approx(block["asr"])
        assert entry["asr_stderr,none"] == pytest.approx(lm_metrics.mean_stderr(values(samples[task], "asr")))
        for label, judge in block["judges"].items():
            assert entry[f"asr,{label}"] == judge["asr"] and entry[f"n_unparsed,{label}"] == judge["n_unparsed"]
            flags = values(samples[task], "asr", label)
            assert len(flags) == judge["n"] and math.isclose(sum(flags) / len(flags), judge["asr"])
    assert "red team: role_play" in lm_utils.make_table(loaded)


def test_a_json_out_follows_lm_evals_own_naming(mcq_run: Path, tmp_path: Path) -> None:  # noqa: F811
    path = export_run(mcq_run, "lm-eval", tmp_path / "scores.json")
    assert path.parent == tmp_path and path.name.startswith("scores_") and path.suffix == ".json"
    assert sorted(p.name.split("_")[0] for p in tmp_path.iterdir()) == ["samples", "samples", "scores"]
