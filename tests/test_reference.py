"""The numba kernel (tpsim.models.simulate) against the numpy reference (tpsim.models.reference).

Each variant switches on parts of docs/model.md; both implementations must agree on every state
entry at every month end. Separate tests check that the variants really exercise those parts
(a pool that never buys a place would test nothing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.models import layout as lo
from tpsim.models.reference import simulate_reference
from tpsim.models.structure import compile_scenario
from tpsim.config.scenario import load_scenario, scenario_from_dict
from tpsim.models.simulate import simulate

RTOL = 1e-9


def assert_same(kernel_run, reference_run) -> None:
    """Every entry of every month-end snapshot agrees to RTOL.

    The absolute tolerance of a state entry is RTOL times its largest magnitude over runs and
    months, so an entry that passes near zero (a waiting list, a pool balance) is compared on
    the scale of the flows that move it.
    """
    a, b = kernel_run.trajectory, reference_run.trajectory
    assert a.shape == b.shape
    scale = np.maximum(np.abs(a).max(axis=(0, 1)), np.abs(b).max(axis=(0, 1)))
    atol = RTOL * scale + 1e-12
    bad = np.abs(a - b) > atol + RTOL * np.abs(b)
    if bad.any():
        run, month, entry = np.argwhere(bad)[0]
        raise AssertionError(
            f"{bad.sum()} entries differ; first: run {run}, month {month}, state entry {entry}: "
            f"kernel {a[run, month, entry]!r}, reference {b[run, month, entry]!r}")
    np.testing.assert_allclose(kernel_run.final, reference_run.final, rtol=RTOL,
                               atol=float(atol.max()))


def both(data: dict):
    model = compile_scenario(scenario_from_dict(data))
    return model, simulate(model), simulate_reference(model)


def final(model, raw, block: int, item: int = 0, run: int = 0) -> float:
    return float(raw.final[run, model.x_index(block, item)])


# ---- scenario variants -------------------------------------------------------------------------


def add_nhs(d: dict) -> None:
    """A second agency paying for a reactive service used by the falls service's cohort."""
    d["agencies"]["nhs_acute"] = {"type": "nhs", "budget": 80_000.0, "perception_delay": 3.0,
                                  "overhead": 0.08}
    d["services"]["emergency_admissions"] = {
        "agency": "nhs_acute", "cohort": "older_people", "kind": "reactive", "unit_cost": 2000.0,
        "utilisation": {"at_risk": 0.02, "high_need": 0.1}, "fixed_share": 0.5,
        "decommission_delay": 6.0}


def variant_pool(d: dict) -> None:
    add_nhs(d)
    # high need above its steady state, so reactive spend falls below the savings baseline
    d["cohorts"]["older_people"]["states"]["high_need"].update(initial=400.0, exit=0.06)
    d["services"]["residential_care"]["utilisation"]["high_need"] = 0.15
    d["services"]["falls_prevention"]["community"] = {"places": 50.0, "unit_cost": 10.0,
                                                      "ramp_time": 6.0}
    d["pool"] = {
        "enabled": True, "start": 6, "contributions": {"council_asc": 0.02, "nhs_acute": 0.03},
        "services": {"falls_prevention": 0.6}, "capture_share": 0.5, "reinvestment_delay": 6.0,
        "baseline_growth": 0.02, "adjust_time": 3.0, "spend_down_time": 12.0,
        "setup_cost": 60_000.0, "setup_months": 6.0,
        "double_running": {"cost": 3000.0, "months": 9.0},
        "overhead_reduction": 0.5, "overhead_ramp": 12.0}
    # pressure above 1 so the doom loop would cut the service if it were not ring-fenced
    d["agencies"]["council_asc"]["budget"] = 170_000.0
    d["agencies"]["council_asc"]["cut_rate"] = 0.3
    # a second, unpooled preventive service of the same agency: cut, not ring-fenced
    d["services"]["reablement"] = {
        "agency": "council_asc", "cohort": "older_people", "kind": "preventive",
        "unit_cost": 150.0, "states": ["high_need"], "places": 50.0, "uptake": 0.5,
        "effect": 0.3, "time_to_effect": 4.0, "delay_order": 2}


