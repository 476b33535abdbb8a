"""HM Treasury Green Book discounting.

Social time preference rate (STPR) 3.5% a year for years 0-30, declining to 3.0% (years
31-75), 2.5% (76-125), 2.0% (126-200), 1.5% (201-300) and 1.0% (301+). Health effects use 1.5%
(the STPR without the wealth effect), declining in the same proportion (1.5 x r / 3.5), which
gives the published health schedule 1.5, 1.29, 1.07, 0.86, 0.64, 0.43%.

Year 0 is undiscounted; the factor for year t is the product of 1/(1 + r_k) over years
k = 1..t, which is 1/(1 + r)^t while the rate is constant. Months are grouped into appraisal
years: month index m (0-based, the flow over months m..m+1) belongs to year m // 12.
"""
from __future__ import annotations

import numpy as np

STPR = 0.035
HEALTH_RATE = 0.015
# (first year the rate applies, rate) for the standard schedule, as multiples of the base rate
_SCHEDULE = [(0, 1.0), (31, 3.0 / 3.5), (76, 2.5 / 3.5), (126, 2.0 / 3.5), (201, 1.5 / 3.5),
             (301, 1.0 / 3.5)]


def rate_in_year(year: int, base_rate: float = STPR, declining: bool = True) -> float:
    """Discount rate applying between year ``year - 1`` and ``year`` (per year)."""
    if not declining:
        return base_rate
    ratio = 1.0
    for first, r in _SCHEDULE:
        if year >= first:
            ratio = r
    return base_rate * ratio


def yearly_factors(n_years: int, base_rate: float = STPR, declining: bool = True) -> np.ndarray:
    """Discount factors for years 0..n_years-1 (year 0 = 1)."""
    factors = np.ones(n_years)
    for t in range(1, n_years):
        factors[t] = factors[t - 1] / (1.0 + rate_in_year(t, base_rate, declining))
    return factors


def monthly_factors(n_months: int, base_rate: float = STPR, declining: bool = True) -> np.ndarray:
    """Discount factor for each month index 0..n_months-1 (the factor of its appraisal year)."""
    years = np.arange(n_months) // 12
    return yearly_factors(int(years[-1]) + 1 if n_months else 1, base_rate, declining)[years]
