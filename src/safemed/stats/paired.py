"""Paired comparisons and multiple-testing corrections: "is model B really better than model A?".

The evidence package compares the aligned model with its base on the same items (capability and
safety benchmarks, attacks) and, in the blinded clinician study, on the same vignettes rated by
the same clinicians. Paired data need paired tests:

- ``paired_bootstrap_diff``: mean of ``b - a`` with a bootstrap over pairs;
- ``mcnemar``: McNemar's test on paired correct/incorrect outcomes (exact binomial when there are
  few discordant pairs, else chi-square with continuity correction, as in statsmodels);
- ``wilcoxon_signed_rank``: scipy's signed-rank test plus the effect sizes a clinician study
  reports (r = Z/sqrt(n) and the matched-pairs rank-biserial correlation); ``method="auto"``
  chooses and names the exact null distribution or the normal approximation;
- ``rank_biserial_ci``: the matched-pairs rank-biserial correlation with a seeded bootstrap
  interval over pairs;
- ``holm`` and ``benjamini_hochberg``: adjusted p-values when many benchmarks are tested at once.

Direction convention everywhere: the second argument minus the first (``b - a``, ``y - x``), so a
positive effect means the second system scored higher.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from safemed.stats.bootstrap import (
    Estimate,
    Method,
    as_finite_1d,
    bootstrap_ci,
    check_level,
    check_n_boot,
    iter_resample_indices,
    nan_estimate,
    percentile_interval,
)
from safemed.stats.diagnostics import as_bool_1d

EXACT_BELOW = 25
"""McNemar uses the exact binomial test when there are fewer discordant pairs than this."""


def _sps() -> Any:
    """scipy.stats, imported on first use (it costs ~1 s; `safemed eval` start-up never needs it)."""
    from scipy import stats

    return stats


def _paired(a: ArrayLike, b: ArrayLike, names: tuple[str, str]) -> tuple[NDArray[np.float64], ...]:
    x, y = as_finite_1d(a, names[0]), as_finite_1d(b, names[1])
    if x.size != y.size:
        raise ValueError(f"{names[0]} and {names[1]} must be paired (same length), got {x.size} and {y.size}")
    return x, y


def paired_bootstrap_diff(
    a: ArrayLike,
    b: ArrayLike,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    method: Method = "percentile",
) -> Estimate:
    """Mean of ``b - a`` over pairs, with a bootstrap interval that resamples whole pairs."""
    x, y = _paired(a, b, ("a", "b"))
    check_level(level)
    if x.size == 0:
        return nan_estimate(0, level)
    d = y - x
    low, high = bootstrap_ci(d, n_boot=n_boot, level=level, seed=seed, method=method)
    return Estimate(float(d.mean()), low, high, int(d.size), level)


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired binary outcomes.

    ``b01``: pairs where A was wrong and B right; ``b10``: A right and B wrong. ``statistic`` is
    ``min(b01, b10)`` for the exact test and the continuity-corrected chi-square otherwise.
    """

    b01: int
    b10: int
    statistic: float
    pvalue: float
    exact: bool
    n: int


