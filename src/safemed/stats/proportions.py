"""Intervals of proportions from counts, and the Estimate every interval is reported as.

Pure Python (no numpy or scipy), so a multiple-choice run can summarise its accuracies without
loading either: the whole of ``safemed eval`` on exams stays within the client's floor (see
benchmarks/eval_throughput.py). :mod:`safemed.stats.bootstrap` re-exports everything here.

- ``wilson_ci``: the Wilson score interval of a proportion (used where a count is all we have);
- ``macro_proportion_ci``: the mean of several proportions (e.g. a macro-averaged accuracy over
  benchmarks), with the MOVER interval built from each proportion's Wilson limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval, the sample size and the interval's level."""

    value: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"value", "ci": [low, high], "level", "n"}``; NaN becomes ``None``."""
        return {
            "value": _json_float(self.value),
            "ci": [_json_float(self.low), _json_float(self.high)],
            "level": self.level,
            "n": self.n,
        }


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def nan_estimate(n: int = 0, level: float = 0.95) -> Estimate:
    """The estimate of nothing: all NaN, for an empty or undefined sample."""
    return Estimate(math.nan, math.nan, math.nan, n, level)


def check_level(level: float) -> None:
    """Reject a confidence level outside (0, 1)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (no continuity correction).

    Same formula as ``statsmodels.stats.proportion.proportion_confint(method="wilson")``;
    ``n == 0`` gives ``(nan, nan)``.
    """
    check_level(level)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact bounds, free of rounding
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def macro_proportion_ci(counts: Sequence[tuple[int, int]], level: float = 0.95) -> Estimate:
    """Unweighted mean of the proportions ``k / n`` of ``counts``, with a MOVER-Wilson interval.

    The MOVER method (Zou, Huang & Zhang 2009, "A note on confidence interval estimation for a
    linear function of binomial proportions") recovers the variance of each proportion from its
    Wilson limits ``(l, u)``: with ``K`` groups and mean ``m``,
    ``low = m - sqrt(sum((p - l) ** 2)) / K`` and ``high = m + sqrt(sum((u - p) ** 2)) / K``.
    Unlike a stratified bootstrap it does not collapse when every group is at 0 or 100 % (each
    Wilson interval stays open there), stays within ``[mean(l), mean(u)]`` and so within [0, 1],
    is deterministic, and for one group is exactly that group's Wilson interval. ``n`` of the
    result is the total count; no groups gives an all-NaN estimate, an empty group is an error.
    """
    check_level(level)
    if not counts:
        return nan_estimate(0, level)
    lows: list[float] = []
    highs: list[float] = []
    props: list[float] = []
    for i, (k, n) in enumerate(counts):
        if n == 0:
            raise ValueError(f"counts[{i}] has n == 0; a macro average needs every group to have values")
        low, high = wilson_ci(k, n, level)
        lows.append(low)
        highs.append(high)
        props.append(k / n)
    size = len(counts)
    value = math.fsum(props) / size
    if size == 1:  # exactly the group's Wilson interval, free of rounding
        return Estimate(value, lows[0], highs[0], counts[0][1], level)
    down = math.sqrt(math.fsum((p - low) ** 2 for p, low in zip(props, lows, strict=True))) / size
    up = math.sqrt(math.fsum((high - p) ** 2 for p, high in zip(props, highs, strict=True))) / size
    return Estimate(value, max(0.0, value - down), min(1.0, value + up), sum(n for _, n in counts), level)
