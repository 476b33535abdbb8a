"""The shipped scenarios use the evidence: month 0 balanced by the library solver with every
prevention mechanism on, the mechanisms present with their sourced values, no double count of
double running."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tpsim

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def _balance_module():
    spec = importlib.util.spec_from_file_location(
        "balance", ROOT / "tests" / "golden" / "shipped" / "balance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_baseline_holds_the_library_solver_values():
    """Every solved number in baseline.yaml is what tpsim.initial_state (and the budget rule)
    gives, as written by tests/golden/shipped/balance.py: no number from an uncommitted
    script."""
    scenario = tpsim.load(BASELINE)
    for path, value in _balance_module().solved_values(BASELINE).items():
        assert float(scenario.get(path)) == value, path


def test_month_0_of_the_baseline_is_balanced_with_the_mechanisms_on():
    """With no growth, a month of the kernel leaves every stock where it started (to the
    rounding of the written rates): recovery effects, substitution and the transition at 18
    are all balanced at month 0."""
    scenario = tpsim.load(BASELINE)
    flat = {f"cohorts.{c}.inflow_growth": 0.0 for c in scenario.cohorts}
    flat.update({"loops.doom_loop": 0})
    results = tpsim.run(scenario.replace(horizon=2, overrides=flat))
    for c, co in scenario.cohorts.items():
        for s, st in co["states"].items():
            people = results[f"population.{c}.{s}"][0]
            assert people[-1] == pytest.approx(st["initial"], rel=2e-4, abs=0.05), (c, s)


def test_solver_balances_transitions_recovery_and_substitution():
    """The solved rates balance a scenario whose month 0 has every mechanism active
    (residual ~0), and the stocks solver reproduces the stocks from those rates."""
    scenario = tpsim.load(BASELINE)
    state = tpsim.initial_state(scenario, solve="rates")
    assert state.residual < 1e-9
    solved = state.apply()
    again = tpsim.initial_state(solved, solve="stocks")
    for key, value in state.initial.items():
        assert again.initial[key] == pytest.approx(value, rel=1e-9), key


def test_the_mechanisms_are_used_by_the_baseline():
    sc = tpsim.load(BASELINE)
    sv = sc.services
    assert sv["reablement"]["substitutes"] == {"home_care": 0.8}
    assert sv["reablement"]["effect"] == 0.0
    assert set(sv["falls_prevention"]["utilisation_effects"]) >= {
        "hip_fracture_nhs", "hip_fracture_social_care", "emergency_admissions_older"}
    assert sv["drug_alcohol_treatment"]["recovery_effect"] > 0.0
    assert sv["early_help"]["short_run_effect"] > 0.0
    assert sc.cohorts["children"]["transition"]["cohort"] == "adults_complex"
    for r in ("emergency_admissions_older", "ae_older", "hip_fracture_nhs",
              "police_incidents_adults"):
        assert sv[r]["cashable_share"] <= 0.25, r
    assert sv["tax_forgone"]["transfer"] and sv["tax_forgone"]["agency"] == "hmrc"


@pytest.mark.parametrize("name", ["pooled_prevention", "pilots_plus"])
def test_double_running_is_not_charged_twice(name):
    pool = tpsim.load(ROOT / "scenarios" / f"{name}.yaml").pool
    assert pool["double_running"]["cost"] == 0.0


def test_transition_at_18_conserves_people_across_cohorts():
    """Children leaving by transition arrive in adults_complex: with no inflows, the people of
    both cohorts plus the cumulative deaths and other exits stay constant."""
    scenario = tpsim.load(BASELINE)
    zero = {f"cohorts.{c}.states.{s}.inflow": 0.0
            for c, co in scenario.cohorts.items() for s in co["states"]}
    results = tpsim.run(scenario.replace(horizon=24, overrides=zero))
    names = results.columns
    cohorts = ("children", "adults_complex")
    total = sum(results[n][0] for n in names
                if any(n.startswith(f"population.{c}.") for c in cohorts))
    moved = results["transitions_in.adults_complex"][0]
    assert moved.sum() > 0.0 and np.allclose(moved, results["transitions_out.children"][0])
    left = sum(np.cumsum(results[f"{kind}.{c}"][0]) for c in cohorts
               for kind in ("deaths", "exits"))
    assert np.ptp(total[1:] + left[1:]) < 1e-6 * total[0]


def test_the_older_people_follow_the_ons_growth_path():
    """The 65+ headcount grows about 1% a year (ONS 2020-based projections) from the end of the
    first year, where the month-0 balance lags it; the yearly rate of the changes rises with
    the 85+ share (2.4% a year) and the path is cut cleanly by a shorter horizon."""
    scenario = tpsim.load(BASELINE)
    results = tpsim.run(scenario)
    states = scenario.cohorts["older_people"]["states"]
    people = sum(np.asarray(results[f"population.older_people.{s}"][0]) for s in states)
    start = sum(float(st["initial"]) for st in states.values())
    assert people[11] / start - 1.0 == pytest.approx(0.0055, abs=0.002)
    for year in range(2, 11):
        assert people[12 * year - 1] / people[12 * year - 13] - 1.0 == pytest.approx(
            0.0105, abs=0.001), year
    rates = [ch["set"]["cohorts.older_people.inflow_growth"] for ch in scenario.changes]
    assert rates == sorted(rates) and 0.010 < rates[0] < rates[-1] < 0.0104
    assert [ch["month"] for ch in scenario.replace(horizon=36).changes] == [12, 24]
