"""Judge diagnostics against hand counts and the Rogan–Gladen correction's known value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safemed.stats import binary_diagnostics, corrected_prevalence, wilson_ci


def test_binary_diagnostics_hand_counts_and_wilson_intervals() -> None:
    truth = np.array([1] * 10 + [0] * 20, dtype=bool)
    pred = np.array([1] * 8 + [0] * 2 + [1] * 3 + [0] * 17, dtype=bool)
    d = binary_diagnostics(pred, truth, n_boot=500, seed=0)
    assert (d["tp"], d["fn"], d["fp"], d["tn"], d["n"]) == (8, 2, 3, 17, 30)
    assert d["sensitivity"].value == pytest.approx(0.8) and d["sensitivity"].n == 10
    assert (d["sensitivity"].low, d["sensitivity"].high) == wilson_ci(8, 10)
    assert d["specificity"].value == pytest.approx(17 / 20)
    assert d["precision"].value == pytest.approx(8 / 11)
    assert d["npv"].value == pytest.approx(17 / 19)
    assert d["accuracy"].value == pytest.approx(25 / 30)
    assert (d["accuracy"].low, d["accuracy"].high) == wilson_ci(25, 30)
    assert d["f1"].value == pytest.approx(16 / 21)
    assert d["f1"].low < d["f1"].value < d["f1"].high
    assert binary_diagnostics(pred.astype(int), truth.astype(int), n_boot=500, seed=0) == d


def test_binary_diagnostics_zero_denominators() -> None:
    d = binary_diagnostics([False, False], [False, False])
    assert d["tn"] == 2 and d["specificity"].value == 1.0
    assert math.isnan(d["sensitivity"].value) and math.isnan(d["precision"].value)
    assert math.isnan(d["f1"].value) and math.isnan(d["f1"].low)
    with pytest.raises(ValueError, match="0/1"):
        binary_diagnostics([0, 1], [0, float("nan")])


def test_rogan_gladen_known_value_and_clipping() -> None:
    # (0.30 + 0.95 - 1) / (0.90 + 0.95 - 1) = 0.25 / 0.85
    assert corrected_prevalence(0.30, 0.90, 0.95) == pytest.approx(0.25 / 0.85)
    assert corrected_prevalence(0.30, 1.0, 1.0) == pytest.approx(0.30)  # a perfect judge changes nothing
    assert corrected_prevalence(0.01, 0.90, 0.95) == 0.0
    assert corrected_prevalence(0.99, 0.90, 0.95) == 1.0
    with pytest.raises(ValueError, match="exceed 1"):
        corrected_prevalence(0.3, 0.5, 0.5)
    with pytest.raises(ValueError, match="observed_rate"):
        corrected_prevalence(1.3, 0.9, 0.9)
