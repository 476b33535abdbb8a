"""The initial-state solver with main's mechanisms: cohort transitions (turning 18), deaths as a
flow of their own, recovery and its preventive effect, substitution, utilisation effects and
credit shares. Flows must balance at month 0 as the kernel computes them, so a run without
growth, cuts or a pool holds every stock still."""
from __future__ import annotations

import numpy as np
import pytest

from tpsim.config.scenario import scenario_from_dict
from tpsim.models.runner import run
from tpsim.place.initial_state import initial_state, month0_spend

from conftest import make_rich_scenario_dict


def transitions_scenario():
    """The rich test scenario with every mechanism on and children who turn 18 into the
    working-age cohort; nothing else moves (no growth, efficiency targets, pool, community
    places ramping up, capacity limits), so a balanced month 0 is a steady state."""
    d = make_rich_scenario_dict()
    d["name"] = "transitions"
    d["time"]["horizon"] = 36
    d["pool"]["enabled"] = False
    for ag in d["agencies"].values():
        ag.update(efficiency_target=0.0, cut_rate=0.0)
    for sv in d["services"].values():
        if sv["kind"] == "reactive":
            sv["capacity"] = None
    d["cohorts"]["adults"]["inflow_growth"] = 0.0
    d["cohorts"]["older_people"]["inflow_growth"] = 0.0
    d["cohorts"]["adults"]["states"]["stable"]["exit"] = 0.012   # room for the 18-year-olds
    falls = d["services"]["falls_prevention"]
    falls["community"]["places"] = 0.0
    falls.update(recovery_effect=0.5, deadweight=0.1, displacement=0.05, attribution=0.9,
                 utilisation_effects={"emergency_admissions": 0.3})
    d["services"]["reablement"].update(states=["at_risk"], substitutes={"residential_care": 0.4})
    d["services"]["drug_treatment"]["recovery_effect"] = 0.3
    d["cohorts"]["children"] = {"states": {
        "universal": {"initial": 5000.0, "inflow": 40.0, "escalation": 0.004,
                      "exit": 1.0 / 216.0, "death_share": 0.01, "transition_share": 0.9},
        "in_need": {"initial": 300.0, "escalation": 0.02, "recovery": 0.05, "exit": 0.01,
                    "death_share": 0.02, "transition_share": 0.7},
        "in_care": {"initial": 60.0, "recovery": 0.01, "exit": 0.02, "transition_share": 0.8}},
        "transition": {"cohort": "adults", "states": {"universal": "stable",
                                                      "in_need": "complex",
                                                      "in_care": "complex"}}}
    older = d["cohorts"]["older_people"]["states"]
    for s in older.values():
        s["death_share"] = 0.8
    return scenario_from_dict(d)


def _drift(scenario, months: int = 24) -> float:
    """Largest relative change of any need-state stock over ``months``."""
    results = run(scenario.replace(horizon=months))
    worst = 0.0
    for c, co in scenario.cohorts.items():
        for s, st in co["states"].items():
            x = np.asarray(results.series[f"population.{c}.{s}"][0])
            worst = max(worst, float(np.max(np.abs(x - st["initial"]))) / max(st["initial"], 1.0))
    return worst


@pytest.fixture(scope="module")
def scenario():
    return transitions_scenario()


def test_rates_balance_month_0_with_transitions_and_mechanisms(scenario):
    state = initial_state(scenario)
    assert state.residual < 1e-9
    balanced = state.apply(budgets=True)
    assert initial_state(balanced).residual < 1e-9
    # the kernel agrees: nothing moves over two years
    assert _drift(balanced) < 1e-9
    assert _drift(scenario) > 1e-4
    # the working-age cohort's solved first inflow makes room for the 18-year-olds arriving
    flows = state.flows
    arriving = sum(st["transition_share"] * st["exit"] * st["initial"]
                   for st in scenario.cohorts["children"]["states"].values())
    assert flows["adults"]["transitions_in"] == pytest.approx(arriving, rel=1e-12)
    assert flows["children"]["transitions_out"] == pytest.approx(arriving, rel=1e-12)
    # deaths are their own flow: the older people's death share of their exits
    older = scenario.cohorts["older_people"]["states"]
    deaths = sum(0.8 * st["exit"] * st["initial"] for st in older.values())
    assert flows["older_people"]["deaths"] == pytest.approx(deaths, rel=1e-12)
    # each cohort's boundary flows net to zero when every state is balanced
    for c, row in flows.items():
        assert row["net"] == pytest.approx(0.0, abs=1e-8), c


def test_stocks_mode_balances_with_transitions(scenario):
    state = initial_state(scenario, solve="stocks", totals={"adults": 4000.0})
    assert state.residual < 1e-9
    assert sum(v for (c, _), v in state.initial.items() if c == "adults") == \
        pytest.approx(4000.0, rel=1e-10)
    assert _drift(state.apply(budgets=True)) < 1e-9


def test_month0_demand_counts_utilisation_effects(scenario):
    """A preventive service's utilisation effect lowers month-0 demand by effect x credit x
    coverage in its eligible states, so budgets derived from it match the kernel's spend."""
    _, demand = month0_spend(scenario)
    falls = scenario.services["falls_prevention"]
    older = scenario.cohorts["older_people"]["states"]
    eligible = sum(older[s]["initial"] for s in falls["states"])
    cover = min(falls["uptake"], falls["places"] / eligible)
    credit = 0.9 * 0.95 * 0.9
    expected = 0.0
    for s, u in scenario.services["emergency_admissions"]["utilisation"].items():
        h = 1.0 - 0.3 * credit * cover if s in falls["states"] else 1.0
        expected += u * h * older[s]["initial"]
    assert demand["emergency_admissions"] == pytest.approx(expected, rel=1e-12)
