"""Paired comparison of two evaluation runs on the same items.

"Is the aligned model better than its base?" needs a paired analysis: the same item answered by
both. Per benchmark we report the accuracy difference (B − A) with a paired bootstrap CI,
McNemar's test on the discordant pairs, and Holm-adjusted p-values across benchmarks (many
benchmarks are compared at once, as in SafeMed-R1's Table 1). Items missing or errored in either
run are excluded and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.errors import ConfigError, DataError
from safemed.stats import holm, mcnemar, paired_bootstrap_diff

SAMPLES = "samples.jsonl"


def _samples(run_dir: Path) -> Path:
    path = run_dir / SAMPLES
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a finished run folder: {SAMPLES} is missing")
    return path


def read_outcomes(run_dir: Path) -> dict[str, dict[str, bool]]:
    """benchmark → {item id → correct} from a run's samples.jsonl (errored samples left out)."""
    path = _samples(run_dir)
    outcomes: dict[str, dict[str, bool]] = {}
    for lineno, row in _rows(path):
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


def read_judge_scores(run_dir: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(benchmark, judge label) → {item id → score} for the safety rows of a run (unparsed left out)."""
    scores: dict[tuple[str, str], dict[str, float]] = {}
    for _, row in _rows(_samples(run_dir)):
        if row.get("kind") != "safety":
            continue
        for judged in row.get("judges", []):
            if judged.get("score") is not None:
                scores.setdefault((row["benchmark"], judged["judge"]), {})[str(row["id"])] = float(judged["score"])
    return scores


def compare_safety(run_a: Path, run_b: Path, *, n_boot: int, seed: int) -> dict[str, dict[str, Any]]:
    """Per (benchmark, judge): mean score difference B − A on items both runs had scored by that
    judge, paired bootstrap CI and Wilcoxon signed-rank p. Judges are matched by label (model spec
    and kind); their configuration hashes must match too, or the pair is reported as not comparable."""
    from safemed.stats import wilcoxon_signed_rank

    a, b = read_judge_scores(run_a), read_judge_scores(run_b)
    hashes_a, hashes_b = _config_hashes(run_a), _config_hashes(run_b)
    rows: dict[str, dict[str, Any]] = {}
    for key in [k for k in a if k in b]:
        bench, judge = key
        name = f"{bench} / {judge}"
        if hashes_a.get(judge) != hashes_b.get(judge):
            rows[name] = {"comparable": False, "reason": "the judge's configuration hash differs between the runs"}
            continue
        ids = [i for i in a[key] if i in b[key]]
        xa, xb = [a[key][i] for i in ids], [b[key][i] for i in ids]
        diff = paired_bootstrap_diff(xa, xb, n_boot=n_boot, seed=seed)
        test = wilcoxon_signed_rank(xa, xb)
        rows[name] = {"comparable": True, "benchmark": bench, "judge": judge, "n": len(ids),
                      "mean_a": sum(xa) / len(ids) if ids else None, "mean_b": sum(xb) / len(ids) if ids else None,
                      "difference": diff.value, "ci95": [diff.low, diff.high],
                      "wilcoxon_p": test.pvalue if test.n else 1.0, "effect_r": test.r if test.n else None}
    comparable = [n for n, r in rows.items() if r["comparable"]]
    for name, p_adj in zip(comparable, holm([rows[n]["wilcoxon_p"] for n in comparable]), strict=True):
        rows[name]["p_holm"] = p_adj
    return rows


def _config_hashes(run_dir: Path) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for _, row in _rows(_samples(run_dir)):
        for judged in row.get("judges", []):
            hashes.setdefault(judged["judge"], judged["config_hash"])
    return hashes


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except ValueError as exc:
                    raise DataError(str(path), lineno, None, f"not JSON: {exc}") from exc


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
