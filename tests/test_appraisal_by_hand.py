"""A cash flow small enough to work by hand: one council, twelve months (year 0, so every
discount factor is 1), a preventive investment in months 1-3 and reactive savings after.
Pins the payback month, the NPSV break-even month, the exact switching values of the QALY
value and optimism bias, and the employment output in the economic NPV and the NPSV (with
the benefit a new job saves kept out as a transfer)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tpsim.analysis.appraisal import (Accounts, AppraisalSettings, appraise, monthly_flows,
                                      payback_month)
from tpsim.analysis.switching import solve_linear

N = 12
M = np.arange(1, N + 1)
ACCOUNTS = Accounts(("council",), {"council": ("care", "benefits")}, ("people",),
                    {"council": ("falls",)}, {"council": ("benefits",)})
SHARE = {"council": np.ones(N)}  # every extra preventive place is new: all of it uplifted
SETTINGS = AppraisalSettings(discount_rate=0.035, health_discount_rate=0.015,
                             optimism_bias=0.2, qaly_value=1000.0, value_qalys=True)


def series(saving: float, *, qalys: float = 0.0, employed: float = 0.0,
           benefit_saving: float = 0.0) -> tuple[dict, dict]:
    """(scenario, counterfactual). The counterfactual spends 1000 a month on care and 500 on
    benefits. The scenario adds 100 a month of preventive places in months 1-3; from month 2
    care costs ``saving`` a month less, ``qalys`` QALYs a month are gained, ``employed`` more
    person-months are in work and benefits cost ``benefit_saving`` a month less."""
    zero = np.zeros(N)
    later = M >= 2

    def run(scenario: bool) -> dict:
        prev = np.where(M <= 3, 100.0, 0.0) if scenario else zero
        care = 1000.0 - (np.where(later, saving, 0.0) if scenario else 0.0)
        benefits = 500.0 - (np.where(later, benefit_saving, 0.0) if scenario else 0.0)
        gain = (lambda x: np.where(later, x, 0.0) if scenario else zero)
        spend = prev + care + benefits
        return {"spend.agency.council": spend, "overhead.agency.council": zero,
                "contribution.agency.council": zero, "capture.agency.council": zero,
                "spend.service.care": care, "value.service.care": care,
                "spend.service.benefits": benefits, "value.service.benefits": benefits,
                "pool.balance": zero, "pool.spend": zero, "pool.reinvested": zero,
                "spend.total": spend, "spend.transition": zero,
                "escalations.people": zero, "crisis_person_months.people": zero,
                "exits.people": zero, "qalys.people": gain(qalys),
                "employed.people": gain(employed), "employment_value.people": gain(300.0 * employed)}

    return run(True), run(False)


def appraised(settings=SETTINGS, **kw):
    s, c = series(**kw)
    flows = monthly_flows(s, c, ACCOUNTS, SHARE)
    return flows, appraise(flows, settings)


def test_payback_month_by_hand():
    """Costs 100 x 1.2 = 120 in months 1-3, savings 40 a month from month 2: cumulative
    -120, -200, -280, then +40 a month: -240, ..., -40 (month 9), 0 (month 10)."""
    _, ap = appraised(saving=40.0)
    net = ap.discounted_net
    np.testing.assert_allclose(net, [-120, -80, -80] + [40] * 9)
    assert ap.total["payback_month"] == payback_month(net) == 10
    assert ap.total["fiscal_npv_horizon"] == pytest.approx(-360 + 40 * 11)
    assert ap.total["pv_optimism_bias_horizon"] == pytest.approx(60.0)
    # with savings of 30 a month it never pays back: -300 + 30 x 9 = -30 at month 12
    _, short = appraised(saving=30.0)
    assert short.total["payback_month"] is None
    assert short.total["fiscal_npv_horizon"] == pytest.approx(-30.0)


def test_npsv_break_even_month_by_hand():
    """Savings 30 a month and 0.01 QALYs a month at £1,000 from month 2: the NPSV stream is
    -120, -80, -80, then +40 a month, so cumulative NPSV is 0 at month 10; the fiscal stream
    never pays back (-30 at month 12)."""
    _, ap = appraised(saving=30.0, qalys=0.01)
    np.testing.assert_allclose(ap.discounted_npsv, [-120, -80, -80] + [40] * 9)
    assert payback_month(ap.discounted_npsv) == 10
    assert payback_month(ap.discounted_net) is None
    assert ap.total["npsv_horizon"] == pytest.approx(-30.0 + 0.01 * 11 * 1000.0)


def test_linear_switching_values_by_hand():
    """Fiscal NPV(ob) = 30 - 300 x ob (savings 330, costs 300 before the uplift): zero at
    ob = 0.1. NPSV(q) = -30 + 0.11 q (fiscal NPV at ob 0.2 = economic NPV, no transfers and
    no non-cashable savings): zero at q = £272.73. NPSV(ob) = 140 - 300 ob at q = £1,000:
    zero at ob = 0.4667."""
    flows, ap = appraised(saving=30.0, qalys=0.01)
    by = {(e["parameter"], e["case"]): e for e in solve_linear(flows, SETTINGS)}
    assert by[("appraisal.optimism_bias", "fiscal_npv")]["value"] == pytest.approx(0.1)
    assert by[("appraisal.qaly_value", "npsv")]["value"] == pytest.approx(30.0 / 0.11)
    assert by[("appraisal.optimism_bias", "npsv")]["value"] == pytest.approx(140.0 / 300.0)
    assert by[("appraisal.qaly_value", "npsv")]["central"] == 1000.0
    # and at each value the case is zero
    at = dataclasses.replace(SETTINGS, qaly_value=30.0 / 0.11)
    assert appraise(flows, at).total["npsv_horizon"] == pytest.approx(0.0, abs=1e-9)
    at = dataclasses.replace(SETTINGS, optimism_bias=0.1)
    assert appraise(flows, at).total["fiscal_npv_horizon"] == pytest.approx(0.0, abs=1e-9)
    # a case that cannot turn zero in range is reported as none_in_range
    big = dataclasses.replace(SETTINGS, qaly_value=100_000.0)
    entry = {(e["parameter"], e["case"]): e for e in solve_linear(flows, big)}[
        ("appraisal.optimism_bias", "npsv")]
    assert entry["value"] is None and entry["none_in_range"]  # 11,030 - 300 ob > 0 to ob = 2


def test_employment_output_is_economic_and_the_benefit_saved_is_a_transfer():
    """2 more person-months a month in work from month 2, output £1,500 a person-month, and
    benefits £400 a month lower. Fiscal NPV: the benefit saved counts (+400 x 11); economic
    NPV: it does not, the output does (+2 x 1,500 x 11 = 33,000); the tax paid (memo) is in
    neither."""
    settings = dataclasses.replace(SETTINGS, employment_output_value=1500.0,
                                   employment_output_source="assumption: test value")
    _, base = appraised(saving=30.0)
    _, ap = appraised(settings, saving=30.0, employed=2.0, benefit_saving=400.0)
    t = ap.total
    assert t["fiscal_npv_horizon"] == pytest.approx(base.total["fiscal_npv_horizon"] + 4400.0)
    assert t["pv_transfer_savings_horizon"] == pytest.approx(4400.0)
    assert t["pv_employment_output_horizon"] == pytest.approx(33_000.0)
    assert t["economic_npv_horizon"] == pytest.approx(base.total["economic_npv_horizon"] + 33_000.0)
    assert t["npsv_horizon"] == pytest.approx(base.total["npsv_horizon"] + 33_000.0)
    # the agency row has no output (it accrues to the person and the employer)
    assert ap.rows["council"]["pv_employment_output_horizon"] == 0.0
    assert ap.rows["council"]["economic_npv_horizon"] == pytest.approx(
        base.rows["council"]["economic_npv_horizon"])
    out = ap.outcomes["total"]
    assert out["employment_gained_horizon"] == pytest.approx(22.0)
    assert out["employment_tax_gained_horizon"] == pytest.approx(6600.0)
    assert out["pv_employment_output_horizon"] == pytest.approx(33_000.0)
    assert ap.outcomes["employment"] == {"value_per_person_month": 1500.0,
                                         "source": "assumption: test value",
                                         "in_economic_npv": True}
    # not valued (the default): the economic NPV leaves the change in work out
    _, unvalued = appraised(saving=30.0, employed=2.0, benefit_saving=400.0)
    assert unvalued.total["pv_employment_output_horizon"] == 0.0
    assert unvalued.total["economic_npv_horizon"] == pytest.approx(base.total["economic_npv_horizon"])
