"""Unblinding and the paired analysis: ``study.json``, ``study.md`` and their manifest.

Paper step "human–AI comparison", done as its reviewers asked. The analysis refuses to run unless
the plan it is given is the plan the packets were made for *and* the ledger holds a
``study_plan_frozen`` event for that exact hash. Then, per planned dimension (primary first):

- **unit of analysis: the vignette.** Each source's score on a vignette is the mean of its
  raters' scores; the paired difference is ``candidate − baseline``;
- paired medians and IQRs (numpy's linear-interpolation quartiles);
- **Wilcoxon signed-rank** (two-sided, zero differences dropped): the exact null distribution
  when at most 50 non-zero differences, none zero and no ties, else the tie-corrected normal
  approximation without continuity correction — ``method`` says which;
- effect size ``r = |z|/√N`` (``z`` from the normal approximation, ``N`` the non-zero pairs) and
  the matched-pairs rank-biserial correlation with a seeded percentile bootstrap CI over
  vignettes;
- **Holm**-adjusted p-values across all planned dimensions (the primary included);
- reliability of the rating process on every packet item (vignette × source): ICC(2,k) with
  McGraw & Wong's F-based CI, and Krippendorff's ordinal α with a bootstrap CI over items;
- **non-inferiority** when a margin ``M`` was planned: a one-sided Wilcoxon signed-rank test of
  ``d + M`` (H0: the differences are centred at ``−M`` or below) at α/2 (the convention of ICH
  E9 and CONSORT: the lower limit of a two-sided 1 − α interval above ``−M``), with a seeded
  bootstrap 1 − α interval of the median difference as support; confirmatory for the primary
  endpoint only;
- a power / minimum-detectable-effect statement for the n actually analysed (:mod:`.power`);
- every deviation from the plan (fewer vignettes, missing raters, simulated ratings …).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from safemed.artifacts import MANIFEST, atomic_write_json, atomic_write_text, new_manifest, write_manifest
from safemed.errors import ConfigError
from safemed.ledger.store import Ledger
from safemed.records.curation import STUDY_PLAN_PREFIX
from safemed.stats.agreement import krippendorff_alpha_ci
from safemed.stats.bootstrap import bootstrap_ci
from safemed.stats.icc import icc2
from safemed.stats.paired import holm, rank_biserial_ci, wilcoxon_signed_rank
from safemed.study.packets import PLAN
from safemed.study.plan import HASH_OF, FrozenPlan, dimension_names, find_frozen, load_plan, plan_sha256
from safemed.study.power import METHOD as POWER_METHOD
from safemed.study.power import signed_rank_mde, signed_rank_power
from safemed.study.ratings import Ratings, read_ratings, simulation_info
from safemed.study.render import render_markdown
from safemed.study.simulate import load_key

SCHEMA = "safemed.study/1"
TARGET_POWER = 0.8
DECIMALS = 9

METHODS = {
    "wilcoxon": "Two-sided Wilcoxon signed-rank test of candidate − baseline on vignette means (zero differences "
                "dropped, Wilcoxon's method); exact null distribution when n ≤ 50 non-zero differences with no "
                "zeros and no ties, otherwise the tie-corrected normal approximation without continuity correction.",
    "effect_size": "r = |z| / √N with z from the normal approximation and N the non-zero pairs; matched-pairs "
                   "rank-biserial correlation (W+ − W−)/(W+ + W−) with a seeded percentile bootstrap CI "
                   "resampling vignettes.",
    "holm": "Holm's step-down adjustment of the two-sided p-values across all planned dimensions (primary "
            "included); significant when the adjusted p < α.",
    "icc": "ICC(2,k) (Shrout & Fleiss; McGraw & Wong's ICC(A,k)): two-way random effects, absolute agreement, "
           "reliability of the mean of k raters over all packet items; F-based CI (McGraw & Wong 1996, "
           "Satterthwaite df).",
    "alpha": "Krippendorff's α, ordinal metric over the scale's values, raters × packet items; percentile bootstrap "
             "CI resampling items.",
    "non_inferiority": "One-sided Wilcoxon signed-rank test of (d + margin) > 0 at α/2 (H0: median difference "
                       "≤ −margin; the lower limit of a two-sided 1 − α interval, as ICH E9 and CONSORT advise), "
                       "with a seeded bootstrap (1 − α) CI of the median difference; confirmatory for the "
                       "primary endpoint only.",
    "power": POWER_METHOD,
}


def _f(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _summary(values: np.ndarray) -> dict[str, float | None]:
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return {"median": _f(med), "q1": _f(q1), "q3": _f(q3), "mean": _f(float(values.mean()))}


def _frozen_or_refuse(ledger: Ledger, plan: Mapping[str, Any], sha: str, plan_file: Path) -> FrozenPlan:
    found = find_frozen(ledger, sha)
    if found is not None:
        return found
    same_id = [e.payload.get("plan_sha256") for e in ledger.events_with_item_prefix(STUDY_PLAN_PREFIX)
               if e.payload.get("plan_id") == plan.get("plan_id")]
    hint = (f"; the ledger froze plan {plan.get('plan_id')} with sha256 {', '.join(map(str, same_id))} — the plan "
            "file changed after it was frozen") if same_id else ""
    raise ConfigError(f"the plan {plan_file} (sha256 {sha}) was never frozen in this ledger{hint}. Freeze it "
                      f"before unblinding: `safemed study freeze {plan_file} --db URL`")


def _vignette_means(ratings: Ratings, key: Mapping[str, Any], dims: Sequence[str],
                    vignettes: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """source → dimension → vector of vignette means (in ``vignettes`` order)."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    for rated in ratings.scores.values():
        for item, scores in rated.items():
            entry = key["items"][item]
            for d in dims:
                sums.setdefault((entry["source"], entry["vignette_id"], d), []).append(scores[d])
    return {s: {d: np.round(np.array([float(np.mean(sums[s, v, d])) for v in vignettes]), DECIMALS) for d in dims}
            for s in key["sources"]}


