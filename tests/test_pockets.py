"""The justice, housing and education pockets of the shipped place (issue 14 item 2): each new
agency's budget is its month-0 spend, its unit costs are the evidence table's figures uprated as
the scenario comments say, its month-0 activity is the place's share of the national counts, and
prevention moves its spend in the direction the evidence says (drug treatment cuts offending, so
custody, courts and probation; early help keeps families out of crisis, so temporary
accommodation and alternative provision)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tpsim
from tpsim.config.evidence import load_evidence, read_deflator_csv

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"

#: The new pockets and the reactive services each pays for.
POCKETS = {
    "justice": ("prison_custody", "probation_supervision", "criminal_courts"),
    "housing": ("temporary_accommodation_adults", "temporary_accommodation_families"),
    "education": ("alternative_provision",),
}

#: Scale factors of the place (docs/sources.md, 'The 300,000-person place'): England for the
#: MHCLG counts, England and Wales for the MoJ counts, children for the DfE counts.
S_ENGLAND = 300_000 / 57_690_300
S_ENGLAND_WALES = 300_000 / 60_900_000
S_CHILDREN = 62_400 / 12_000_000


@pytest.fixture(scope="module")
def baseline():
    return tpsim.load(BASELINE)


@pytest.fixture(scope="module")
def month0(baseline):
    return tpsim.initial_state(baseline)


def _activity(scenario, service: str) -> float:
    """Month-0 events a month of a reactive service: sum of utilisation x people."""
    sv = scenario.services[service]
    states = scenario.cohorts[sv["cohort"]]["states"]
    return sum(rate * float(states[s]["initial"]) for s, rate in sv["utilisation"].items())


def test_each_new_agency_pays_for_its_services_and_its_budget_is_its_month_0_spend(baseline,
                                                                                  month0):
    results = tpsim.run(baseline.replace(horizon=2))
    for agency, services in POCKETS.items():
        assert {v for v, sv in baseline.services.items() if sv["agency"] == agency} == set(services)
        ag = baseline.agencies[agency]
        spend = sum(_activity(baseline, v) * baseline.services[v]["unit_cost"] for v in services)
        assert month0.spend[agency] == pytest.approx(spend, rel=1e-9), agency
        assert ag["budget"] == pytest.approx(spend * (1.0 + ag["overhead"]), abs=0.5), agency
        first = float(results[f"spend.agency.{agency}"][0][0])
        assert first == pytest.approx(ag["budget"], rel=1e-6), agency


def test_the_housing_pocket_is_a_council_with_reserves_and_the_others_are_not(baseline, month0):
    assert baseline.agencies["housing"]["type"] == "council"
    assert baseline.agencies["housing"]["reserves"] == round(0.36 * 12 * month0.spend["housing"])
    for agency in ("justice", "education"):
        assert baseline.agencies[agency]["type"] == "other"
        assert baseline.agencies[agency]["reserves"] == 0.0


def test_unit_costs_are_the_evidence_figures_uprated_as_stated():
    """The scenario's unit cost = the evidence table's value x the year's deflator factor (the
    sourced one, or the next later sourced year's for a gap: 'deflator LB') / 12, to the
    rounding written in the file; every `used_by` key is a real baseline key."""
    evidence, series = load_evidence(), read_deflator_csv()
    baseline = tpsim.load(BASELINE)
    per_month = {
        "prison_cost_per_prisoner_year": ("prison_custody", 1.0),
        "crown_court_sitting_day": ("criminal_courts", 12.0),   # a per-event cost, not a year
        "temporary_accommodation_household_year": ("temporary_accommodation_adults", 1.0),
        "alternative_provision_place_year": ("alternative_provision", 1.0),
    }
    for cost_id, (service, months) in per_month.items():
        cost = evidence.unit_costs[cost_id]
        want = cost.value * series.lower_bound_factor(cost.price_year) * months / 12.0
        assert baseline.services[service]["unit_cost"] == pytest.approx(want, abs=0.05), cost_id
    order = evidence.unit_costs["probation_order_year"]
    licence = evidence.unit_costs["probation_licence_year"]
    want = 0.5 * (order.value + licence.value) * series.lower_bound_factor(order.price_year) / 12
    assert baseline.services["probation_supervision"]["unit_cost"] == pytest.approx(want, abs=0.05)
    assert baseline.services["temporary_accommodation_families"]["unit_cost"] == \
        baseline.services["temporary_accommodation_adults"]["unit_cost"]
    for cost_id in (*per_month, "probation_order_year", "probation_licence_year"):
        for key in evidence.unit_costs[cost_id].used_by:
            _, service, leaf = key.split(".")
            assert leaf in baseline.services[service], key


def test_month_0_activity_is_the_place_share_of_the_national_counts(baseline):
    """Plausibility of a 300,000-person place: the utilisation assumptions reproduce the place's
    share of the published stocks (within the share the comments assign to the cohort)."""
    act = {v: _activity(baseline, v) for vs in POCKETS.values() for v in vs}
    # MHCLG: 117,450 households in TA (63% with children) on 31 March 2024 (mhclg_ta)
    assert act["temporary_accommodation_families"] == pytest.approx(
        117_450 * 0.63 * S_ENGLAND, rel=0.05)
    assert act["temporary_accommodation_adults"] == pytest.approx(
        117_450 * 0.37 * S_ENGLAND, rel=0.05)
    # NAO: 238,646 under probation supervision (June 2024); the cohort holds about 70% of them
    assert 0.5 < act["probation_supervision"] / (238_646 * S_ENGLAND_WALES) < 0.9
    # prisoners on remand or short sentences: a minority of the place's ~430 prisoners
    assert 100 < act["prison_custody"] < 0.5 * 87_000 * S_ENGLAND_WALES
    # HMCTS: 97,293 Crown Court sitting days a year (2018-19); the cohort brings about 60%
    assert 0.4 < 12 * act["criminal_courts"] / (97_293 * S_ENGLAND_WALES) < 0.8
    # DfE / Education Committee: ~38,000 pupils in LA-funded AP at a time (January 2017)
    assert act["alternative_provision"] == pytest.approx(38_000 * S_CHILDREN, rel=0.05)
    # spend: TA gross spend GBP 2.29bn (2023-24) x the place's share, 6% higher because the
    # stock at 31 March 2024 is above the year's mean stock that the unit cost divides by
    ta = sum(act[v] * baseline.services[v]["unit_cost"] for v in POCKETS["housing"])
    assert 12 * ta == pytest.approx(2.29e9 * S_ENGLAND * 117_450 / 110_980, rel=0.02)


def _spend(results, family: str, months: int) -> np.ndarray:
    """Cumulative spend of one series over the first ``months`` months, one value per run."""
    return np.asarray(results[family])[:, :months].sum(axis=1)


def test_drug_treatment_cuts_justice_spend(baseline):
    """The drug-treatment evidence is mostly less crime (ndtms_vfm): without the service,
    custody, courts and probation spend rise in the Parliament and over the horizon, and more
    treatment places lower them; the justice saving exceeds the police saving, since a prison
    place costs far more than an incident."""
    places = float(baseline.services["drug_alcohol_treatment"]["places"])
    results = tpsim.run(baseline, vary={"services.drug_alcohol_treatment.places":
                                        [0.0, places, 2.0 * places]})
    for months in (60, 120):
        justice = _spend(results, "spend.agency.justice", months)
        assert justice[0] > justice[1] > justice[2], months
        for service in POCKETS["justice"]:
            s = _spend(results, f"spend.service.{service}", months)
            assert s[0] > s[1] > s[2], (service, months)
        police = _spend(results, "spend.agency.police", months)
        assert justice[0] - justice[1] > police[0] - police[1] > 0.0
    housing = _spend(results, "spend.agency.housing", 120)
    assert housing[0] > housing[1] > housing[2]


def test_early_help_lowers_temporary_accommodation_and_alternative_provision(baseline):
    """Early help keeps children out of need and protection (tf_eval), the states where families
    are most often homeless and pupils most often excluded: more places, less spend by the
    housing and education pockets; the effect builds with time to effect, so it is larger over
    the horizon than in the Parliament."""
    places = float(baseline.services["early_help"]["places"])
    results = tpsim.run(baseline, vary={"services.early_help.places":
                                        [0.0, places, 2.0 * places]})
    for agency in ("housing", "education"):
        for months in (60, 120):
            s = _spend(results, f"spend.agency.{agency}", months)
            assert s[0] > s[1] > s[2], (agency, months)
        short = _spend(results, f"spend.agency.{agency}", 60)
        long = _spend(results, f"spend.agency.{agency}", 120)
        assert long[0] - long[1] > short[0] - short[1]
