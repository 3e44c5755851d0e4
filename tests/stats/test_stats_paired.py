"""Paired tests against scipy and hand-computed multiple-testing corrections."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from safemed.stats import (
    benjamini_hochberg,
    bootstrap_ci,
    holm,
    mcnemar,
    paired_bootstrap_diff,
    wilcoxon_signed_rank,
)


def _pairs(b01: int, b10: int, both_right: int = 10, both_wrong: int = 5) -> tuple[np.ndarray, np.ndarray]:
    a = [0] * b01 + [1] * b10 + [1] * both_right + [0] * both_wrong
    b = [1] * b01 + [0] * b10 + [1] * both_right + [0] * both_wrong
    return np.array(a, dtype=bool), np.array(b, dtype=bool)


def test_paired_bootstrap_diff_is_bootstrap_of_differences() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 300).astype(float)
    b = np.where(rng.random(300) < 0.2, 1.0, a)
    est = paired_bootstrap_diff(a, b, n_boot=1000, seed=3)
    assert est.value == pytest.approx((b - a).mean())
    assert (est.low, est.high) == bootstrap_ci(b - a, n_boot=1000, seed=3)
    assert est.low < est.value < est.high and est.n == 300
    assert paired_bootstrap_diff(a, b, n_boot=1000, seed=3) == est
    assert math.isnan(paired_bootstrap_diff([], []).value)
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap_diff([1, 2], [1])


def test_mcnemar_exact_matches_binomtest() -> None:
    a, b = _pairs(b01=9, b10=3)
    res = mcnemar(a, b)
    assert (res.b01, res.b10, res.exact, res.n) == (9, 3, True, 27)
    assert res.statistic == 3
    assert res.pvalue == pytest.approx(sps.binomtest(3, 12, 0.5).pvalue, abs=1e-12)
    assert mcnemar(a.astype(int), b.astype(int)) == res  # 0/1 integers work too


def test_mcnemar_chi_square_with_continuity_correction() -> None:
    a, b = _pairs(b01=30, b10=15)
    res = mcnemar(a, b)
    stat = (abs(30 - 15) - 1) ** 2 / 45
    assert not res.exact
    assert res.statistic == pytest.approx(stat)
    assert res.pvalue == pytest.approx(sps.chi2.sf(stat, df=1), abs=1e-12)
    forced = mcnemar(a, b, exact=True)
    assert forced.exact and forced.pvalue == pytest.approx(sps.binomtest(15, 45, 0.5).pvalue)
    small = mcnemar(*_pairs(4, 1), exact=False)
    assert small.statistic == pytest.approx((3 - 1) ** 2 / 5)


def test_mcnemar_edge_cases() -> None:
    none = mcnemar(*_pairs(0, 0))
    assert (none.statistic, none.pvalue) == (0.0, 1.0)
    tied = mcnemar(*_pairs(20, 20))
    assert (tied.statistic, tied.pvalue) == (0.0, 1.0)
    assert mcnemar(*_pairs(5, 5)).pvalue == 1.0
    with pytest.raises(ValueError, match="0/1"):
        mcnemar([0, 2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        mcnemar([0, 1], [1])


def test_wilcoxon_matches_scipy_and_reports_effect_sizes() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, 80).astype(float)
    y = np.clip(x + rng.integers(-1, 3, 80), 1, 5)
    res = wilcoxon_signed_rank(x, y)
    ref = sps.wilcoxon(x, y)
    assert res.statistic == pytest.approx(ref.statistic) and res.pvalue == pytest.approx(ref.pvalue)
    approx = sps.wilcoxon(y, x, method="approx", correction=False)
    assert abs(res.z) == pytest.approx(abs(approx.zstatistic))
    assert res.z > 0  # y tends to exceed x
    d = (y - x)[y != x]
    assert res.n == d.size
    assert res.r == pytest.approx(res.z / math.sqrt(d.size))
    ranks = sps.rankdata(np.abs(d))
    assert res.w_plus == ranks[d > 0].sum() and res.w_minus == ranks[d < 0].sum()
    greater = wilcoxon_signed_rank(x, y, alternative="greater")
    assert greater.pvalue == pytest.approx(sps.wilcoxon(y, x, alternative="greater").pvalue)


def test_rank_biserial_hand_example_and_no_differences() -> None:
    res = wilcoxon_signed_rank([0, 0, 0, 0, 5], [1, 2, 3, -4, 5])  # ranks 1,2,3 up, 4 down; a zero
    assert (res.n, res.w_plus, res.w_minus) == (4, 6.0, 4.0)
    assert res.rank_biserial == pytest.approx((6 - 4) / 10)
    none = wilcoxon_signed_rank([1, 2, 3], [1, 2, 3])
    assert none.n == 0 and math.isnan(none.pvalue) and math.isnan(none.rank_biserial)


def test_holm_hand_example() -> None:
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .02 .03 .06 .06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []
    assert holm([0.02]) == [0.02]


def test_benjamini_hochberg_hand_example() -> None:
    # sorted: .005*4/1=.02, .01*4/2=.02, .03*4/3=.04, .04*4/4=.04 -> running min from the top
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([0.04, 0.01, 0.03]) == pytest.approx([0.04, 0.03, 0.04])
    assert benjamini_hochberg([0.9, 0.95]) == pytest.approx([0.95, 0.95])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.1, float("nan")])
    with pytest.raises(ValueError):
        holm([1.2])