def _reliability(ratings: Ratings, items: Sequence[str], dim: str, plan: Mapping[str, Any],
                 seed: int, n_boot: int) -> tuple[dict[str, Any], dict[str, Any]]:
    raters = sorted(ratings.scores)
    table = np.array([[ratings.scores[r][item][dim] for r in raters] for item in items], dtype=np.float64)
    if len(raters) < 2:
        nothing = {"value": None, "ci": [None, None], "level": 0.95, "n": len(items),
                   "note": "one rater: reliability needs two or more"}
        return nothing, dict(nothing, level_of_measurement="ordinal")
    icc = icc2(table).as_dict()
    domain = list(range(int(plan["scale"]["min"]), int(plan["scale"]["max"]) + 1))
    alpha = krippendorff_alpha_ci(table.T, "ordinal", n_boot=n_boot, seed=seed, value_domain=domain).as_dict()
    alpha["level_of_measurement"] = "ordinal"
    return icc, alpha


def _dimension(name: str, primary: bool, cand: np.ndarray, base: np.ndarray, plan: Mapping[str, Any],
               seed: int, n_boot: int) -> dict[str, Any]:
    # vignette means are multiples of 1/k: rounding removes float noise that would break ties
    d = np.round(cand - base, DECIMALS)
    zero = np.zeros_like(d)
    w = wilcoxon_signed_rank(zero, d, method="auto")
    rb = rank_biserial_ci(zero, d, n_boot=n_boot, seed=seed)
    diff = _summary(d)
    diff["sd"] = _f(float(d.std(ddof=1))) if d.size > 1 else None
    out: dict[str, Any] = {
        "name": name, "primary": primary, "n": int(d.size), "n_nonzero": int(np.count_nonzero(d)),
        "candidate": _summary(cand), "baseline": _summary(base), "difference": diff,
        "wilcoxon": {"W": _f(w.statistic), "w_plus": _f(w.w_plus), "w_minus": _f(w.w_minus), "z": _f(w.z),
                     "p": _f(w.pvalue), "method": w.method, "alternative": "two-sided", "zero_method": "wilcox"},
        "effect_r": _f(abs(w.z) / math.sqrt(w.n)) if w.n else None,
        "rank_biserial": rb.as_dict(),
        "non_inferiority": None,
    }
    margin = plan.get("margin")
    if margin is not None:
        alpha = float(plan["alpha"]) / 2  # one-sided, the two-sided (1 - α) interval's lower tail
        ni = wilcoxon_signed_rank(zero, np.round(d + float(margin), DECIMALS), alternative="greater",
                                  method="auto")
        level = 1 - 2 * alpha
        low, high = bootstrap_ci(d, stat=np.median, n_boot=n_boot, level=level, seed=seed)
        out["non_inferiority"] = {
            "margin": float(margin), "method": "one-sided Wilcoxon signed-rank of (d + margin) > 0",
            "W_plus": _f(ni.w_plus), "z": _f(ni.z), "p": _f(ni.pvalue), "test_method": ni.method, "alpha": alpha,
            "median_diff_ci": [_f(low), _f(high)], "ci_level": level,
            "non_inferior": bool(math.isfinite(ni.pvalue) and ni.pvalue < alpha), "confirmatory": primary}
    return out


