"""Agreement between raters: LLM judges with each other, judges with clinicians, clinicians together.

The paper's trust signals rest on agreement: clinicians score reasoning traces on a five-dimension
rubric (inter-reviewer agreement), a three-judge panel scores Med-Safety-Bench (judge-judge
agreement), and the judges are validated against clinicians (judge-human agreement). Tools:

- ``krippendorff_alpha`` (own implementation through the coincidence matrix; any number of raters,
  missing ratings as NaN) and ``krippendorff_alpha_ci`` (bootstrap over units);
- ``cohen_kappa`` (unweighted, linear or quadratic weights), ``confusion_matrix``, ``spearman``,
  ``mae``;
- ``pairwise_agreement``: every pair of raters with n, quadratic kappa, Spearman and MAE, each with
  a bootstrap interval over the units both scored.

``binary_diagnostics`` and ``corrected_prevalence`` live in ``diagnostics`` and are re-exported.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from safemed.stats.bootstrap import (
    MAX_CHUNK_ELEMENTS,
    Estimate,
    as_finite_1d,
    check_level,
    check_n_boot,
    iter_resample_indices,
    nan_estimate,
    percentile_interval,
)
from safemed.stats.diagnostics import BinaryDiagnostics, binary_diagnostics, corrected_prevalence

__all__ = [
    "BinaryDiagnostics",
    "PairAgreement",
    "binary_diagnostics",
    "cohen_kappa",
    "confusion_matrix",
    "corrected_prevalence",
    "krippendorff_alpha",
    "krippendorff_alpha_ci",
    "mae",
    "pairwise_agreement",
    "spearman",
]

FloatArray = NDArray[np.float64]
Level = Literal["nominal", "ordinal", "interval", "ratio"]
Weights = Literal["linear", "quadratic"] | None
_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _sps() -> Any:
    """scipy.stats, imported on first use (it costs ~1 s; `safemed eval` start-up never needs it)."""
    from scipy import stats

    return stats


# --- Krippendorff's alpha -------------------------------------------------------------------------


def _unit_value_counts(data: ArrayLike, value_domain: Sequence[float] | None) -> tuple[FloatArray, FloatArray]:
    """Per-unit counts of each domain value, pairable units only (>= 2 ratings); and the domain."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"data must be raters × units (2-D), got shape {x.shape}")
    if np.any(np.isinf(x)):
        raise ValueError("data contains infinite values; use NaN for a missing rating")
    present = ~np.isnan(x)
    observed = np.unique(x[present])
    domain = observed if value_domain is None else np.asarray(value_domain, dtype=np.float64)
    if domain.ndim != 1 or np.unique(domain).size != domain.size or np.any(np.isnan(domain)):
        raise ValueError("value_domain must be a flat sequence of distinct numbers")
    if not np.all(np.isin(observed, domain)):
        raise ValueError(f"data holds values outside value_domain: {observed[~np.isin(observed, domain)]}")
    sorter = np.argsort(domain)
    codes = sorter[np.searchsorted(domain, x[present], sorter=sorter)]
    units = np.nonzero(present)[1]
    v = domain.size
    counts = np.bincount(units * v + codes, minlength=x.shape[1] * v).reshape(x.shape[1], v)
    return counts[counts.sum(axis=1) >= 2].astype(np.float64), domain


