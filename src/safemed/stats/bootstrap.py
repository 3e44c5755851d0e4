"""Bootstrap and binomial confidence intervals: the error bar on every number safemed reports.

Every rate in the evidence package (capability and safety benchmarks, Med-Safety-Bench harm
scores, attack success rates, the clinician comparison) is reported with an interval, never as a
bare point estimate. This module holds the one-sample tools:

- ``bootstrap_ci``: percentile or BCa bootstrap interval of any statistic, seeded, vectorised and
  chunked so that 50,000 values × 2,000 resamples never hold more than ``MAX_CHUNK_ELEMENTS``
  resampled values at once;
- ``bootstrap_mean_ci``: the same for the mean, returned as an ``Estimate``;
- ``macro_average_ci``: the mean of per-group means (e.g. per-category harm), with a stratified
  bootstrap that resamples within each group;
- ``wilson_ci`` and ``macro_proportion_ci``, with ``Estimate``: re-exported from the numpy-free
  :mod:`safemed.stats.proportions` (the Wilson interval of a proportion, and the MOVER interval of a
  mean of proportions).

Input values must be finite: a judge answer that could not be parsed is counted apart by the
caller (DESIGN.md, "Errors and bad input"), never smuggled in here as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from safemed.stats.proportions import Estimate as Estimate
from safemed.stats.proportions import check_level as check_level
from safemed.stats.proportions import macro_proportion_ci as macro_proportion_ci
from safemed.stats.proportions import nan_estimate as nan_estimate
from safemed.stats.proportions import wilson_ci as wilson_ci

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]
Method = Literal["percentile", "bca"]

MAX_CHUNK_ELEMENTS = 2_000_000
"""Most resampled values (or indices) materialised at once by any bootstrap here (~16 MB)."""

_VECTORISED_REDUCERS: tuple[Callable[..., Any], ...] = (
    np.mean,
    np.median,
    np.sum,
    np.std,
    np.var,
    np.min,
    np.max,
)


def _special() -> Any:
    """scipy.special, imported on first use to keep CLI start-up fast."""
    from scipy import special

    return special


def check_n_boot(n_boot: int) -> None:
    """Reject a bootstrap with no resamples."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")


def as_finite_1d(values: ArrayLike, name: str = "values") -> FloatArray:
    """``values`` as a 1-D float64 array; raises ValueError on NaN/inf or a wrong shape."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values; drop or count them before the statistics")
    return x


def iter_resample_indices(n: int, n_boot: int, rng: np.random.Generator) -> Iterator[IndexArray]:
    """Yield bootstrap index matrices of shape (rows, n), ``n_boot`` rows in all, in bounded chunks."""
    rows = max(1, MAX_CHUNK_ELEMENTS // max(n, 1))
    done = 0
    while done < n_boot:
        take = min(rows, n_boot - done)
        yield rng.integers(0, n, size=(take, n))
        done += take


def resampled_means(x: FloatArray, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """Means of ``n_boot`` bootstrap resamples of ``x`` (chunked, memory-bounded)."""
    parts = [x[idx].mean(axis=1) for idx in iter_resample_indices(x.size, n_boot, rng)]
    return np.concatenate(parts) if parts else np.empty(0)


def percentile_interval(replicates: FloatArray, level: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap replicates (linear interpolation)."""
    alpha = 1.0 - level
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _replicates(
    x: FloatArray, stat: Callable[..., Any], n_boot: int, rng: np.random.Generator, vectorized: bool
) -> FloatArray:
    if stat is np.mean:
        return resampled_means(x, n_boot, rng)
    parts: list[FloatArray] = []
    for idx in iter_resample_indices(x.size, n_boot, rng):
        if vectorized:
            parts.append(np.asarray(stat(x[idx], axis=-1), dtype=np.float64))
        else:
            parts.append(np.array([float(stat(x[row])) for row in idx]))
    return np.concatenate(parts)