def variant_capacity(d: dict) -> None:
    add_nhs(d)
    care = d["services"]["residential_care"]
    care.update(capacity=50.0, queue_clear_time=2.0, deterioration=0.8)  # demand ~60 a month
    d["services"]["emergency_admissions"].update(capacity=25.0, deterioration=0.3)


def variant_changes(d: dict) -> None:
    d["changes"] = [
        {"month": 6, "set": {"services.falls_prevention.places": 600.0,
                             "cohorts.older_people.inflow_growth": 0.2}},
        {"month": 9.1, "set": {"agencies.council_asc.budget_growth": -0.1,   # step at 9.25
                               "cohorts.older_people.states.at_risk.escalation": 0.03}},
        {"month": 0, "set": {"services.residential_care.unit_cost": 3300.0}},
        {"month": 15, "set": {"agencies.council_asc.efficiency_target": 0.1,
                              "services.falls_prevention.places": 200.0}},
    ]


def variant_efficiency(d: dict) -> None:
    add_nhs(d)
    # a second cohort, served by both agencies, with its own growth and services
    d["cohorts"]["adults"] = {"inflow_growth": 0.05, "states": {
        "stable": {"initial": 3000.0, "inflow": 20.0, "escalation": 0.01, "exit": 0.003},
        "complex": {"initial": 400.0, "inflow": 2.0, "escalation": 0.05, "recovery": 0.02,
                    "exit": 0.01},
        "crisis": {"initial": 50.0, "recovery": 0.1, "exit": 0.05}}}
    d["services"]["drug_treatment"] = {
        "agency": "nhs_acute", "cohort": "adults", "kind": "preventive", "unit_cost": 250.0,
        "states": ["stable", "complex"], "places": 100.0, "effect": 0.4, "time_to_effect": 2.0,
        "delay_order": 1}
    d["services"]["crisis_team"] = {
        "agency": "council_asc", "cohort": "adults", "kind": "reactive", "unit_cost": 500.0,
        "utilisation": {"complex": 0.05, "crisis": 0.5}, "capacity": 30.0, "deterioration": 0.5}
    d["agencies"]["council_asc"].update(efficiency_target=0.08, quality_erosion=3.0)
    d["agencies"]["nhs_acute"].update(efficiency_target=0.04, quality_erosion=1.5)


def variant_doom(d: dict) -> None:
    d["agencies"]["council_asc"].update(budget=120_000.0, cut_rate=0.4, reserves=100_000.0,
                                        perception_delay=2.0, funding_floor=0.3)


def variant_preventive_only(d: dict) -> None:
    del d["services"]["residential_care"]


def variant_reactive_only(d: dict) -> None:
    del d["services"]["falls_prevention"]


VARIANTS = {"tiny": lambda d: None, "pool": variant_pool, "capacity": variant_capacity,
            "changes": variant_changes, "efficiency": variant_efficiency, "doom": variant_doom,
            "preventive_only": variant_preventive_only, "reactive_only": variant_reactive_only}


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_kernel_equals_reference(tiny_scenario_dict, variant, method):
    d = tiny_scenario_dict
    VARIANTS[variant](d)
    d["time"]["method"] = method
    model, kernel_run, reference_run = both(d)
    assert_same(kernel_run, reference_run)


# ---- the variants exercise what they are meant to (on the reference) ----------------------------


def run_variant(d: dict, variant: str):
    VARIANTS[variant](d)
    model = compile_scenario(scenario_from_dict(d))
    return model, simulate_reference(model)


def test_pool_variant_buys_places_and_captures_savings(tiny_scenario_dict):
    model, raw = run_variant(tiny_scenario_dict, "pool")
    council, nhs = model.agencies.index("council_asc"), model.agencies.index("nhs_acute")
    assert final(model, raw, lo.X_POOL_PLACES) > 10.0
    assert final(model, raw, lo.A_AG_CAPTURE, nhs) + final(model, raw, lo.A_AG_CAPTURE, council) > 0
    assert final(model, raw, lo.A_SETUP) == pytest.approx(60_000.0, rel=1e-9)
    assert final(model, raw, lo.A_DOUBLE_RUNNING) == pytest.approx(27_000.0, rel=1e-9)
    assert final(model, raw, lo.X_COMMUNITY) > 40.0
    # falls prevention is ring-fenced from month 6 but cut before it (pressure > 1) ...
    funding = raw.trajectory[0, :, model.xo[lo.X_FUNDING]:model.xo[lo.X_FUNDING + 1]]
    falls = funding[:, model.preventive.index("falls_prevention")]
    assert falls[6] < 1.0 and falls[-1] == pytest.approx(falls[6], rel=1e-12)
    # ... while reablement, not pooled, goes on being cut
    reablement = funding[:, model.preventive.index("reablement")]
    assert reablement[-1] < reablement[6] < 1.0