def mcnemar(a_correct: ArrayLike, b_correct: ArrayLike, *, exact: bool | None = None) -> McNemarResult:
    """McNemar's test of equal accuracy of A and B on the same items.

    ``exact=None`` picks the exact two-sided binomial test (p = 2·P(X ≤ min), capped at 1) when
    ``b01 + b10 < 25``, else the chi-square with continuity correction
    ``(|b01 - b10| - 1)² / (b01 + b10)`` on 1 degree of freedom. The correction is floored at zero
    (statsmodels would give ``1/(b01+b10)`` when ``b01 == b10``). No discordant pairs: p = 1.
    """
    a = as_bool_1d(a_correct, "a_correct")
    b = as_bool_1d(b_correct, "b_correct")
    if a.size != b.size:
        raise ValueError(f"a_correct and b_correct must be paired (same length), got {a.size} and {b.size}")
    b01 = int(np.count_nonzero(~a & b))
    b10 = int(np.count_nonzero(a & ~b))
    disc = b01 + b10
    use_exact = disc < EXACT_BELOW if exact is None else exact
    if disc == 0:
        return McNemarResult(b01, b10, 0.0, 1.0, use_exact, int(a.size))
    if use_exact:
        k = min(b01, b10)
        p = min(1.0, 2.0 * float(_sps().binom.cdf(k, disc, 0.5)))
        return McNemarResult(b01, b10, float(k), p, True, int(a.size))
    chi2 = max(abs(b01 - b10) - 1, 0) ** 2 / disc
    return McNemarResult(b01, b10, float(chi2), float(_sps().chi2.sf(chi2, 1)), False, int(a.size))


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test of ``y - x`` with effect sizes.

    ``statistic`` and ``pvalue`` are scipy's. ``n`` counts the non-zero differences used (zero
    differences are dropped, scipy's "wilcox" method). ``w_plus``/``w_minus`` are the rank sums
    of positive/negative differences; ``z`` is the normal approximation of ``w_plus`` with tie
    correction and no continuity correction (positive when y tends to exceed x); ``r = z/sqrt(n)``;
    ``rank_biserial = (w_plus - w_minus) / (w_plus + w_minus)`` in [-1, 1].
    """

    statistic: float
    pvalue: float
    n: int
    w_plus: float
    w_minus: float
    z: float
    r: float
    rank_biserial: float
    method: str = "scipy"
    """How ``pvalue`` was computed: ``exact`` (the exact null distribution of W+), ``normal`` (the
    tie-corrected normal approximation of ``z``, no continuity correction) or ``scipy`` (scipy's
    own default choice)."""


EXACT_MAX_N = 50
"""``method="auto"`` uses the exact distribution up to this many non-zero differences."""

WilcoxonMethod = Literal["auto", "exact", "normal"]


def wilcoxon_signed_rank(
    x: ArrayLike,
    y: ArrayLike,
    *,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
    method: WilcoxonMethod | None = None,
) -> WilcoxonResult:
    """Wilcoxon signed-rank test on paired ``x`` and ``y`` (``alternative`` is about ``y - x``).

    ``method``: ``None`` keeps scipy's default; ``"auto"`` takes the exact null distribution when
    there are at most :data:`EXACT_MAX_N` non-zero differences, no zero differences and no ties
    among ``|y - x|`` (where it is exact), else the normal approximation; ``"exact"`` and
    ``"normal"`` force one (``"exact"`` with zeros or ties is refused: it would not be exact).
    Zero differences are dropped either way (``zero_method="wilcox"``).

    When every difference is zero the test has no information: all fields except ``n`` are NaN.
    """
    xa, ya = _paired(x, y, ("x", "y"))
    d_all = ya - xa
    d = d_all[d_all != 0]
    n = int(d.size)
    if n == 0:
        return WilcoxonResult(math.nan, math.nan, 0, math.nan, math.nan, math.nan, math.nan, math.nan,
                              method or "scipy")
    ranks = _sps().rankdata(np.abs(d))
    w_plus = float(ranks[d > 0].sum())
    w_minus = float(ranks[d < 0].sum())
    _, ties = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(ties**3 - ties)) / 48
    z = (w_plus - n * (n + 1) / 4) / math.sqrt(var) if var > 0 else 0.0
    untied = bool(np.all(ties == 1)) and d.size == d_all.size
    used = method
    if method == "auto":
        used = "exact" if untied and n <= EXACT_MAX_N else "normal"
    elif method == "exact" and not untied:
        raise ValueError("the exact signed-rank distribution needs no zero and no tied differences; "
                         "use method='normal' or 'auto'")
    if used == "normal":
        norm = _sps().norm
        p = {"two-sided": min(1.0, 2 * float(norm.sf(abs(z)))), "greater": float(norm.sf(z)),
             "less": float(norm.cdf(z))}[alternative]
        statistic = min(w_plus, w_minus) if alternative == "two-sided" else w_plus
    else:
        scipy_method = "exact" if used == "exact" else "auto"
        res = _sps().wilcoxon(ya, xa, zero_method="wilcox", alternative=alternative, method=scipy_method)
        statistic, p = float(res.statistic), float(res.pvalue)
    return WilcoxonResult(
        statistic=float(statistic),
        pvalue=float(p),
        method=used or "scipy",
        n=n,
        w_plus=w_plus,
        w_minus=w_minus,
        z=z,
        r=z / math.sqrt(n),
        rank_biserial=(w_plus - w_minus) / (w_plus + w_minus),
    )


def _rank_biserial_rows(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """Matched-pairs rank-biserial correlation of each row of differences (zeros dropped, as in
    the test; NaN for a row with no non-zero difference). Zeros rank lowest among ``|d|``, so a
    non-zero difference's rank among the non-zero ones is its rank among all minus the zeros."""
    ranks = _sps().rankdata(np.abs(d), axis=-1)
    zeros = np.sum(d == 0, axis=-1, keepdims=True)
    nonzero_ranks = ranks - zeros
    w_plus = np.sum(np.where(d > 0, nonzero_ranks, 0.0), axis=-1)
    w_minus = np.sum(np.where(d < 0, nonzero_ranks, 0.0), axis=-1)
    total = w_plus + w_minus
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w_plus - w_minus) / total, np.nan)


def rank_biserial_ci(
    x: ArrayLike,
    y: ArrayLike,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """The matched-pairs rank-biserial correlation of ``y - x`` (``(W+ - W-)/(W+ + W-)``, zero
    differences dropped) with a percentile bootstrap interval that resamples whole pairs; resamples
    with no non-zero difference are left out of the interval. ``n``: the non-zero differences."""
    xa, ya = _paired(x, y, ("x", "y"))
    check_level(level)
    check_n_boot(n_boot)
    d = ya - xa
    n = int(np.count_nonzero(d))
    if n == 0:
        return nan_estimate(0, level)
    value = float(_rank_biserial_rows(d[None, :])[0])
    parts = [_rank_biserial_rows(d[idx]) for idx in iter_resample_indices(d.size, n_boot,
                                                                           np.random.default_rng(seed))]
    reps = np.concatenate(parts)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Estimate(value, math.nan, math.nan, n, level)
    low, high = percentile_interval(reps, level)
    return Estimate(value, low, high, n, level)


def _check_pvalues(pvalues: Sequence[float]) -> NDArray[np.float64]:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be a flat sequence, got shape {p.shape}")
    if not np.all((p >= 0) & (p <= 1)):  # also rejects NaN
        raise ValueError("pvalues must all lie in [0, 1] (no NaN)")
    return p


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order (monotone in rank, capped at 1)."""
    p = _check_pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in adjusted]


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg (FDR) adjusted p-values, in the input order (monotone, capped at 1)."""
    p = _check_pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return [float(v) for v in adjusted]
