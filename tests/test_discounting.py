"""Green Book discount factors against hand-worked values (tpsim.analysis.discounting)."""
from __future__ import annotations

import numpy as np
import pytest

from tpsim.analysis.discounting import (HEALTH_RATE, STPR, monthly_factors, rate_in_year,
                                        yearly_factors)


def test_schedule_steps_at_the_published_years():
    assert [rate_in_year(y) for y in (1, 30, 31, 75, 76, 125, 126, 200, 201, 300, 301)] == \
        pytest.approx([0.035, 0.035, 0.03, 0.03, 0.025, 0.025, 0.02, 0.02, 0.015, 0.015, 0.01])


def test_health_schedule_is_the_published_one():
    rates = [rate_in_year(y, HEALTH_RATE) for y in (30, 31, 76, 126, 201, 301)]
    assert np.round(np.array(rates) * 100, 2).tolist() == [1.5, 1.29, 1.07, 0.86, 0.64, 0.43]


def test_factors_are_compound_products():
    f = yearly_factors(40)
    assert f[0] == 1.0
    assert f[10] == pytest.approx(1.035 ** -10, rel=1e-14)
    assert f[30] == pytest.approx(1.035 ** -30, rel=1e-14)
    # from year 31 the rate is 3.0%: one more step at 1/1.03 per year
    assert f[35] == pytest.approx(1.035 ** -30 * 1.03 ** -5, rel=1e-14)
    flat = yearly_factors(40, declining=False)
    assert flat[35] == pytest.approx(1.035 ** -35, rel=1e-14)


def test_months_take_their_appraisal_years_factor():
    m = monthly_factors(30, STPR)
    assert (m[:12] == 1.0).all()
    assert m[12] == m[23] == pytest.approx(1 / 1.035)
    assert m[24] == pytest.approx(1.035 ** -2)
    assert monthly_factors(1).tolist() == [1.0]