def _alpha_from_multiplicities(mult: FloatArray, counts: FloatArray, domain: FloatArray, level: Level) -> FloatArray:
    """Alpha for each row of ``mult`` (how many times each pairable unit is taken), vectorised.

    With unit counts ``N_u`` and ``m_u = sum N_u``, the coincidence matrix is
    ``sum_u mult_u (N_u N_u' - diag N_u) / (m_u - 1)`` and alpha is
    ``1 - (n - 1) sum(o * delta) / sum(n_c n_k delta)``. Interval and ordinal distances are squared
    differences of positions (the values; for ordinal, the mid-ranks ``cumsum(n) - n / 2`` of the
    resampled marginals), which lets every sum be written with per-unit means, no V × V tensor.
    """
    m = counts.sum(axis=1)
    marg = mult @ counts  # (B, V): pairable values of each domain value
    n = marg.sum(axis=1)
    if level == "nominal":
        observed = mult @ ((m**2 - (counts**2).sum(axis=1)) / (m - 1))
        expected = n**2 - (marg**2).sum(axis=1)
    elif level == "ratio":
        total = domain[:, None] + domain[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.where(total != 0, (domain[:, None] - domain[None, :]) / total, 0.0) ** 2
        observed = mult @ (((counts @ delta) * counts).sum(axis=1) / (m - 1))
        expected = ((marg @ delta) * marg).sum(axis=1)
    else:
        order = np.argsort(domain, kind="stable")  # ordinal ranks follow numeric order
        if level == "interval":
            pos = np.broadcast_to(domain, marg.shape)
        else:
            sorted_marg = marg[:, order]
            mid = np.cumsum(sorted_marg, axis=1) - sorted_marg / 2
            pos = np.empty_like(mid)
            pos[:, order] = mid
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = (marg * pos).sum(axis=1) / n
        pos = pos - centre[:, None]
        expected = 2 * n * (marg * pos**2).sum(axis=1)
        observed = np.empty(mult.shape[0])
        rows = max(1, MAX_CHUNK_ELEMENTS // max(counts.shape[0], 1))
        for s in range(0, mult.shape[0], rows):
            p = pos[s : s + rows]
            sq = counts @ (p**2).T  # (U, rows)
            lin = counts @ p.T
            spread = 2 * m[:, None] / (m[:, None] - 1) * (sq - lin**2 / m[:, None])
            observed[s : s + rows] = (mult[s : s + rows] * spread.T).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = 1 - (n - 1) * observed / expected
    return np.where((expected > 0) & (n >= 2), alpha, np.nan)


def _check_level_name(level: str) -> None:
    if level not in _LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}; valid levels: {', '.join(_LEVELS)}")


def krippendorff_alpha(data: ArrayLike, level: Level = "ordinal", value_domain: Sequence[float] | None = None) -> float:
    """Krippendorff's alpha of numeric ``data`` (raters × units, NaN = missing rating).

    Units rated by fewer than two raters are not pairable and are ignored. ``value_domain`` lists
    the possible values (default: the values observed); ordinal ranks follow numeric order.
    Returns NaN when alpha is undefined: fewer than two pairable values, or no variation at all
    (every pairable rating the same value, so expected disagreement is zero). Perfect agreement
    with variation gives 1.0.
    """
    _check_level_name(level)
    counts, domain = _unit_value_counts(data, value_domain)
    if counts.shape[0] == 0:
        return math.nan
    return float(_alpha_from_multiplicities(np.ones((1, counts.shape[0])), counts, domain, level)[0])


def krippendorff_alpha_ci(
    data: ArrayLike,
    level: Level = "ordinal",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    value_domain: Sequence[float] | None = None,
) -> Estimate:
    """Alpha with a percentile bootstrap interval that resamples pairable units with replacement.

    ``n`` of the result is the number of pairable units. Resamples where alpha is undefined (no
    variation) are dropped from the interval.
    """
    _check_level_name(level)
    counts, domain = _unit_value_counts(data, value_domain)
    return krippendorff_alpha_ci_from_counts(counts, domain, level, n_boot=n_boot, seed=seed, ci_level=ci_level)


def krippendorff_alpha_ci_from_counts(
    counts: ArrayLike,
    value_domain: Sequence[float] | FloatArray,
    level: Level = "ordinal",
    *,
    n_boot: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> Estimate:
    """:func:`krippendorff_alpha_ci` from per-unit value counts (units × values, columns in the
    order of ``value_domain``) instead of a raters × units matrix: the form a streaming caller
    accumulates in O(units × values) memory (curation agreement over 362K traces, where a dense
    160 reviewers × 362K traces matrix would not fit). Units with fewer than two values are
    dropped, as unpairable."""
    _check_level_name(level)
    check_level(ci_level)
    check_n_boot(n_boot)
    domain = np.asarray(value_domain, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64).reshape(-1, domain.size)
    c = c[c.sum(axis=1) >= 2]
    units = c.shape[0]
    if units == 0:
        return nan_estimate(0, ci_level)
    value = float(_alpha_from_multiplicities(np.ones((1, units)), c, domain, level)[0])
    parts = []
    for idx in iter_resample_indices(units, n_boot, np.random.default_rng(seed)):
        rows = idx.shape[0]
        mult = np.bincount((np.arange(rows)[:, None] * units + idx).ravel(), minlength=rows * units)
        parts.append(_alpha_from_multiplicities(mult.reshape(rows, units).astype(np.float64), c, domain, level))
    return _estimate(value, np.concatenate(parts), units, ci_level)


def _estimate(value: float, replicates: FloatArray, n: int, level: float) -> Estimate:
    reps = replicates[np.isfinite(replicates)]
    if not math.isfinite(value) or reps.size == 0:
        return Estimate(value, math.nan, math.nan, n, level)
    low, high = percentile_interval(reps, level)
    return Estimate(value, low, high, n, level)


# --- two raters -----------------------------------------------------------------------------------


def _codes(values: NDArray[Any], labels: NDArray[Any], name: str) -> NDArray[np.intp]:
    sorter = np.argsort(labels)
    pos = np.searchsorted(labels, values, sorter=sorter)
    codes = sorter[np.minimum(pos, labels.size - 1)]
    bad = labels[codes] != values
    if np.any(bad):
        raise ValueError(f"{name} holds values not among labels: {np.unique(values[bad])[:10]}")
    return codes


def _label_array(a: NDArray[Any], b: NDArray[Any], labels: ArrayLike | None) -> NDArray[Any]:
    for arr, name in ((a, "a"), (b, "b")):
        if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
            raise ValueError(f"{name} contains NaN; drop unrated units first (pairwise_agreement does)")
    if labels is None:
        return np.unique(np.concatenate([a, b]))
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0 or np.unique(lab).size != lab.size:
        raise ValueError("labels must be a non-empty flat sequence of distinct values")
    return lab


def confusion_matrix(a: ArrayLike, b: ArrayLike, labels: ArrayLike | None = None) -> NDArray[np.int64]:
    """Counts with rows = ``a``'s label and columns = ``b``'s label, in ``labels`` order.

    ``labels`` defaults to the sorted union of observed values; a value outside ``labels`` is an
    error (nothing is silently dropped).
    """
    x, y = np.asarray(a).ravel(), np.asarray(b).ravel()
    if x.size != y.size:
        raise ValueError(f"a and b must be paired (same length), got {x.size} and {y.size}")
    lab = _label_array(x, y, labels)
    k = lab.size
    if x.size == 0:
        return np.zeros((k, k), dtype=np.int64)
    flat = _codes(x, lab, "a") * k + _codes(y, lab, "b")
    return np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.int64)


def _weight_matrix(k: int, weights: Weights) -> FloatArray:
    i = np.arange(k)
    diff: FloatArray = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    if weights is None:
        return np.minimum(diff, 1.0)
    if weights == "linear":
        return diff
    if weights == "quadratic":
        return np.square(diff)
    raise ValueError(f"unknown kappa weights {weights!r}; valid: None, linear, quadratic")


def cohen_kappa(a: ArrayLike, b: ArrayLike, *, weights: Weights = None, labels: ArrayLike | None = None) -> float:
    """Cohen's kappa of two raters, optionally weighted; same definition as scikit-learn.

    Weights use the *positions* in ``labels`` (default: sorted union of observed values), so pass
    the full scale (e.g. ``labels=[1, 2, 3, 4, 5]``) when some value was never used. NaN when
    undefined (no items, or both raters constant on the same label).
    """
    cm = confusion_matrix(a, b, labels).astype(np.float64)
    total = cm.sum()
    if total == 0:
        return math.nan
    w = _weight_matrix(cm.shape[0], weights)
    expected = np.outer(cm.sum(axis=1), cm.sum(axis=0)) / total
    denom = float((w * expected).sum())
    return 1.0 - float((w * cm).sum()) / denom if denom > 0 else math.nan


def _paired_floats(a: ArrayLike, b: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, y = as_finite_1d(a, "a"), as_finite_1d(b, "b")
    if x.size != y.size:
        raise ValueError(f"a and b must be paired (same length), got {x.size} and {y.size}")
    return x, y


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation (scipy); NaN for fewer than two pairs or a constant rater."""
    x, y = _paired_floats(a, b)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(_sps().spearmanr(x, y).statistic)


def mae(a: ArrayLike, b: ArrayLike) -> float:
    """Mean absolute difference of paired scores; NaN when empty."""
    x, y = _paired_floats(a, b)
    return float(np.mean(np.abs(x - y))) if x.size else math.nan


# --- every pair of raters -------------------------------------------------------------------------


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of one pair of raters on the ``n`` units both scored."""

    rater_a: str
    rater_b: str
    n: int
    kappa_quadratic: Estimate
    spearman: Estimate
    mae: Estimate

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rater_a": self.rater_a,
            "rater_b": self.rater_b,
            "n": self.n,
            "kappa_quadratic": self.kappa_quadratic.as_dict(),
            "spearman": self.spearman.as_dict(),
            "mae": self.mae.as_dict(),
        }


def _rowwise_pearson(x: FloatArray, y: FloatArray) -> FloatArray:
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=1) / denom, np.nan)


