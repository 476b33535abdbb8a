"""Tests of the numba kernel (tpsim.models.kernel through tpsim.models.simulate) that would catch a
wrong answer: conservation of people, closed forms, convergence order, batching, accounting
identities between monthly flows and stocks, and extreme inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from tpsim.analysis.discounting import monthly_factors
from tpsim.models import layout as lo
from tpsim.models.kernel import LANES
from tpsim.models.reference import simulate_reference
from tpsim.models.structure import compile_scenario
from tpsim.models.results import build_results
from tpsim.config.scenario import scenario_from_dict
from tpsim.models.simulate import Buffers, simulate

# blocks of stocks that can never be negative (reserves and the pool balance can)
NONNEGATIVE_STOCKS = (lo.X_POP, lo.X_STAGE, lo.X_FUNDING, lo.X_POOL_PLACES, lo.X_COMMUNITY,
                      lo.X_WAITING, lo.X_CAPBASE, lo.X_PERCEIVED, lo.X_CAPTURED)


def block(model, raw, b: int) -> np.ndarray:
    """Month-end snapshots of state block ``b``: runs x (months + 1) x items."""
    return raw.trajectory[:, :, model.xo[b]:model.xo[b + 1]]


def cohort_pops(model, cohort: str) -> list[int]:
    return [model.pop_index(cohort, s) for s in model.states[cohort]]


# ---- conservation of people (hypothesis) ---------------------------------------------------------

RATE = st.floats(0.0, 1.3)                       # per person-month; 3 rates sum to <= 3.9 < 1/dt
PEOPLE = st.floats(0.0, 2e4)
INFLOW = st.one_of(st.just(0.0), st.floats(0.0, 500.0))
FRACTION = st.floats(0.0, 1.0)


@st.composite
def rich_overrides(draw, paths: list[str]) -> dict[str, float]:
    """Random valid values for the people, service and budget parameters of the rich scenario.

    Rates of a state are each at most 1.3 per month, so their sum stays within the dt rule
    (dt = 0.25: at most 4); time constants stay at or above dt x delay order.
    """
    values: dict[str, float] = {}
    for path in paths:
        key = path.rsplit(".", 1)[-1]
        if path.startswith("cohorts.") and ".states." in path:
            if key == "initial":
                values[path] = draw(PEOPLE)
            elif key == "inflow":
                values[path] = draw(INFLOW)
            elif key in ("escalation", "recovery", "exit"):
                values[path] = draw(RATE)
        elif path.endswith(".inflow_growth"):
            values[path] = draw(st.floats(-0.5, 2.0))
        elif path.startswith("services."):
            if key in ("places", "capacity"):
                values[path] = draw(st.floats(1e-3, 2e3))
            elif key in ("effect", "uptake", "fixed_share") or ".utilisation." in path:
                values[path] = draw(FRACTION)
            elif key == "deterioration":
                values[path] = draw(st.floats(0.0, 5.0))
            elif key == "time_to_effect":
                values[path] = draw(st.floats(0.75, 24.0))     # delay order <= 3
            elif key in ("queue_clear_time", "decommission_delay"):
                values[path] = draw(st.floats(0.25, 24.0))
        elif path.startswith("agencies."):
            if key == "budget":
                values[path] = draw(st.floats(0.0, 1e6))
            elif key in ("cut_rate", "quality_erosion"):
                values[path] = draw(st.floats(0.0, 5.0))
            elif key == "efficiency_target":
                values[path] = draw(st.floats(0.0, 0.5))
    # the validator's structural rules: no escalation out of a last state, no recovery out of
    # a first state
    for path in list(values):
        if path.endswith(".high_need.escalation") or path.endswith(".crisis.escalation") or \
                path.endswith(".independent.recovery") or path.endswith(".stable.recovery"):
            values[path] = 0.0
    return values


@pytest.fixture(scope="module")
def rich_base(rich_scenario):
    return scenario_from_dict(rich_scenario())


@settings(max_examples=25, deadline=None)
@given(data=st.data(), method=st.sampled_from(["euler", "rk4"]))
def test_people_are_conserved_and_stocks_stay_nonnegative(rich_base, data, method):
    # dt small enough for the dt check, which counts the waiting and erosion multipliers at
    # their highest: escalation 1.3 x 6 (waiting) x 4.75 x 4.75 (erosion by both agencies
    # serving a state) + 2.6 < 180 per month, under 1/dt = 256
    scenario = rich_base.replace(dt=1 / 256, overrides=data.draw(
        rich_overrides(rich_base.parameter_paths())))
    model = dataclasses.replace(compile_scenario(scenario), method=method)
    raw = simulate(model)
    pop = block(model, raw, lo.X_POP)[0]
    inflow, exits = block(model, raw, lo.A_INFLOW)[0], block(model, raw, lo.A_EXIT)[0]
    for c_i, c in enumerate(model.cohorts):
        people = pop[:, cohort_pops(model, c)].sum(axis=1)
        change = people - people[0]
        expected = inflow[:, c_i] - exits[:, c_i]
        scale = people[0] + inflow[-1, c_i] + exits[-1, c_i] + 1.0
        np.testing.assert_allclose(change, expected, rtol=1e-9, atol=1e-9 * scale,
                                   err_msg=f"cohort {c} ({method})")
    assert np.isfinite(raw.trajectory).all()
    for b in (lo.X_POP, lo.X_WAITING):
        # a stock emptied in one step (outflow = stock / dt) ends at 0, not a rounding error
        # below it
        assert block(model, raw, b).min() >= 0.0, f"negative stock in block {b} ({method})"


# ---- closed form: the linear case against the matrix exponential ---------------------------------

LINEAR_RATES = dict(a0=0.05, e0=0.01, a1=0.15, r1=0.05, e1=0.02, r2=0.08, e2=0.03)
LINEAR_INFLOW = (100.0, 10.0, 0.0)
LINEAR_INITIAL = (5000.0, 1000.0, 300.0)
LINEAR_UPTAKE, LINEAR_EFFECT = 0.6, 0.5


def linear_scenario(dt: float, method: str, horizon: int = 24) -> dict:
    """Constant rates, constant coverage and no capacity limit: dP/dt = A P + b exactly.

    Preventive places are far above the eligible population, so coverage is at uptake from
    month 0 (the delay stages start there and stay there) and the escalation multiplier of
    ``mid`` is the constant 1 - effect x uptake. The budget is far above spend, so nothing is
    cut; the reactive service has no capacity limit, so nobody waits.
    """
    r = LINEAR_RATES
    return {
        "name": "linear", "price_year": "2024-25",
        "time": {"horizon": horizon, "dt": dt, "method": method},
        "agencies": {"council": {"budget": 1e12, "cut_rate": 1.0}},
        "cohorts": {"people": {"states": {
            "low": {"initial": LINEAR_INITIAL[0], "inflow": LINEAR_INFLOW[0],
                    "escalation": r["a0"], "exit": r["e0"]},
            "mid": {"initial": LINEAR_INITIAL[1], "inflow": LINEAR_INFLOW[1],
                    "escalation": r["a1"], "recovery": r["r1"], "exit": r["e1"]},
            "high": {"initial": LINEAR_INITIAL[2], "recovery": r["r2"], "exit": r["e2"]}}}},
        "services": {
            "prevention": {"agency": "council", "cohort": "people", "kind": "preventive",
                           "unit_cost": 10.0, "states": ["mid"], "places": 1e9,
                           "uptake": LINEAR_UPTAKE, "effect": LINEAR_EFFECT,
                           "time_to_effect": 6.0, "delay_order": 3},
            "care": {"agency": "council", "cohort": "people", "kind": "reactive",
                     "unit_cost": 1000.0, "utilisation": {"high": 0.3}, "deterioration": 2.0},
        },
    }


def linear_exact(horizon: int) -> np.ndarray:
    """Populations at month ends 0..horizon from expm of the generator augmented with b."""
    r = LINEAR_RATES
    a1 = r["a1"] * (1.0 - LINEAR_EFFECT * LINEAR_UPTAKE)
    gen = np.zeros((4, 4))
    gen[:3, :3] = [[-(r["a0"] + r["e0"]), r["r1"], 0.0],
                   [r["a0"], -(a1 + r["r1"] + r["e1"]), r["r2"]],
                   [0.0, a1, -(r["r2"] + r["e2"])]]
    gen[:3, 3] = LINEAR_INFLOW                      # constant inflow: d(1)/dt = 0
    y0 = np.array([*LINEAR_INITIAL, 1.0])
    step = scipy.linalg.expm(gen)                   # one month
    out = [y0]
    for _ in range(horizon):
        out.append(step @ out[-1])
    return np.array(out)[:, :3]


def linear_error(dt: float, method: str, horizon: int = 24) -> float:
    """Largest relative error of the month-end populations against the closed form."""
    model = compile_scenario(scenario_from_dict(linear_scenario(dt, method, horizon)))
    pop = block(model, simulate(model), lo.X_POP)[0]
    exact = linear_exact(horizon)
    return float(np.max(np.abs(pop - exact) / np.abs(exact)))


def test_linear_case_rk4_matches_matrix_exponential():
    # the fastest mode decays at ~0.25 a month: (0.25 dt)^4 truncation gives ~2e-8 over 24
    # months; a wrong stage weight or stage time would leave an O(dt) to O(dt^3) error
    assert linear_error(0.25, "rk4") < 3e-8


def test_linear_case_euler_matches_matrix_exponential_to_first_order():
    coarse, fine = linear_error(1.0 / 16, "euler"), linear_error(1.0 / 64, "euler")
    assert fine < 0.025 * (1.0 / 64)                       # ~0.018 dt for these rates
    assert coarse / fine == pytest.approx(4.0, rel=0.05)   # error proportional to dt


def test_rk4_converges_faster_than_euler():
    euler = [linear_error(dt, "euler") for dt in (1.0, 0.5, 0.25)]
    rk4 = [linear_error(dt, "rk4") for dt in (1.0, 0.5, 0.25)]
    assert all(e > 1e-12 for e in rk4), "errors must stay above round-off to measure order"
    for coarse, fine in zip(euler, euler[1:]):
        assert coarse / fine > 1.8
    for coarse, fine in zip(rk4, rk4[1:]):
        assert coarse / fine > 10.0
    assert rk4[-1] < euler[-1] * 1e-3


# ---- batches -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_batch_equals_single_runs(rich_scenario, method):
    d = rich_scenario()
    d["time"]["method"] = method
    d["changes"] = [{"month": 10, "set": {"services.reablement.places": 80.0}}]
    model = compile_scenario(scenario_from_dict(d))
    n = 2 * LANES + 3
    rng = np.random.default_rng(7)
    theta = model.theta(n)
    for path in ("services.falls_prevention.effect", "services.residential_care.capacity",
                 "agencies.council_asc.budget", "cohorts.adults.states.stable.inflow",
                 "pool.capture_share"):
        theta[:, model.param_index[path]] *= rng.uniform(0.5, 1.0, n)
    ev = model.event_values(n) * rng.uniform(0.5, 1.5, (n, 1))
    batch = simulate(model, theta, ev)
    totals_only = simulate(model, theta, ev, record=False)
    np.testing.assert_array_equal(totals_only.final, batch.final)
    for k in (0, 1, LANES - 1, LANES, 2 * LANES, n - 1):
        single = simulate(model, theta[k:k + 1], ev[k:k + 1])
        np.testing.assert_allclose(single.final[0], batch.final[k], rtol=1e-12, atol=0)
        np.testing.assert_allclose(single.trajectory[0], batch.trajectory[k], rtol=1e-12, atol=0)
    assert np.ptp(batch.final[:, model.x_index(lo.A_TOTAL)]) > 0.0
    # reused output buffers (an ensemble's slices): a larger call, then a smaller one, give
    # what fresh arrays give, and never leave stale rows from the earlier call
    buffers = Buffers()
    record = np.arange(0, model.nstate, 3)
    big = simulate(model, theta, ev, record=record, out=buffers)
    np.testing.assert_array_equal(big.final, batch.final)
    np.testing.assert_array_equal(big.trajectory, batch.trajectory[:, :, record])
    small = simulate(model, theta[5:9], ev[5:9], record=record, out=buffers)
    np.testing.assert_array_equal(small.final, batch.final[5:9])
    np.testing.assert_array_equal(small.trajectory, batch.trajectory[5:9][:, :, record])


# ---- monthly flows: accounting identities --------------------------------------------------------


def close(a: np.ndarray, b: np.ndarray, scale: np.ndarray | float) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * float(np.max(np.abs(scale))))


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_monthly_spend_adds_up(rich_scenario, method):
    d = rich_scenario()
    d["time"]["method"] = method
    model = compile_scenario(scenario_from_dict(d))
    res = build_results(model, simulate(model))
    services = sum(res[f"spend.service.{v}"] for v in model.services)
    overhead = res["spend.overhead"]
    transition = res["spend.transition"]
    total = res["spend.total"]
    # total resource spend = every service (whoever pays) + overhead + set-up/double running
    close(total, services + overhead + transition, total)
    assert transition.sum() > 0 and res["pool.spend"].sum() > transition.sum()
    # the pool pays for pool places, pooled community places and the transition costs, so the
    # agencies' own service spend is the rest
    pool_funded = res["pool.spend"] - transition
    agencies = sum(res[f"spend.agency.{a}"] for a in model.agencies)
    contributions = sum(res[f"contribution.agency.{a}"] for a in model.agencies)
    captured = sum(res[f"capture.agency.{a}"] for a in model.agencies)
    close(agencies, services - pool_funded + overhead + contributions + captured, agencies)
    assert contributions.sum() > 0 and captured.sum() > 0
    close(res["pool.contributions"], contributions, agencies)
    close(res["pool.reinvested"], captured, agencies)
    # stocks move by their monthly flows
    for a in model.agencies:
        reserves = np.concatenate([[model.theta0[model.param_index[f"agencies.{a}.reserves"]]],
                                   res[f"reserves.agency.{a}"][0]])
        close(np.diff(reserves), res[f"budget.agency.{a}"][0] - res[f"spend.agency.{a}"][0],
              res[f"budget.agency.{a}"])
    balance = np.concatenate([[0.0], res["pool.balance"][0]])
    close(np.diff(balance), (res["pool.contributions"] + res["pool.reinvested"]
                             - res["pool.spend"])[0], res["pool.spend"])


def test_discounted_totals_weight_each_month_by_its_year(rich_scenario):
    d = rich_scenario()
    d["time"]["horizon"] = 30                      # years 0, 1 and half of 2
    model = compile_scenario(scenario_from_dict(d))
    raw = simulate(model, discount_rate=0.1, health_discount_rate=0.05)
    res = build_results(model, raw)
    df = monthly_factors(30, 0.1)
    dfh = monthly_factors(30, 0.05)
    assert df[11] == 1.0 and df[12] == pytest.approx(1 / 1.1) and df[24] == pytest.approx(1 / 1.21)
    final = raw.final[0]
    close(final[model.x_index(lo.A_DISC_TOTAL)], (res["spend.total"][0] * df).sum(),
          res["spend.total"].sum())
    for a_i, a in enumerate(model.agencies):
        spend = res[f"spend.agency.{a}"][0]
        close(final[model.x_index(lo.A_DISC_AG, a_i)], (spend * df).sum(), spend.sum())
    qalys = sum(res[f"qalys.{c}"][0] for c in model.cohorts)
    close(final[model.x_index(lo.A_DISC_QALY)], (qalys * dfh).sum(), qalys.sum())
    assert final[model.x_index(lo.A_DISC_TOTAL)] < 0.95 * res["spend.total"].sum()


def test_agency_spend_is_its_services_and_overhead_without_a_pool(rich_scenario):
    d = rich_scenario()
    d["pool"]["enabled"] = False
    model = compile_scenario(scenario_from_dict(d))
    res = build_results(model, simulate(model))
    for a in model.agencies:
        own = sum(res[f"spend.service.{v}"] for v in model.services
                  if model.service_agency[v] == a)
        overhead_rate = model.theta0[model.param_index[f"agencies.{a}.overhead"]]
        close(res[f"overhead.agency.{a}"], overhead_rate * own, own)
        close(res[f"spend.agency.{a}"], own * (1.0 + overhead_rate), own)
    assert res["pool.spend"].max() == 0.0


# ---- extreme conditions --------------------------------------------------------------------------


def extreme_zero_budget(d: dict) -> None:
    for agency in d["agencies"].values():
        agency["budget"] = 0.0


def extreme_zero_effect(d: dict) -> None:
    for service in d["services"].values():
        if service["kind"] == "preventive":
            service["effect"] = 0.0


def extreme_tiny_capacity(d: dict) -> None:
    for service in d["services"].values():
        if service["kind"] == "reactive":
            service["capacity"] = 1e-6


def extreme_huge_inflow(d: dict) -> None:
    for cohort in d["cohorts"].values():
        for state in cohort["states"].values():
            state["inflow"] = 1e6


EXTREMES = {"zero_budget": extreme_zero_budget, "zero_effect": extreme_zero_effect,
            "tiny_capacity": extreme_tiny_capacity, "huge_inflow": extreme_huge_inflow}


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("extreme", list(EXTREMES))
def test_extreme_conditions_stay_finite_and_nonnegative(rich_scenario, extreme, method):
    d = rich_scenario()
    EXTREMES[extreme](d)
    d["time"]["method"] = method
    model = compile_scenario(scenario_from_dict(d))
    raw = simulate(model)
    assert np.isfinite(raw.trajectory).all() and np.isfinite(raw.final).all()
    for b in NONNEGATIVE_STOCKS:
        assert block(model, raw, b).min() >= 0.0, f"block {b} negative"
    funding = block(model, raw, lo.X_FUNDING)[0]
    assert funding.max() <= 1.0 + 1e-12
    if extreme == "zero_budget":
        # pressure is 1e6: the 1/dt cap cuts an unpooled service to its floor in one Euler
        # step (RK4's stages cut 5/8 of the gap a step: 0.8 x (3/8)^4 above it after a month)
        floor = model.theta0[model.param_index["agencies.council_asc.funding_floor"]]
        reablement = funding[:, model.preventive.index("reablement")]
        assert reablement.min() >= floor - 1e-15
        first_month_gap = 0.0 if method == "euler" else (1.0 - floor) * (3.0 / 8.0) ** 4
        assert reablement[1] - floor == pytest.approx(first_month_gap, abs=1e-12)
    if extreme == "tiny_capacity":
        waiting = block(model, raw, lo.X_WAITING)[0]
        assert (waiting[-1] > 10.0).all()
    # the independent reference agrees in the extremes too
    reference = simulate_reference(model)
    scale = np.abs(raw.trajectory).max(axis=(0, 1)) + 1e-12
    np.testing.assert_array_less(np.abs(raw.trajectory - reference.trajectory),
                                 1e-9 * (np.abs(reference.trajectory) + scale))