def test_capacity_variant_builds_waiting_lists(tiny_scenario_dict):
    model, raw = run_variant(tiny_scenario_dict, "capacity")
    assert final(model, raw, lo.X_WAITING, 0) > 10.0
    assert final(model, raw, lo.X_WAITING, 1) > 10.0


def test_doom_variant_cuts_towards_the_floor(tiny_scenario_dict):
    model, raw = run_variant(tiny_scenario_dict, "doom")
    funding = raw.trajectory[0, :, model.x_index(lo.X_FUNDING)]
    assert funding[-1] < 0.6 and funding.min() >= 0.3 - 1e-12


def test_efficiency_variant_erodes_quality(tiny_scenario_dict):
    model, raw = run_variant(tiny_scenario_dict, "efficiency")
    theta = model.theta(1)
    theta[0, model.param_index["loops.quality_erosion"]] = 0.0
    without = simulate_reference(model, theta)
    for c_i in range(len(model.cohorts)):
        assert final(model, raw, lo.A_ESC, c_i) > 1.001 * final(model, without, lo.A_ESC, c_i)


# ---- a batch of runs with perturbed parameters --------------------------------------------------


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_batch_of_perturbed_runs(tiny_scenario_dict, method):
    d = tiny_scenario_dict
    variant_pool(d)
    d["services"]["residential_care"].update(capacity=55.0, queue_clear_time=2.0,
                                             deterioration=0.5)
    d["agencies"]["council_asc"].update(efficiency_target=0.03, quality_erosion=1.0)
    d["time"]["method"] = method
    d["changes"] = [{"month": 12, "set": {"services.falls_prevention.places": 400.0}}]
    model = compile_scenario(scenario_from_dict(d))
    rng = np.random.default_rng(20240601)
    n = 20
    theta = model.theta(n)
    # rates, costs, budgets and delays scaled by up to +-20% (dt x rate stays well below 1);
    # switches, structure-like shares and the pool start stay as they are
    skip = {"loops.", "pool.enabled", "pool.start", "pool.services."}
    cols = [j for j, name in enumerate(model.param_names)
            if not any(name.startswith(s) for s in skip) and np.isfinite(theta[0, j])]
    theta[:, cols] *= rng.uniform(0.8, 1.2, size=(n, len(cols)))
    theta[:, model.param_index["pool.capture_share"]] = np.clip(
        theta[:, model.param_index["pool.capture_share"]], 0.0, 1.0)
    ev = model.event_values(n) * rng.uniform(0.7, 1.3, size=(n, 1))
    kernel_run = simulate(model, theta, ev)
    reference_run = simulate_reference(model, theta, ev)
    assert_same(kernel_run, reference_run)
    # the runs really differ
    total = kernel_run.final[:, model.x_index(lo.A_TOTAL)]
    assert np.ptp(total) > 1e-3 * total.mean()


def test_reference_rejects_wrong_theta(tiny_scenario_dict):
    model = compile_scenario(scenario_from_dict(tiny_scenario_dict))
    with pytest.raises(ValueError, match="columns"):
        simulate_reference(model, np.zeros((2, model.nparam + 1)))


def test_shipped_baseline_scenario():
    """Every part of the shipped baseline (3 cohorts, 7 agencies, 21 services) agrees."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    if not path.is_file():
        pytest.skip("scenarios/baseline.yaml is not present")
    model = compile_scenario(load_scenario(path))
    theta = model.theta(3)
    theta[1, model.param_index["loops.doom_loop"]] = 0.0
    theta[2] *= np.where([n.startswith("agencies.") and n.endswith(".budget")
                          for n in model.param_names], 0.9, 1.0)   # budgets 10% short
    assert_same(simulate(model, theta), simulate_reference(model, theta))
