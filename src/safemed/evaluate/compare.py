"""Paired comparison of two evaluation runs on the same items.

"Is the aligned model better than its base?" needs a paired analysis: the same item answered by
both. Per benchmark we report the accuracy difference (B − A) with a paired bootstrap CI,
McNemar's test on the discordant pairs, and Holm-adjusted p-values across benchmarks (many
benchmarks are compared at once, as in SafeMed-R1's Table 1). Items missing or errored in either
run are excluded and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safemed.errors import ConfigError, DataError
from safemed.evaluate.run_folder import read_samples, samples_path
from safemed.stats import holm, mcnemar, paired_bootstrap_diff


def read_outcomes(run_dir: Path) -> dict[str, dict[str, bool]]:
    """benchmark → {item id → correct} from a run's samples.jsonl (errored samples left out)."""
    path = samples_path(run_dir)
    outcomes: dict[str, dict[str, bool]] = {}
    for lineno, row in read_samples(run_dir):
        if row.get("kind", "mcq") != "mcq":
            continue
        try:
            bench, item_id, correct = row["benchmark"], str(row["id"]), row["correct"]
        except KeyError as exc:
            raise DataError(str(path), lineno, str(exc.args[0]), "missing") from exc
        if correct is None:
            continue
        outcomes.setdefault(bench, {})[item_id] = bool(correct)
    return outcomes


def read_judge_scores(run_dir: Path) -> tuple[dict[tuple[str, str], dict[str, float]], dict[str, str]]:
    """((benchmark, judge configuration hash) → {item id → score}, hash → judge label) for the
    safety rows of a run (unparsed and failed scores left out)."""
    scores: dict[tuple[str, str], dict[str, float]] = {}
    labels: dict[str, str] = {}
    for _, row in read_samples(run_dir):
        if row.get("kind") != "safety":
            continue
        for judged in row.get("judges", []):
            labels.setdefault(judged["config_hash"], judged["judge"])
            if judged.get("score") is not None:
                key = (row["benchmark"], judged["config_hash"])
                scores.setdefault(key, {})[str(row["id"])] = float(judged["score"])
    return scores, labels


def compare_safety(run_a: Path, run_b: Path, *, n_boot: int, seed: int) -> dict[str, dict[str, Any]]:
    """Per (benchmark, judge): mean score difference B − A on items both runs had scored by that
    judge, paired bootstrap CI, Wilcoxon signed-rank p and Holm-adjusted p. Judges are matched by
    configuration hash (model identity, template, parser, parameters — not the endpoint URL), so
    two numbers are compared only when their judges are the same; the label shown is run A's."""
    from safemed.stats import wilcoxon_signed_rank

    (a, labels), (b, _) = read_judge_scores(run_a), read_judge_scores(run_b)
    rows: dict[str, dict[str, Any]] = {}
    for key in [k for k in a if k in b]:
        bench, config_hash = key
        judge = labels[config_hash]
        ids = [i for i in a[key] if i in b[key]]
        xa, xb = [a[key][i] for i in ids], [b[key][i] for i in ids]
        diff = paired_bootstrap_diff(xa, xb, n_boot=n_boot, seed=seed)
        test = wilcoxon_signed_rank(xa, xb)
        rows[f"{bench} / {judge}"] = {
            "comparable": True, "benchmark": bench, "judge": judge, "config_hash": config_hash, "n": len(ids),
            "mean_a": sum(xa) / len(ids) if ids else None, "mean_b": sum(xb) / len(ids) if ids else None,
            "difference": diff.value, "ci95": [diff.low, diff.high],
            "wilcoxon_p": test.pvalue if test.n else 1.0, "effect_r": test.r if test.n else None}
    for name, p_adj in zip(rows, holm([r["wilcoxon_p"] for r in rows.values()]), strict=True):
        rows[name]["p_holm"] = p_adj
    unmatched = sorted({labels[h] for _, h in a} - {r["judge"] for r in rows.values()})
    for judge in unmatched:
        rows[f"(run A only) {judge}"] = {"comparable": False,
                                         "reason": "no judge with the same configuration hash in run B"}
    return rows


def compare_runs(run_a: Path, run_b: Path, *, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Per-benchmark paired differences (B − A) with CIs, McNemar p and Holm-adjusted p."""
    a, b = read_outcomes(run_a), read_outcomes(run_b)
    safety = compare_safety(run_a, run_b, n_boot=n_boot, seed=seed)
    shared = [name for name in a if name in b]
    if not shared and not safety:
        raise ConfigError(f"runs {run_a} and {run_b} share no benchmark (A: {sorted(a)}, B: {sorted(b)})")
    rows: dict[str, dict[str, Any]] = {}
    for name in shared:
        ids = [i for i in a[name] if i in b[name]]
        xa = [int(a[name][i]) for i in ids]
        xb = [int(b[name][i]) for i in ids]
        diff = paired_bootstrap_diff(xa, xb, n_boot=n_boot, seed=seed)
        test = mcnemar(xa, xb)
        rows[name] = {
            "n": len(ids), "accuracy_a": sum(xa) / len(ids) if ids else None,
            "accuracy_b": sum(xb) / len(ids) if ids else None, "difference": diff.value,
            "ci95": [diff.low, diff.high], "only_a_correct": test.b10, "only_b_correct": test.b01,
            "mcnemar_p": test.pvalue, "mcnemar_exact": test.exact,
            "excluded_a": len(a[name]) - len(ids), "excluded_b": len(b[name]) - len(ids),
        }
    for name, p_adj in zip(shared, holm([rows[n]["mcnemar_p"] for n in shared]), strict=True):
        rows[name]["p_holm"] = p_adj
    return {"run_a": str(run_a), "run_b": str(run_b), "direction": "B minus A", "n_boot": n_boot, "seed": seed,
            "benchmarks": rows, "safety": safety, "only_in_a": sorted(set(a) - set(b)),
            "only_in_b": sorted(set(b) - set(a))}