def _deviations(plan: Mapping[str, Any], key: Mapping[str, Any], ratings: Ratings, n_used: int) -> list[str]:
    out = []
    planned = int(plan["planned_n"])
    if n_used != planned:
        why = f" ({len(key['excluded'])} excluded when the packets were made: " + "; ".join(
            f"{e['vignette_id']}: {e['reason']}" for e in key["excluded"]) + ")" if key["excluded"] else ""
        out.append(f"n = {n_used} vignettes analysed, {planned} planned{why}")
    elif key["excluded"]:
        out.append(f"{len(key['excluded'])} vignette(s) excluded when the packets were made: " + "; ".join(
            f"{e['vignette_id']}: {e['reason']}" for e in key["excluded"]))
    missing = [r for r in key["raters"] if r not in ratings.scores]
    if ratings.from_app:
        planned_k, got_k = len(key["raters"]), len(ratings.scores)
        if got_k != planned_k:
            out.append(f"{got_k} raters rated in the review app, {planned_k} planned")
    elif missing:
        out.append(f"ratings of {len(missing)} of {len(key['raters'])} raters are missing: {', '.join(missing)} "
                   "(vignette means use the raters present)")
    if ratings.simulated:
        out.append("the ratings are SIMULATED (safemed study simulate), not clinicians' judgements")
    return out


def _power(plan: Mapping[str, Any], dims: list[dict[str, Any]], n: int) -> dict[str, Any]:
    alpha = float(plan["alpha"])
    m = len(dims)
    primary = dims[0]
    sd = primary["difference"]["sd"]
    mde = signed_rank_mde(n, alpha, TARGET_POWER)
    effect = float(plan["power"]["effect_dz"])
    return {"method": POWER_METHOD, "n": n, "alpha": alpha, "target_power": TARGET_POWER, "mde_dz": mde,
            "mde_dz_holm_worst": signed_rank_mde(n, alpha / m, TARGET_POWER),
            "sd_diff_primary": sd, "mde_points_primary": mde * sd if sd is not None else None,
            "planned_effect_dz": effect, "power_at_planned_effect": signed_rank_power(n, effect, alpha)}


