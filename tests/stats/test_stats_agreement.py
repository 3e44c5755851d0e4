"""Agreement statistics against the krippendorff package, scikit-learn and scipy."""

from __future__ import annotations

import json
import math

import krippendorff
import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from safemed.stats import (
    cohen_kappa,
    confusion_matrix,
    krippendorff_alpha,
    krippendorff_alpha_ci,
    mae,
    pairwise_agreement,
    spearman,
)
from safemed.stats.agreement import _alpha_from_multiplicities, _unit_value_counts

NAN = np.nan
# Krippendorff's own example (reliability data with missing values), as in the package's docs
KRIPP = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]
# Hayes & Krippendorff (2007) ordinal example: alpha = 0.815
HAYES = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _random_ratings(rng: np.random.Generator) -> np.ndarray:
    raters, units, values = rng.integers(2, 7), rng.integers(3, 80), rng.integers(2, 8)
    data = rng.integers(1, values + 1, size=(raters, units)).astype(float) * rng.choice([1.0, 2.5])
    data[rng.random(data.shape) < rng.uniform(0, 0.5)] = np.nan
    return data


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package_on_hand_made_data(level: str) -> None:
    for data in (KRIPP, HAYES):
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9)
    assert round(krippendorff_alpha(HAYES, "ordinal"), 3) == 0.815
    assert round(krippendorff_alpha(KRIPP, "nominal"), 6) == 0.691358


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_krippendorff_package_on_random_data(level: str) -> None:
    rng = np.random.default_rng(42)
    checked = 0
    for _ in range(60):
        data = _random_ratings(rng)
        counts, _ = _unit_value_counts(data, None)
        if counts.shape[0] == 0 or np.unique(data[~np.isnan(data)]).size < 2:
            continue
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-9)
        domain = sorted({*data[~np.isnan(data)].tolist(), 0.5, 40.0})
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=domain)
        got = krippendorff_alpha(data, level, value_domain=domain)
        assert got == pytest.approx(expected, abs=1e-9)
        checked += 1
    assert checked > 40


def test_alpha_edge_cases() -> None:
    assert math.isnan(krippendorff_alpha([[3, 3, 3], [3, 3, 3]]))  # no variation: undefined
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "nominal") == 1.0  # perfect agreement
    assert math.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))  # no unit rated twice
    assert math.isnan(krippendorff_alpha(np.empty((2, 0))))
    with pytest.raises(ValueError, match="value_domain"):
        krippendorff_alpha([[1, 2], [1, 6]], value_domain=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="valid levels"):
        krippendorff_alpha(KRIPP, "cardinal")
    with pytest.raises(ValueError, match="raters × units"):
        krippendorff_alpha([1, 2, 3])


@pytest.mark.parametrize("level", LEVELS)
def test_bootstrap_weights_equal_alpha_of_resampled_units(level: str) -> None:
    data = np.asarray(HAYES)
    counts, domain = _unit_value_counts(data, None)
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    rng = np.random.default_rng(0)
    picks = rng.integers(0, counts.shape[0], size=(5, counts.shape[0]))
    mult = np.stack([np.bincount(p, minlength=counts.shape[0]) for p in picks]).astype(float)
    got = _alpha_from_multiplicities(mult, counts, domain, level)
    for row, p in zip(got, picks, strict=True):
        resampled = pairable[:, p]
        assert row == pytest.approx(krippendorff_alpha(resampled, level, value_domain=domain))


def test_alpha_ci_is_seeded_and_contains_alpha() -> None:
    est = krippendorff_alpha_ci(HAYES, "ordinal", n_boot=500, seed=1)
    assert est.value == pytest.approx(krippendorff_alpha(HAYES, "ordinal"))
    assert est.low < est.value <= est.high <= 1.0
    assert est.n == 11  # pairable units
    assert est == krippendorff_alpha_ci(HAYES, "ordinal", n_boot=500, seed=1)
    assert est != krippendorff_alpha_ci(HAYES, "ordinal", n_boot=500, seed=2)
    assert math.isnan(krippendorff_alpha_ci([[1, NAN]], "nominal").value)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights: str | None) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.integers(1, 6, 120)
        b = np.clip(a + rng.integers(-2, 3, 120), 1, 5)
        assert cohen_kappa(a, b, weights=weights) == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-12)
    a, b = np.array([1, 2, 2, 5, 5, 1]), np.array([1, 2, 5, 5, 2, 2])  # 3 and 4 never used
    labels = [1, 2, 3, 4, 5]
    assert cohen_kappa(a, b, weights=weights, labels=labels) == pytest.approx(
        cohen_kappa_score(a, b, weights=weights, labels=labels), abs=1e-12
    )


