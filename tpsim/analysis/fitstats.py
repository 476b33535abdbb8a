"""Summary statistics of the fit of a simulated series to an observed one (Sterman 1984).

Pure functions on two equal-length arrays, ``observed`` (A, the data) and ``simulated``
(S, the model at the same months). Every statistic is in the series' own units unless stated.

Sterman, J. D. (1984), "Appropriate summary statistics for evaluating the historical fit of
system dynamics models", Dynamica 10(2): 51-66. The mean squared error splits exactly into

    MSE = (mean(S) - mean(A))^2  +  (s_S - s_A)^2  +  2 (1 - r) s_S s_A
          \\_____ bias ______/      \\_ variation _/    \\__ covariation __/

where ``s_S``, ``s_A`` are the standard deviations with divisor n (not n - 1) and ``r`` the
correlation of S and A. Dividing by MSE gives the Theil inequality proportions

    U^M = (mean(S) - mean(A))^2 / MSE     (bias: systematic error in the mean)
    U^S = (s_S - s_A)^2 / MSE             (unequal variation: wrong amplitude or trend)
    U^C = 2 (1 - r) s_S s_A / MSE         (unequal covariation: point-by-point noise)

which sum to 1. A good fit has a small MSE concentrated in U^C (unsystematic error).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["mape", "rmse", "r_squared", "coefficient_of_determination", "theil_proportions",
           "series_fit_statistics"]


def _pair(observed, simulated) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(observed, dtype=float).ravel()
    s = np.asarray(simulated, dtype=float).ravel()
    if a.shape != s.shape:
        raise ValueError(f"observed has {a.size} values, simulated {s.size}")
    return a, s


def mape(observed, simulated) -> float:
    """Mean absolute percentage error, in percent: mean of |S - A| / |A| x 100.

    Months with an observed value of 0 are left out (the percentage is undefined); NaN when
    every observed value is 0 or there are none.
    """
    a, s = _pair(observed, simulated)
    keep = a != 0.0
    if not keep.any():
        return math.nan
    return float(np.mean(np.abs(s[keep] - a[keep]) / np.abs(a[keep])) * 100.0)


def rmse(observed, simulated) -> float:
    """Root mean squared error, in the series' units: sqrt(mean((S - A)^2))."""
    a, s = _pair(observed, simulated)
    if a.size == 0:
        return math.nan
    return float(np.sqrt(np.mean((s - a) ** 2)))


def r_squared(observed, simulated) -> float:
    """R^2 as Sterman (1984) uses it: the squared correlation coefficient of S and A.

    Dimensionless, in [0, 1]; it measures how well S tracks the *shape* of A, not bias or
    scale (those are in U^M and U^S). NaN when either series is constant or n < 2.
    """
    a, s = _pair(observed, simulated)
    if a.size < 2:
        return math.nan
    sa, ss = a.std(), s.std()
    if sa == 0.0 or ss == 0.0:
        return math.nan
    r = float(np.mean((a - a.mean()) * (s - s.mean())) / (sa * ss))
    return min(1.0, r * r)


def coefficient_of_determination(observed, simulated) -> float:
    """1 - SSE / SST (the Nash-Sutcliffe efficiency): 1 is a perfect fit, 0 is no better than
    the observed mean, and it can be negative. NaN when A is constant or n < 2."""
    a, s = _pair(observed, simulated)
    if a.size < 2:
        return math.nan
    sst = float(np.sum((a - a.mean()) ** 2))
    if sst == 0.0:
        return math.nan
    return 1.0 - float(np.sum((s - a) ** 2)) / sst


def theil_proportions(observed, simulated) -> dict[str, float]:
    """The Theil inequality proportions ``{"UM", "US", "UC"}`` of Sterman (1984).

    They sum to 1 (up to rounding) and are never negative. All three are NaN when the fit is
    exact (to rounding), when the proportions are undefined.
    """
    a, s = _pair(observed, simulated)
    if a.size == 0:
        return {"UM": math.nan, "US": math.nan, "UC": math.nan}
    mse = float(np.mean((s - a) ** 2))
    if mse == 0.0:
        return {"UM": math.nan, "US": math.nan, "UC": math.nan}
    da, ds = a - a.mean(), s - s.mean()
    sa, ss = float(np.sqrt(np.mean(da * da))), float(np.sqrt(np.mean(ds * ds)))
    bias = (float(s.mean()) - float(a.mean())) ** 2
    variation = (ss - sa) ** 2
    # 2 (1 - r) s_S s_A, with 1 - r = mean((dA/s_A - dS/s_S)^2) / 2 computed from differences
    # of standardised deviations: no cancellation when r is close to 1, and never negative.
    # A constant series (r undefined) has no covariation term.
    if sa > 0.0 and ss > 0.0:
        covariation = ss * sa * float(np.mean((da / sa - ds / ss) ** 2))
    else:
        covariation = 0.0
    total = bias + variation + covariation  # equals mse up to rounding
    if not total > 0.0:
        return {"UM": math.nan, "US": math.nan, "UC": math.nan}
    return {"UM": bias / total, "US": variation / total, "UC": covariation / total}


def series_fit_statistics(observed, simulated) -> dict[str, float]:
    """Every statistic for one series: n, observed mean, MAPE (%), RMSE, R^2, 1 - SSE/SST,
    MSE, and the Theil proportions U^M, U^S, U^C."""
    a, s = _pair(observed, simulated)
    theil = theil_proportions(a, s)
    return {
        "n": int(a.size),
        "observed_mean": float(a.mean()) if a.size else math.nan,
        "mape_percent": mape(a, s),
        "rmse": rmse(a, s),
        "r_squared": r_squared(a, s),
        "coefficient_of_determination": coefficient_of_determination(a, s),
        "mse": float(np.mean((s - a) ** 2)) if a.size else math.nan,
        "theil_UM": theil["UM"],
        "theil_US": theil["US"],
        "theil_UC": theil["UC"],
    }
