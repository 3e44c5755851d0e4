"""Intraclass correlation for a fully crossed rating design: ICC(2,1) and ICC(2,k) with F-based CIs.

The blinded clinician comparison (paper step "human–AI comparison") scores each answer by the
mean of several raters, so the reliability that matters is that of the *mean of k raters*:
Shrout & Fleiss's ICC(2,k), which McGraw & Wong call ICC(A,k) — two-way random effects (targets
and raters both random samples), absolute agreement. It is computed from the two-way ANOVA mean
squares of a complete targets × raters table::

    ICC(2,1) = (MSR - MSE) / (MSR + (k-1)·MSE + k·(MSC - MSE)/n)
    ICC(2,k) = (MSR - MSE) / (MSR + (MSC - MSE)/n)

(MSR: targets, MSC: raters, MSE: residual). The confidence interval is McGraw & Wong's (1996,
Table 7, case 2A) with Satterthwaite's approximate degrees of freedom ``v``; the ICC(2,k) limits
are the ICC(2,1) limits stepped up by Spearman–Brown, as in pingouin's ``intraclass_corr``
(which the tests compare against). ``F = MSR/MSE`` tests ICC = 0 on (n-1, (n-1)(k-1)) df.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from safemed.stats.proportions import Estimate, check_level, nan_estimate


@dataclass(frozen=True)
class ICCResult:
    """ICC(2,1) and ICC(2,k) of one targets × raters table, with the F test of ICC = 0."""

    single: Estimate
    average: Estimate
    n_targets: int
    k_raters: int
    f: float
    df1: int
    df2: int
    pvalue: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form of the ICC(2,k) (``average``) with its test and design sizes."""
        out = self.average.as_dict()
        out.update(n_targets=self.n_targets, k_raters=self.k_raters, F=_json(self.f), df1=self.df1,
                   df2=self.df2, p=_json(self.pvalue), icc_2_1=self.single.as_dict())
        return out


def _json(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def icc2(data: ArrayLike, *, level: float = 0.95) -> ICCResult:
    """ICC(2,1) and ICC(2,k) of ``data``: targets in rows, raters in columns, no missing cells.

    Raises ValueError for fewer than two targets or raters, or a missing (NaN) cell (drop the
    incomplete targets first, and report how many). With no variation at all the ICCs are NaN.
    """
    check_level(level)
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"data must be a targets × raters table, got shape {x.shape}")
    n, k = x.shape
    if n < 2 or k < 2:
        raise ValueError(f"an ICC needs at least two targets and two raters, got {n} × {k}")
    if not np.all(np.isfinite(x)):
        raise ValueError("data has missing or non-finite cells; ICC(2,k) needs a complete table")
    grand = float(x.mean())
    ss_rows = k * float(np.sum((x.mean(axis=1) - grand) ** 2))
    ss_cols = n * float(np.sum((x.mean(axis=0) - grand) ** 2))
    ss_err = float(np.sum((x - grand) ** 2)) - ss_rows - ss_cols
    df1, dfc, df2 = n - 1, k - 1, (n - 1) * (k - 1)
    msr, msc, mse = ss_rows / df1, ss_cols / dfc, max(ss_err, 0.0) / df2
    denominator_1 = msr + (k - 1) * mse + k * (msc - mse) / n
    if denominator_1 <= 0 or (mse == 0 and msr == 0):
        nan = nan_estimate(n, level)
        return ICCResult(nan, nan, n, k, math.nan, df1, df2, math.nan)
    icc_1 = (msr - mse) / denominator_1
    icc_k = (msr - mse) / (msr + (msc - mse) / n)
    from scipy.stats import f as fdist

    fstat = msr / mse if mse > 0 else math.inf
    pvalue = float(fdist.sf(fstat, df1, df2)) if mse > 0 else 0.0
    low, high = _ci_case_2a(icc_1, msr, msc, mse, n, k, level)

    def step(r: float) -> float:  # Spearman–Brown: a single rater's ICC to the mean of k
        return float(r * k / (1 + r * (k - 1)))

    return ICCResult(Estimate(icc_1, low, high, n, level), Estimate(icc_k, step(low), step(high), n, level),
                     n, k, float(fstat), df1, df2, pvalue)


def _ci_case_2a(icc_1: float, msr: float, msc: float, mse: float, n: int, k: int,
                level: float) -> tuple[float, float]:
    """McGraw & Wong's interval of ICC(A,1) (Satterthwaite df ``v`` for the denominator)."""
    from scipy.stats import f as fdist

    if mse == 0:
        return math.nan, math.nan
    tail = 1 - (1 - level) / 2
    fj = msc / mse
    vn = (n - 1) * (k - 1) * (k * icc_1 * fj + n * (1 + (k - 1) * icc_1) - k * icc_1) ** 2
    vd = (n - 1) * k**2 * icc_1**2 * fj**2 + (n * (1 + (k - 1) * icc_1) - k * icc_1) ** 2
    v = vn / vd
    f_upper = float(fdist.ppf(tail, n - 1, v))
    f_lower = float(fdist.ppf(tail, v, n - 1))
    low = n * (msr - f_upper * mse) / (f_upper * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (f_lower * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_lower * msr)
    return float(low), float(high)


def icc2k(data: ArrayLike, *, level: float = 0.95) -> Estimate:
    """ICC(2,k) (absolute agreement of the mean of k raters) with its F-based interval."""
    return icc2(data, level=level).average