def _jackknife(x: FloatArray, stat: Callable[..., Any], vectorized: bool) -> FloatArray:
    n = x.size
    if stat is np.mean:
        loo: FloatArray = (x.sum() - x) / (n - 1)
        return loo
    out = np.empty(n)
    base = np.arange(n - 1)
    rows = max(1, MAX_CHUNK_ELEMENTS // n)
    for start in range(0, n, rows):
        drop = np.arange(start, min(n, start + rows))
        idx = base[None, :] + (base[None, :] >= drop[:, None])  # leave-one-out index rows
        if vectorized:
            out[drop] = np.asarray(stat(x[idx], axis=-1), dtype=np.float64)
        else:
            out[drop] = [float(stat(x[row])) for row in idx]
    return out


def _bca_interval(replicates: FloatArray, theta: float, jack: FloatArray, level: float) -> tuple[float, float]:
    """Efron's bias-corrected and accelerated interval (same definitions as scipy.stats.bootstrap)."""
    below = (np.count_nonzero(replicates < theta) + np.count_nonzero(replicates <= theta)) / (2 * replicates.size)
    z0 = float(_special().ndtri(below))
    dev = jack.mean() - jack
    denom = 6.0 * float(np.sum(dev**2)) ** 1.5
    accel = float(np.sum(dev**3)) / denom if denom > 0 else 0.0
    alpha = 1.0 - level
    probs = []
    for z_tail in (_special().ndtri(alpha / 2), _special().ndtri(1 - alpha / 2)):
        shift = z0 + z_tail
        probs.append(float(_special().ndtr(z0 + shift / (1 - accel * shift))))
    if not all(math.isfinite(p) for p in probs):  # theta outside the bootstrap range: no correction
        return percentile_interval(replicates, level)
    low, high = np.quantile(replicates, probs)
    return float(low), float(high)


def bootstrap_ci(
    values: ArrayLike,
    *,
    stat: Callable[..., Any] = np.mean,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    method: Method = "percentile",
    vectorized: bool | None = None,
) -> tuple[float, float]:
    """Bootstrap confidence interval of ``stat(values)``; seeded and deterministic.

    ``stat`` is applied to resampled rows with ``axis=-1`` when ``vectorized`` (the default for
    numpy reducers such as ``np.mean``/``np.median``), else once per resample. ``method="bca"`` is
    Efron's BCa interval. An empty sample gives ``(nan, nan)``, a single value ``v`` gives
    ``(stat([v]), stat([v]))``.
    """
    check_level(level)
    check_n_boot(n_boot)
    if method not in ("percentile", "bca"):
        raise ValueError(f"unknown bootstrap method {method!r}; valid methods: bca, percentile")
    x = as_finite_1d(values)
    if x.size == 0:
        return math.nan, math.nan
    theta = float(stat(x))
    if x.size == 1:
        return theta, theta
    vec = vectorized if vectorized is not None else stat in _VECTORISED_REDUCERS
    reps = _replicates(x, stat, n_boot, np.random.default_rng(seed), vec)
    if method == "percentile":
        return percentile_interval(reps, level)
    if np.all(reps == reps[0]):
        return theta, theta
    return _bca_interval(reps, theta, _jackknife(x, stat, vec), level)


def bootstrap_mean_ci(
    values: ArrayLike,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    method: Method = "percentile",
) -> Estimate:
    """The mean of ``values`` with its bootstrap interval (see ``bootstrap_ci``)."""
    x = as_finite_1d(values)
    if x.size == 0:
        check_level(level)
        return nan_estimate(0, level)
    low, high = bootstrap_ci(x, n_boot=n_boot, level=level, seed=seed, method=method)
    return Estimate(float(x.mean()), low, high, int(x.size), level)


def rate_ci(values: ArrayLike, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """The mean of per-item rates in [0, 1] with an interval that stays honest at the edges.

    When every value is 0 or 1 (a single rater's yes/no per item) the mean is a proportion and the
    interval is Wilson's: a percentile bootstrap of 0 successes in 48 would claim [0, 0]. Otherwise
    (e.g. the share of three judges that said yes, per item) it is the percentile bootstrap.
    """
    x = as_finite_1d(values)
    if x.size and bool(np.all((x == 0) | (x == 1))):
        k = int(x.sum())
        low, high = wilson_ci(k, int(x.size), level)
        return Estimate(k / x.size, low, high, int(x.size), level)
    return bootstrap_mean_ci(x, n_boot=n_boot, level=level, seed=seed)


def macro_average_ci(
    groups: Sequence[ArrayLike], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Mean of per-group means (each group weighs the same), with a stratified percentile bootstrap.

    Each resample draws every group's values with replacement within that group, so group sizes
    stay fixed, as in the design. ``n`` of the result is the total number of values. Every group
    must be non-empty (an empty group has no mean); no groups at all gives an all-NaN estimate.
    """
    check_level(level)
    check_n_boot(n_boot)
    arrays = [as_finite_1d(g, f"groups[{i}]") for i, g in enumerate(groups)]
    if not arrays:
        return nan_estimate(0, level)
    for i, g in enumerate(arrays):
        if g.size == 0:
            raise ValueError(f"groups[{i}] is empty; a macro average needs every group to have values")
    rng = np.random.default_rng(seed)
    boot = np.zeros(n_boot)
    for g in arrays:
        boot += resampled_means(g, n_boot, rng)
    boot /= len(arrays)
    value = float(np.mean([g.mean() for g in arrays]))
    low, high = percentile_interval(boot, level)
    return Estimate(value, low, high, sum(int(g.size) for g in arrays), level)