def analyze_study(study_dir: Path, ratings: Sequence[Path], out: Path, ledger: Ledger, *,
                  plan_path: Path | None = None) -> dict[str, Any]:
    """Check the plan and its freeze, read the sheets, unblind, analyse and write ``out`` (a new or
    empty folder: ``study.json``, ``study.md``, ``manifest.json``); returns the study.json content."""
    study_dir, out = Path(study_dir), Path(out)
    key = load_key(study_dir)
    plan_file = Path(plan_path) if plan_path is not None else study_dir / PLAN
    plan = load_plan(plan_file)
    sha = plan_sha256(plan)
    if sha != key["plan_sha256"]:
        raise ConfigError(f"the plan {plan_file} has sha256 {sha}, but the packets in {study_dir} were written for "
                          f"the plan with sha256 {key['plan_sha256']}: the plan changed after the packets were made")
    frozen = _frozen_or_refuse(ledger, plan, sha, plan_file)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not empty; choose a new --out folder")
    checked = read_ratings(ratings, plan, key)
    boot = plan["bootstrap"]
    seed, n_boot = int(boot["seed"]), int(boot["n_boot"])
    names = dimension_names(plan)
    order = [plan["primary"], *(d for d in names if d != plan["primary"])]
    vignettes = list(key["vignettes"])
    means = _vignette_means(checked, key, names, vignettes)
    cand, base = plan["candidate"], plan["baseline"]
    results = [_dimension(d, d == plan["primary"], means[cand][d], means[base][d], plan, seed, n_boot)
               for d in order]
    pvals = [r["wilcoxon"]["p"] for r in results]
    valid = [i for i, p in enumerate(pvals) if p is not None]
    adjusted = holm([pvals[i] for i in valid]) if valid else []
    for r in results:
        r["p_holm"], r["significant"] = None, False
    for i, p in zip(valid, adjusted, strict=True):
        results[i]["p_holm"] = p
        results[i]["significant"] = bool(p < float(plan["alpha"]))
    items = sorted(key["items"])
    for r in results:
        r["icc2k"], r["krippendorff_alpha"] = _reliability(checked, items, r["name"], plan, seed, n_boot)
    study: dict[str, Any] = {
        "schema": SCHEMA,
        "simulated": checked.simulated,
        "plan": {"plan_id": plan["plan_id"], "sha256": sha, "hash_of": HASH_OF, "frozen": frozen.as_dict(),
                 "dimensions": names, "primary": plan["primary"], "scale": plan["scale"], "alpha": plan["alpha"],
                 "margin": plan["margin"], "planned_n": plan["planned_n"], "candidate": cand, "baseline": base,
                 "test": plan["test"], "planned_power": plan["power"], "packets_created_at": key["created_at"]},
        "direction": "candidate - baseline",
        "sample": {"vignettes_planned": plan["planned_n"], "vignettes_in_packets": len(vignettes),
                   "vignettes_analysed": len(vignettes), "excluded": key["excluded"],
                   "raters_planned": key["raters"], "raters_analysed": sorted(checked.scores),
                   "ratings_rows": checked.n_rows, "rating_files": [f.as_dict() for f in checked.files],
                   "response_chars": key.get("response_chars", {})},
        "dimensions": results,
        "power": _power(plan, results, len(vignettes)),
        "bootstrap": {"n_boot": n_boot, "seed": seed, "level": 0.95},
        "deviations": _deviations(plan, key, checked, len(vignettes)),
        "methods": METHODS,
    }
    if checked.simulated:
        study["simulation"] = simulation_info(checked)
    _write(out, study, plan_file, study_dir, key, checked)
    return study


def _write(out: Path, study: dict[str, Any], plan_file: Path, study_dir: Path, key: Mapping[str, Any],
           ratings: Ratings) -> None:
    parents = [study["plan"]["plan_id"]]
    with contextlib.suppress(OSError, ValueError, KeyError):
        parents.append(json.loads((study_dir / MANIFEST).read_text(encoding="utf-8"))["id"])
    parents += [r["run_manifest_id"] for r in key["responses"].values() if r.get("run_manifest_id")]
    manifest = new_manifest("study", config={"simulated": study["simulated"], "plan_sha256": study["plan"]["sha256"],
                                             "frozen_seq": study["plan"]["frozen"]["seq"],
                                             "candidate": study["plan"]["candidate"],
                                             "baseline": study["plan"]["baseline"]},
                            seed=study["bootstrap"]["seed"],
                            inputs=[plan_file, study_dir / "key.json", *(f.path for f in ratings.files)],
                            parents=parents)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        atomic_write_json(tmp / "study.json", study)
        atomic_write_text(tmp / "study.md", render_markdown(study))
        write_manifest(tmp, manifest, outputs=["study.json", "study.md"])
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