def _pair(
    x: FloatArray, y: FloatArray, lab: FloatArray, n_boot: int, seed: int, level: float
) -> tuple[Estimate, Estimate, Estimate]:
    n = x.size
    if n == 0:
        return nan_estimate(0, level), nan_estimate(0, level), nan_estimate(0, level)
    k = lab.size
    ca, cb = _codes(x, lab, "scores"), _codes(y, lab, "scores")
    w = _weight_matrix(k, "quadratic")
    kappas, rhos, maes = [], [], []
    for idx in iter_resample_indices(n, n_boot, np.random.default_rng(seed)):
        rows = idx.shape[0]
        ra, rb = ca[idx], cb[idx]
        offset = np.arange(rows)[:, None] * k
        ma = np.bincount((offset + ra).ravel(), minlength=rows * k).reshape(rows, k)
        mb = np.bincount((offset + rb).ravel(), minlength=rows * k).reshape(rows, k)
        expected = ((ma @ w) * mb).sum(axis=1) / n
        with np.errstate(invalid="ignore", divide="ignore"):
            kappas.append(np.where(expected > 0, 1 - w[ra, rb].sum(axis=1) / expected, np.nan))
        rhos.append(_rowwise_pearson(_sps().rankdata(x[idx], axis=1), _sps().rankdata(y[idx], axis=1)))
        maes.append(np.abs(x[idx] - y[idx]).mean(axis=1))
    return (
        _estimate(cohen_kappa(x, y, weights="quadratic", labels=lab), np.concatenate(kappas), n, level),
        _estimate(spearman(x, y), np.concatenate(rhos), n, level),
        _estimate(mae(x, y), np.concatenate(maes), n, level),
    )


