"""Tests for tpsim.analysis.fitstats: MAPE, RMSE, R^2 and the Theil proportions (Sterman 1984)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tpsim.analysis.fitstats import (coefficient_of_determination, mape, r_squared, rmse,
                            series_fit_statistics, theil_proportions)


def test_hand_worked_example():
    """A = [2, 4, 6, 8], S = [3, 4, 7, 10], worked by hand.

    Errors S - A = [1, 0, 1, 2], so MSE = (1 + 0 + 1 + 4) / 4 = 1.5.
    Means: A 5, S 6, so the bias term is (6 - 5)^2 = 1 and U^M = 1 / 1.5 = 2/3.
    Deviations: A [-3, -1, 1, 3] (variance 20/4 = 5), S [-3, -2, 1, 4] (variance 30/4 = 7.5);
    covariance (9 + 2 + 1 + 12) / 4 = 6, so r = 6 / sqrt(37.5) and R^2 = 36 / 37.5 = 0.96.
    Variation term (sqrt 7.5 - sqrt 5)^2 = 12.5 - 2 sqrt 37.5; U^S = that / 1.5 = 0.168367.
    Covariation term 2 (sqrt 37.5 - 6) = 2 sqrt 37.5 - 12;     U^C = that / 1.5 = 0.164966.
    Check: 1 + (12.5 - 2 sqrt 37.5) + (2 sqrt 37.5 - 12) = 1.5 = MSE.
    MAPE = (1/2 + 0 + 1/6 + 2/8) / 4 x 100 = 22.9167%; RMSE = sqrt 1.5;
    1 - SSE/SST = 1 - 6 / 20 = 0.7.
    """
    a = [2.0, 4.0, 6.0, 8.0]
    s = [3.0, 4.0, 7.0, 10.0]
    u = theil_proportions(a, s)
    root = math.sqrt(37.5)
    assert u["UM"] == pytest.approx(2.0 / 3.0, rel=1e-12)
    assert u["US"] == pytest.approx((12.5 - 2.0 * root) / 1.5, rel=1e-12)
    assert u["UC"] == pytest.approx((2.0 * root - 12.0) / 1.5, rel=1e-12)
    assert u["US"] == pytest.approx(0.168367, abs=1e-6)
    assert u["UC"] == pytest.approx(0.164966, abs=1e-6)
    assert u["UM"] + u["US"] + u["UC"] == pytest.approx(1.0, abs=1e-15)
    assert mape(a, s) == pytest.approx((0.5 + 0.0 + 1.0 / 6.0 + 0.25) / 4.0 * 100.0)
    assert rmse(a, s) == pytest.approx(math.sqrt(1.5))
    assert r_squared(a, s) == pytest.approx(0.96)
    assert coefficient_of_determination(a, s) == pytest.approx(0.7)
    stats = series_fit_statistics(a, s)
    assert stats["n"] == 4 and stats["mse"] == pytest.approx(1.5)
    assert stats["observed_mean"] == pytest.approx(5.0)
    assert stats["theil_UM"] == pytest.approx(2.0 / 3.0)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(arrays(float, n, elements=finite), arrays(float, n, elements=finite))))
def test_theil_proportions_sum_to_one_and_decompose_the_mse(pair):
    a, s = pair
    mse = float(np.mean((s - a) ** 2))
    u = theil_proportions(a, s)
    if all(math.isnan(v) for v in u.values()):
        # only for a fit that is exact up to rounding
        assert mse <= 1e-24 * (1.0 + float(np.mean(a * a) + np.mean(s * s)))
        return
    assert u["UM"] + u["US"] + u["UC"] == pytest.approx(1.0, abs=1e-9)
    for v in u.values():
        assert -1e-9 <= v <= 1.0 + 1e-9
    # the three terms really are the parts of the MSE (Sterman's identity)
    bias = (s.mean() - a.mean()) ** 2
    assert u["UM"] * mse == pytest.approx(bias, rel=1e-6, abs=1e-6 * (1.0 + mse))


def test_pure_bias_is_all_UM_and_pure_amplitude_error_is_all_US():
    a = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    shifted = theil_proportions(a, a + 2.0)
    assert shifted["UM"] == pytest.approx(1.0) and shifted["US"] == pytest.approx(0.0, abs=1e-12)
    stretched = theil_proportions(a, a.mean() + 2.0 * (a - a.mean()))
    assert stretched["US"] == pytest.approx(1.0)
    assert stretched["UM"] == pytest.approx(0.0, abs=1e-12)
    assert stretched["UC"] == pytest.approx(0.0, abs=1e-12)
    # a series uncorrelated with the data, same mean and spread: all covariation
    noise = theil_proportions([1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0])
    assert noise["UC"] == pytest.approx(1.0)


def test_edge_cases():
    assert all(math.isnan(v) for v in theil_proportions([1.0, 2.0], [1.0, 2.0]).values())
    assert math.isnan(mape([0.0, 0.0], [1.0, 2.0]))
    assert mape([0.0, 2.0], [5.0, 3.0]) == pytest.approx(50.0)  # zero observed month left out
    assert math.isnan(r_squared([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant data
    assert math.isnan(coefficient_of_determination([2.0, 2.0], [1.0, 3.0]))
    # a constant simulation: no covariance, the error is bias + variation + covariation
    u = theil_proportions([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert u["UM"] == pytest.approx(0.0) and sum(u.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rmse([1.0, 2.0], [1.0])
