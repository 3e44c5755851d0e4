"""Power and minimum detectable effect of the Wilcoxon signed-rank test (normal approximation).

The paper's reviewers called n = 30 underpowered; a plan states the power its n gives and the
analysis states the smallest effect the n actually used could detect. For a shift alternative the
signed-rank test's asymptotic relative efficiency against the paired t-test is 3/π (normal
differences), so it behaves like a z-test on ``n·3/π`` pairs: with the standardised effect
``d_z = mean(d)/sd(d)``, power ≈ Φ(d_z·√(n·3/π) − z₁₋α/₂) (+ the negligible opposite tail), and
the minimum detectable effect at power 1−β is ``(z₁₋α/₂ + z₁₋β)/√(n·3/π)``. The tests check this
against a seeded simulation of the test itself. Pure Python (``statistics.NormalDist``).
"""

from __future__ import annotations

import math
from statistics import NormalDist

ARE = 3 / math.pi
"""Asymptotic relative efficiency of the signed-rank test vs the paired t-test (normal data)."""

METHOD = ("normal approximation of the Wilcoxon signed-rank test: a two-sided z-test on n·3/π "
          "effective pairs (its asymptotic relative efficiency vs the paired t-test for normal "
          "differences), effect as d_z = mean(d)/sd(d)")

_Z = NormalDist()


def _check(n: int, alpha: float) -> None:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def signed_rank_power(n: int, effect_dz: float, alpha: float = 0.05) -> float:
    """Two-sided power of the signed-rank test at standardised effect ``effect_dz`` with ``n`` pairs."""
    _check(n, alpha)
    shift = abs(effect_dz) * math.sqrt(n * ARE)
    crit = _Z.inv_cdf(1 - alpha / 2)
    return _Z.cdf(shift - crit) + _Z.cdf(-shift - crit)


def signed_rank_mde(n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest standardised effect ``d_z`` detected with ``power`` by a two-sided test at ``alpha``."""
    _check(n, alpha)
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    return (_Z.inv_cdf(1 - alpha / 2) + _Z.inv_cdf(power)) / math.sqrt(n * ARE)
