"""Every statistic the study reports, against a reference implementation on the same numbers:
scipy (Wilcoxon exact and normal), pingouin (ICC(2,k) with its CI), krippendorff (α),
statsmodels (Holm), a hand computation (rank-biserial) and a seeded simulation (power)."""

from __future__ import annotations

import csv
import json
import math

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
import scipy.stats as sps
from statsmodels.stats.multitest import multipletests

from safemed.ledger import Ledger
from safemed.stats import holm, icc2, icc2k, krippendorff_alpha, rank_biserial_ci, wilcoxon_signed_rank
from safemed.study.analyze import analyze_study
from safemed.study.power import signed_rank_mde, signed_rank_power

from .conftest import DIMS, Study


def _ratings_table(seed: int, n: int = 24, k: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    true = rng.normal(3, 1, (n, 1))
    return np.clip(np.rint(true + rng.normal(0, 0.4, (1, k)) + rng.normal(0, 0.8, (n, k))), 1, 5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_icc2k_matches_pingouin(seed: int) -> None:
    x = _ratings_table(seed)
    long = pd.DataFrame([(i, j, x[i, j]) for i in range(x.shape[0]) for j in range(x.shape[1])],
                        columns=["target", "rater", "score"])
    ref = pingouin.intraclass_corr(long, targets="target", raters="rater", ratings="score").set_index("Type")
    got = icc2(x)
    assert got.average.value == pytest.approx(ref.loc["ICC(A,k)", "ICC"], abs=1e-12)
    assert got.single.value == pytest.approx(ref.loc["ICC(A,1)", "ICC"], abs=1e-12)
    assert got.f == pytest.approx(ref.loc["ICC(A,k)", "F"], rel=1e-12)
    assert got.pvalue == pytest.approx(ref.loc["ICC(A,k)", "pval"], rel=1e-9, abs=1e-300)
    assert (got.df1, got.df2) == (ref.loc["ICC(A,k)", "df1"], ref.loc["ICC(A,k)", "df2"])
    # pingouin rounds its intervals to two decimals
    assert got.average.low == pytest.approx(ref.loc["ICC(A,k)", "CI95"][0], abs=0.005 + 1e-9)
    assert got.average.high == pytest.approx(ref.loc["ICC(A,k)", "CI95"][1], abs=0.005 + 1e-9)
    assert got.single.low == pytest.approx(ref.loc["ICC(A,1)", "CI95"][0], abs=0.005 + 1e-9)
    assert icc2k(x) == got.average


def test_icc_hand_computed_and_refusals() -> None:
    # Shrout & Fleiss (1979) Table 2: 6 targets, 4 judges; ICC(2,1) = 0.29, ICC(2,4) = 0.62
    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    got = icc2(x)
    assert got.single.value == pytest.approx(0.29, abs=0.005)
    assert got.average.value == pytest.approx(0.62, abs=0.005)
    with pytest.raises(ValueError, match="complete"):
        icc2(np.array([[1, 2], [np.nan, 3]]))
    with pytest.raises(ValueError, match="two targets"):
        icc2(np.array([[1, 2, 3]]))


def test_wilcoxon_exact_and_normal_match_scipy() -> None:
    x = np.array([1.1, 2.3, 0.4, 3.9, 2.2, 1.8, 0.7, 2.9, 3.3, 1.0])
    y = x + np.array([0.5, -0.2, 1.1, 0.9, 0.3, -0.7, 1.3, 0.05, 0.65, 0.8])
    exact = wilcoxon_signed_rank(x, y, method="auto")
    assert exact.method == "exact"
    ref = sps.wilcoxon(y, x, method="exact")
    assert exact.pvalue == pytest.approx(ref.pvalue) and exact.statistic == ref.statistic
    tied = np.round(y * 2) / 2
    normal = wilcoxon_signed_rank(x.round(), tied, method="auto")
    assert normal.method == "normal"
    ref = sps.wilcoxon(tied, x.round(), method="approx", correction=False)
    assert normal.pvalue == pytest.approx(ref.pvalue)
    assert abs(normal.z) == pytest.approx(abs(ref.zstatistic))  # scipy signs the two-sided z by min(W+, W-)
    with pytest.raises(ValueError, match="exact"):
        wilcoxon_signed_rank(x.round(), tied, method="exact")
    greater = wilcoxon_signed_rank(x.round(), tied, method="normal", alternative="greater")
    assert greater.pvalue == pytest.approx(sps.wilcoxon(tied, x.round(), method="approx",
                                                         alternative="greater").pvalue)


def test_rank_biserial_by_hand_and_its_bootstrap() -> None:
    d = np.array([2.0, -1.0, 3.0, 0.0, 1.5, 2.0, -0.5])
    # non-zero |d|: 2, 1, 3, 1.5, 2, 0.5 → ranks 4.5, 2, 6, 3, 4.5, 1; W+ = 4.5+6+3+4.5 = 18, W- = 2+1 = 3
    est = rank_biserial_ci(np.zeros_like(d), d, n_boot=2000, seed=3)
    assert est.value == pytest.approx((18 - 3) / 21)
    assert est.n == 6
    assert est.low <= est.value <= est.high
    assert rank_biserial_ci(np.zeros_like(d), d, n_boot=2000, seed=3) == est  # seeded
    # the bootstrap interval agrees with a plain loop over the same resamples
    rng = np.random.default_rng(3)
    reps = []
    for _ in range(2000):
        s = d[rng.integers(0, d.size, d.size)]
        s = s[s != 0]
        r = sps.rankdata(np.abs(s))
        if s.size:
            reps.append((r[s > 0].sum() - r[s < 0].sum()) / r.sum())
    assert (est.low, est.high) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975])))
    assert wilcoxon_signed_rank(np.zeros_like(d), d).rank_biserial == pytest.approx(est.value)


