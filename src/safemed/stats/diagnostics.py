"""Binary diagnostics of a judge against a reference, and correcting a rate for judge error.

An LLM judge that flags unsafe answers (Med-Safety-Bench harm, attack success in the adversarial
stress tests) is itself a classifier with errors. Validating it against clinician labels gives
its sensitivity and specificity (``binary_diagnostics``); with those, a raw rate measured by the
judge is corrected to an estimate of the true rate (``corrected_prevalence``, Rogan–Gladen).
"""

from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray

from safemed.stats.bootstrap import (
    Estimate,
    check_level,
    check_n_boot,
    iter_resample_indices,
    percentile_interval,
    wilson_ci,
)


class BinaryDiagnostics(TypedDict):
    """Counts and rates of a binary prediction against the truth; rates carry their intervals.

    ``sensitivity``, ``specificity``, ``precision``, ``npv`` and ``accuracy`` are proportions with
    Wilson intervals (``n`` = their denominator); ``f1`` has a bootstrap percentile interval over
    items. A rate whose denominator is zero is NaN.
    """

    tp: int
    fp: int
    tn: int
    fn: int
    n: int
    sensitivity: Estimate
    specificity: Estimate
    precision: Estimate
    npv: Estimate
    accuracy: Estimate
    f1: Estimate


def as_bool_1d(values: ArrayLike, name: str) -> NDArray[np.bool_]:
    """``values`` (booleans or 0/1) as a 1-D boolean array; ValueError on anything else or NaN."""
    x = np.asarray(values)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {x.shape}")
    xf = x.astype(np.float64)
    if not np.all((xf == 0) | (xf == 1)):
        raise ValueError(f"{name} must hold booleans or 0/1 only (no NaN)")
    out: NDArray[np.bool_] = xf == 1
    return out


def _proportion(successes: int, n: int, level: float) -> Estimate:
    low, high = wilson_ci(successes, n, level)
    return Estimate(successes / n if n else math.nan, low, high, n, level)


def _f1(tp: NDArray[np.int64], fp: NDArray[np.int64], fn: NDArray[np.int64]) -> NDArray[np.float64]:
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def binary_diagnostics(
    pred: ArrayLike, truth: ArrayLike, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> BinaryDiagnostics:
    """Confusion counts, sensitivity, specificity, precision, NPV, accuracy and F1 of ``pred`` vs ``truth``.

    ``pred`` and ``truth`` are paired booleans (or 0/1), positive = the condition being detected
    (e.g. "harmful"). Call ``Estimate.as_dict()`` on the rates for JSON.
    """
    check_level(level)
    check_n_boot(n_boot)
    p, t = as_bool_1d(pred, "pred"), as_bool_1d(truth, "truth")
    if p.size != t.size:
        raise ValueError(f"pred and truth must be paired (same length), got {p.size} and {t.size}")
    codes = 2 * t.astype(np.int64) + p.astype(np.int64)  # 0 tn, 1 fp, 2 fn, 3 tp
    tn, fp, fn, tp = (int(c) for c in np.bincount(codes, minlength=4))
    n = int(p.size)
    f1_value = float(_f1(np.array([tp]), np.array([fp]), np.array([fn]))[0])
    f1_low = f1_high = math.nan
    if n > 0 and math.isfinite(f1_value):
        parts = []
        for idx in iter_resample_indices(n, n_boot, np.random.default_rng(seed)):
            rows = idx.shape[0]
            counts = np.bincount((np.arange(rows)[:, None] * 4 + codes[idx]).ravel(), minlength=rows * 4).reshape(
                rows, 4
            )
            parts.append(_f1(counts[:, 3], counts[:, 1], counts[:, 2]))
        reps = np.concatenate(parts)
        reps = reps[np.isfinite(reps)]
        if reps.size:
            f1_low, f1_high = percentile_interval(reps, level)
    return BinaryDiagnostics(
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        n=n,
        sensitivity=_proportion(tp, tp + fn, level),
        specificity=_proportion(tn, tn + fp, level),
        precision=_proportion(tp, tp + fp, level),
        npv=_proportion(tn, tn + fn, level),
        accuracy=_proportion(tp + tn, n, level),
        f1=Estimate(f1_value, f1_low, f1_high, n, level),
    )


def corrected_prevalence(observed_rate: float, sensitivity: float, specificity: float) -> float:
    """Rogan–Gladen estimate of the true rate from a rate measured by an imperfect judge.

    ``(observed + specificity - 1) / (sensitivity + specificity - 1)``, clipped to [0, 1]. A judge
    no better than chance (``sensitivity + specificity <= 1``) cannot be corrected: ValueError.
    """
    for name, v in (("observed_rate", observed_rate), ("sensitivity", sensitivity), ("specificity", specificity)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    youden = sensitivity + specificity - 1.0
    if youden <= 0:
        raise ValueError(
            f"sensitivity + specificity must exceed 1 to correct a rate (got {sensitivity} + {specificity})"
        )
    return min(1.0, max(0.0, (observed_rate + specificity - 1.0) / youden))


def corrected_rate_ci(
    observed: ArrayLike,
    calib_pred: ArrayLike,
    calib_truth: ArrayLike,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> Estimate:
    """A judge-measured rate corrected for the judge's error, with uncertainty from both samples.

    ``observed``: the judge's binary flags on the run (e.g. "unsafe" or "attack succeeded");
    ``calib_pred``/``calib_truth``: the same judge's flags and the human labels on a calibration
    set. The estimate is Rogan–Gladen with the calibration's sensitivity and specificity; the
    percentile interval resamples the run *and* the calibration set independently, so it includes
    the calibration's uncertainty. Resamples where sensitivity + specificity ≤ 1 are dropped.
    """
    check_level(level)
    check_n_boot(n_boot)
    obs = as_bool_1d(observed, "observed")
    pred, truth = as_bool_1d(calib_pred, "calib_pred"), as_bool_1d(calib_truth, "calib_truth")
    if pred.size != truth.size:
        raise ValueError("calibration predictions and labels must be paired")
    if obs.size == 0 or pred.size == 0:
        return Estimate(math.nan, math.nan, math.nan, int(obs.size), level)

    def estimate(o: NDArray[np.bool_], p: NDArray[np.bool_], t: NDArray[np.bool_]) -> float:
        pos, neg = t.sum(), (~t).sum()
        if pos == 0 or neg == 0:
            return math.nan
        sens, spec = (p & t).sum() / pos, (~p & ~t).sum() / neg
        if sens + spec <= 1:
            return math.nan
        return float(min(1.0, max(0.0, (o.mean() + spec - 1) / (sens + spec - 1))))

    value = estimate(obs, pred, truth)
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        i = rng.integers(0, obs.size, obs.size)
        j = rng.integers(0, pred.size, pred.size)
        reps.append(estimate(obs[i], pred[j], truth[j]))
    arr = np.asarray([r for r in reps if not math.isnan(r)], dtype=np.float64)
    low, high = percentile_interval(arr, level) if arr.size else (math.nan, math.nan)
    return Estimate(value, low, high, int(obs.size), level)
