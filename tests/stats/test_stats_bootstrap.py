"""Bootstrap, Wilson and MOVER-Wilson intervals against scipy, hand formulas and their documented edge cases."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats as sps

from safemed.stats import (
    Estimate,
    binary_diagnostics,
    bootstrap_ci,
    bootstrap_mean_ci,
    krippendorff_alpha_ci,
    macro_average_ci,
    macro_proportion_ci,
    pairwise_agreement,
    wilson_ci,
)
from safemed.stats import bootstrap as bootstrap_module


@pytest.fixture
def normal_sample() -> np.ndarray:
    return np.random.default_rng(7).normal(loc=2.0, scale=1.0, size=200)


def test_percentile_ci_matches_scipy_bootstrap(normal_sample: np.ndarray) -> None:
    ours = bootstrap_ci(normal_sample, n_boot=20000, seed=1)
    ref = sps.bootstrap(
        (normal_sample,), np.mean, n_resamples=20000, method="percentile", random_state=np.random.default_rng(1)
    ).confidence_interval
    assert ours[0] == pytest.approx(ref.low, abs=0.01)
    assert ours[1] == pytest.approx(ref.high, abs=0.01)


def test_bca_ci_matches_scipy_bootstrap() -> None:
    skewed = np.random.default_rng(3).exponential(size=60)
    for stat in (np.mean, np.median):
        ours = bootstrap_ci(skewed, stat=stat, n_boot=20000, seed=2, method="bca")
        ref = sps.bootstrap(
            (skewed,), stat, n_resamples=20000, method="BCa", random_state=np.random.default_rng(2)
        ).confidence_interval
        assert ours[0] == pytest.approx(ref.low, abs=0.03)
        assert ours[1] == pytest.approx(ref.high, abs=0.03)


def test_same_seed_same_interval_different_seed_different(normal_sample: np.ndarray) -> None:
    assert bootstrap_ci(normal_sample, seed=5) == bootstrap_ci(normal_sample, seed=5)
    assert bootstrap_ci(normal_sample, seed=5) != bootstrap_ci(normal_sample, seed=6)
    assert bootstrap_ci(normal_sample, seed=5, method="bca") == bootstrap_ci(normal_sample, seed=5, method="bca")


def test_interval_contains_the_mean_and_narrows_with_confidence(normal_sample: np.ndarray) -> None:
    low, high = bootstrap_ci(normal_sample)
    assert low < normal_sample.mean() < high
    low90, high90 = bootstrap_ci(normal_sample, level=0.90)
    assert low < low90 < high90 < high


def test_vectorised_and_looped_statistics_agree(normal_sample: np.ndarray) -> None:
    vec = bootstrap_ci(normal_sample, stat=np.median, n_boot=300, seed=4)
    loop = bootstrap_ci(normal_sample, stat=lambda v: float(np.median(v)), n_boot=300, seed=4)
    assert vec == pytest.approx(loop, abs=1e-12)
    bca_vec = bootstrap_ci(normal_sample, stat=np.median, n_boot=300, seed=4, method="bca")
    bca_loop = bootstrap_ci(normal_sample, stat=lambda v: float(np.median(v)), n_boot=300, seed=4, method="bca")
    assert bca_vec == pytest.approx(bca_loop, abs=1e-12)


def test_fifty_thousand_values_are_resampled_in_bounded_chunks() -> None:
    values = np.random.default_rng(0).integers(0, 2, size=50_000).astype(float)
    tracemalloc.start()
    try:
        low, high = bootstrap_ci(values, n_boot=2000, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20  # all at once would be 100M indices = 800 MB
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * values.std() / math.sqrt(values.size), rel=0.1)
    shapes = [c.shape for c in bootstrap_module.iter_resample_indices(50_000, 2000, np.random.default_rng(0))]
    assert sum(s[0] for s in shapes) == 2000
    assert max(s[0] * s[1] for s in shapes) <= bootstrap_module.MAX_CHUNK_ELEMENTS


def test_edge_cases_empty_single_constant_and_bad_input() -> None:
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert bootstrap_ci([3.5]) == (3.5, 3.5)
    assert bootstrap_ci([2.0, 2.0, 2.0], method="bca") == (2.0, 2.0)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="method"):
        bootstrap_ci([1.0, 2.0], method="basic")


def test_bootstrap_mean_ci_and_estimate_json() -> None:
    est = bootstrap_mean_ci([0, 1, 1, 1, 0, 1], n_boot=500, seed=3)
    assert est.value == pytest.approx(4 / 6)
    assert est.n == 6 and est.level == 0.95
    assert est.low <= est.value <= est.high
    assert est.as_dict() == {"value": est.value, "ci": [est.low, est.high], "level": 0.95, "n": 6}
    empty = bootstrap_mean_ci([])
    assert empty.n == 0 and math.isnan(empty.value)
    assert json.dumps(empty.as_dict()) == '{"value": null, "ci": [null, null], "level": 0.95, "n": 0}'
    assert Estimate(1.0, 0.5, 1.5, 3, 0.9).as_dict()["level"] == 0.9


def test_macro_average_is_mean_of_group_means_with_stratified_bootstrap() -> None:
    est = macro_average_ci([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]], n_boot=200, seed=0)
    assert (est.value, est.low, est.high, est.n) == (0.5, 0.5, 0.5, 8)  # constant within groups
    rng = np.random.default_rng(1)
    groups = [rng.normal(0, 1, 30), rng.normal(3, 1, 300), rng.normal(1, 1, 5)]
    est = macro_average_ci(groups, n_boot=1000, seed=2)
    assert est.value == pytest.approx(np.mean([g.mean() for g in groups]))
    assert est.low < est.value < est.high
    assert est == macro_average_ci(groups, n_boot=1000, seed=2)
    assert math.isnan(macro_average_ci([]).value)
    with pytest.raises(ValueError, match=r"groups\[1\] is empty"):
        macro_average_ci([[1.0], []])


def test_wilson_textbook_value_and_hand_formula() -> None:
    low, high = wilson_ci(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # statsmodels' proportion_confint(method="wilson"), written out by hand
    k, n, z = 7, 40, sps.norm.ppf(0.995)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert wilson_ci(k, n, level=0.99) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert wilson_ci(0, 10)[0] == 0.0 and wilson_ci(10, 10)[1] == 1.0
    assert all(math.isnan(v) for v in wilson_ci(0, 0))
    with pytest.raises(ValueError):
        wilson_ci(5, 3)


def test_every_bootstrap_rejects_zero_resamples() -> None:
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci([1.0, 2.0], n_boot=0)
    with pytest.raises(ValueError, match="n_boot"):
        krippendorff_alpha_ci([[1, 2], [1, 2]], n_boot=0)
    with pytest.raises(ValueError, match="n_boot"):
        pairwise_agreement({"a": [1, 2], "b": [1, 2]}, n_boot=0)
    with pytest.raises(ValueError, match="n_boot"):
        binary_diagnostics([0, 1], [0, 1], n_boot=0)


def test_rate_ci_uses_wilson_for_binary_rates_and_bootstrap_otherwise() -> None:
    from safemed.stats import rate_ci, wilson_ci

    zeros = rate_ci([0] * 48)
    assert zeros.value == 0.0 and zeros.low == 0.0
    assert zeros.high == pytest.approx(wilson_ci(0, 48)[1]) and zeros.high > 0.05
    shares = rate_ci([0, 1 / 3, 2 / 3, 1, 1, 0], n_boot=500, seed=1)
    assert shares.value == pytest.approx(0.5) and shares.low < 0.5 < shares.high


@pytest.mark.parametrize(("k", "n", "expected"), [
    (0, 10, (0.0, 0.2775)),  # z² / (n + z²) = 3.8415 / 13.8415: open at 0 %, where a bootstrap gives [0, 0]
    (10, 10, (0.7225, 1.0)),
    (7, 10, (0.3968, 0.8922)),
])
def test_wilson_hand_values_at_and_between_the_edges(k: int, n: int, expected: tuple[float, float]) -> None:
    low, high = wilson_ci(k, n)
    assert (round(low, 4), round(high, 4)) == expected


def test_macro_proportion_ci_is_mover_from_the_wilson_limits() -> None:
    for k, n in [(0, 10), (7, 10), (10, 10)]:  # one group: exactly its Wilson interval
        est = macro_proportion_ci([(k, n)])
        assert (est.value, est.low, est.high, est.n) == (k / n, *wilson_ci(k, n), n)
    u = wilson_ci(0, 10)[1]  # 0.2775; by symmetry wilson_ci(10, 10)[0] == 1 - u
    both = macro_proportion_ci([(0, 10), (10, 10)])  # the stratified bootstrap says [0.5, 0.5]
    assert both.value == 0.5 and both.n == 20
    assert (both.low, both.high) == pytest.approx((0.5 - u / 2, 0.5 + u / 2))
    assert (round(both.low, 4), round(both.high, 4)) == (0.3612, 0.6388)
    zeros = macro_proportion_ci([(0, 10), (0, 10)])
    assert (zeros.value, zeros.low) == (0.0, 0.0) and zeros.high == pytest.approx(u / math.sqrt(2))
    counts = [(7, 10), (30, 40), (1, 5)]
    mixed = macro_proportion_ci(counts, level=0.9)
    p = [0.7, 0.75, 0.2]
    lows, highs = zip(*(wilson_ci(k, n, 0.9) for k, n in counts), strict=True)
    assert mixed.value == pytest.approx(np.mean(p)) and mixed.level == 0.9
    assert mixed.low == pytest.approx(np.mean(p) - math.hypot(*np.subtract(p, lows)) / 3)
    assert mixed.high == pytest.approx(np.mean(p) + math.hypot(*np.subtract(highs, p)) / 3)
    assert math.isnan(macro_proportion_ci([]).value)
    with pytest.raises(ValueError, match=r"counts\[1\] has n == 0"):
        macro_proportion_ci([(1, 2), (0, 0)])


def test_macro_proportion_ci_covers_near_the_edges() -> None:
    rng = np.random.default_rng(0)
    ps, ns = np.array([0.02, 0.5, 0.97]), np.array([30, 50, 20])
    hits = 0
    for _ in range(1000):
        est = macro_proportion_ci([(int(k), int(n)) for k, n in zip(rng.binomial(ns, ps), ns, strict=True)])
        hits += est.low <= ps.mean() <= est.high
    assert hits / 1000 >= 0.94