def test_holm_matches_statsmodels() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_krippendorff_alpha_matches_the_krippendorff_package() -> None:
    x = _ratings_table(4).T  # raters × units
    ours = krippendorff_alpha(x, "ordinal", value_domain=[1, 2, 3, 4, 5])
    ref = krippendorff.alpha(reliability_data=x, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    assert ours == pytest.approx(ref)


def test_power_and_mde_against_a_seeded_simulation() -> None:
    assert signed_rank_mde(30, 0.05, 0.8) == pytest.approx(
        (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) / math.sqrt(30 * 3 / math.pi))
    assert signed_rank_power(30, signed_rank_mde(30), 0.05) == pytest.approx(0.8, abs=1e-3)
    rng = np.random.default_rng(12)
    sims = rng.normal(0.5, 1.0, (1500, 30))
    rejected = np.mean([sps.wilcoxon(s).pvalue < 0.05 for s in sims])
    assert rejected == pytest.approx(signed_rank_power(30, 0.5, 0.05), abs=0.04)


def test_analysis_numbers_agree_with_reference_libraries(study: Study) -> None:
    """Recompute the study's numbers from the sheets and the key, independently of safemed."""
    with Ledger.open(study.db) as led:
        result = analyze_study(study.packets, study.sheets(), study.root / "out", led)
    key = json.loads((study.packets / "key.json").read_text())
    rows = [row for sheet in study.sheets() for row in csv.DictReader(sheet.read_text().splitlines())]
    long = pd.DataFrame([{**key["items"][r["packet_item"]], "item": r["packet_item"], "rater": r["rater"],
                          **{d: int(r[d]) for d in DIMS}} for r in rows])
    by_dim = {d["name"]: d for d in result["dimensions"]}
    assert next(d["name"] for d in result["dimensions"]) == "safety"
    pvals = []
    for dim in DIMS:
        means = long.groupby(["vignette_id", "source"])[dim].mean().unstack()
        diff = (means["model"] - means["clinician"]).round(9)
        got = by_dim[dim]
        ref = sps.wilcoxon(diff, method="approx", correction=False)
        assert got["wilcoxon"]["method"] == "normal"  # vignette means of five raters tie
        assert got["wilcoxon"]["p"] == pytest.approx(ref.pvalue)
        assert abs(got["wilcoxon"]["z"]) == pytest.approx(abs(ref.zstatistic))
        assert got["effect_r"] == pytest.approx(abs(ref.zstatistic) / math.sqrt(np.count_nonzero(diff)))
        assert got["difference"]["median"] == pytest.approx(float(np.median(diff)))
        assert got["candidate"]["q1"] == pytest.approx(float(np.quantile(means["model"], 0.25)))
        pvals.append(ref.pvalue)
        ni = sps.wilcoxon((diff + 0.5).round(9), alternative="greater", method="approx", correction=False)
        assert got["non_inferiority"]["p"] == pytest.approx(ni.pvalue)
        assert got["non_inferiority"]["alpha"] == 0.025 and got["non_inferiority"]["ci_level"] == 0.95
        assert got["non_inferiority"]["non_inferior"] == (ni.pvalue < 0.025)
        wide = long.pivot(index="item", columns="rater", values=dim)
        ref_icc = pingouin.intraclass_corr(long, targets="item", raters="rater", ratings=dim).set_index("Type")
        assert got["icc2k"]["value"] == pytest.approx(ref_icc.loc["ICC(A,k)", "ICC"])
        assert got["icc2k"]["ci"][0] == pytest.approx(ref_icc.loc["ICC(A,k)", "CI95"][0], abs=0.005 + 1e-9)
        ref_alpha = krippendorff.alpha(reliability_data=wide.to_numpy().T, level_of_measurement="ordinal",
                                       value_domain=[1, 2, 3, 4, 5])
        assert got["krippendorff_alpha"]["value"] == pytest.approx(ref_alpha)
    adjusted = multipletests(pvals, method="holm")[1]
    for dim, p in zip(DIMS, adjusted, strict=True):
        assert by_dim[dim]["p_holm"] == pytest.approx(p)