def test_cohen_kappa_strings_and_edge_cases() -> None:
    a = ["safe", "unsafe", "safe", "safe", "unsafe"]
    b = ["safe", "unsafe", "unsafe", "safe", "unsafe"]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert math.isnan(cohen_kappa([2, 2, 2], [2, 2, 2]))
    assert math.isnan(cohen_kappa([], []))
    with pytest.raises(ValueError, match="not among labels"):
        cohen_kappa([1, 2], [1, 3], labels=[1, 2])
    with pytest.raises(ValueError, match="NaN"):
        cohen_kappa([1.0, NAN], [1.0, 2.0])


def test_confusion_matrix_matches_sklearn() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert np.array_equal(confusion_matrix(a, b), sk_confusion_matrix(a, b))
    order = [3, 1, 0, 2]
    assert np.array_equal(confusion_matrix(a, b, order), sk_confusion_matrix(a, b, labels=order))
    assert confusion_matrix([], [], [0, 1]).tolist() == [[0, 0], [0, 0]]


def test_spearman_and_mae() -> None:
    rng = np.random.default_rng(6)
    a = rng.integers(1, 6, 50).astype(float)
    b = a + rng.normal(0, 1, 50)
    assert spearman(a, b) == pytest.approx(sps.spearmanr(a, b).statistic, abs=1e-12)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1], [2]))
    assert mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert math.isnan(mae([], []))


def test_pairwise_agreement_on_units_both_scored() -> None:
    rng = np.random.default_rng(8)
    human = rng.integers(1, 6, 150).astype(float)
    judge_a = np.clip(human + rng.integers(-1, 2, 150), 1, 5)
    judge_b = np.where(rng.random(150) < 0.2, np.nan, np.clip(human + rng.integers(-2, 3, 150), 1, 5))
    scores = {"human": human, "judge_a": judge_a, "judge_b": judge_b}
    pairs = pairwise_agreement(scores, labels=[1, 2, 3, 4, 5], n_boot=500, seed=0)
    assert [(p.rater_a, p.rater_b) for p in pairs] == [
        ("human", "judge_a"),
        ("human", "judge_b"),
        ("judge_a", "judge_b"),
    ]
    both = ~np.isnan(judge_b)
    hb = pairs[1]
    assert hb.n == int(both.sum())
    assert hb.kappa_quadratic.value == pytest.approx(
        cohen_kappa_score(human[both], judge_b[both], weights="quadratic", labels=[1, 2, 3, 4, 5])
    )
    assert hb.spearman.value == pytest.approx(sps.spearmanr(human[both], judge_b[both]).statistic)
    assert hb.mae.value == pytest.approx(np.abs(human[both] - judge_b[both]).mean())
    for p in pairs:
        for est in (p.kappa_quadratic, p.spearman, p.mae):
            assert est.low <= est.value <= est.high and est.n == p.n
    assert pairs == pairwise_agreement(scores, labels=[1, 2, 3, 4, 5], n_boot=500, seed=0)
    json.dumps([p.as_dict() for p in pairs])
    with pytest.raises(ValueError, match="same length"):
        pairwise_agreement({"a": [1, 2], "b": [1]})


def test_pairwise_agreement_with_nothing_shared() -> None:
    (pair,) = pairwise_agreement({"a": [1, NAN], "b": [NAN, 2]})
    assert pair.n == 0 and math.isnan(pair.kappa_quadratic.value)


def test_alpha_from_unit_counts_equals_alpha_from_the_rating_matrix() -> None:
    from safemed.stats.agreement import krippendorff_alpha_ci, krippendorff_alpha_ci_from_counts

    rng = np.random.default_rng(3)
    data = rng.integers(1, 6, size=(6, 40)).astype(float)
    data[rng.random(data.shape) < 0.5] = np.nan
    counts = np.stack([np.bincount(col[~np.isnan(col)].astype(int) - 1, minlength=5) for col in data.T])
    dense = krippendorff_alpha_ci(data, "ordinal", n_boot=300, seed=1, value_domain=[1, 2, 3, 4, 5])
    compact = krippendorff_alpha_ci_from_counts(counts, [1, 2, 3, 4, 5], "ordinal", n_boot=300, seed=1)
    assert (compact.value, compact.low, compact.high, compact.n) == (dense.value, dense.low, dense.high, dense.n)