def pairwise_agreement(
    scores: Mapping[str, ArrayLike],
    *,
    labels: Sequence[float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> list[PairAgreement]:
    """Agreement of every pair of raters (in ``scores`` order) on the units both of them scored.

    ``scores`` maps rater name → scores aligned by unit (same length for all, NaN = not scored).
    Quadratic kappa uses ``labels`` (default: sorted union of every rater's values) as the scale.
    Each pair's intervals come from a percentile bootstrap over its shared units, seeded by
    ``seed`` (resamples that leave a statistic undefined are dropped).
    """
    check_level(level)
    check_n_boot(n_boot)
    arrays = {name: np.asarray(v, dtype=np.float64) for name, v in scores.items()}
    lengths = {a.shape for a in arrays.values()}
    if any(a.ndim != 1 for a in arrays.values()) or len(lengths) > 1:
        raise ValueError(f"scores must be 1-D arrays aligned by unit (same length), got shapes {lengths}")
    if any(np.any(np.isinf(a)) for a in arrays.values()):
        raise ValueError("scores contain infinite values; use NaN for a unit not scored")
    if labels is None:
        observed = [a[~np.isnan(a)] for a in arrays.values()]
        lab = np.unique(np.concatenate(observed)) if observed else np.empty(0)
    else:
        lab = _label_array(np.empty(0), np.empty(0), np.asarray(labels, dtype=np.float64))
    out = []
    for ra, rb in itertools.combinations(arrays, 2):
        x, y = arrays[ra], arrays[rb]
        both = ~np.isnan(x) & ~np.isnan(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            kappa, rho, err = _pair(x[both], y[both], lab, n_boot, seed, level)
        out.append(PairAgreement(ra, rb, int(both.sum()), kappa, rho, err))
    return out
