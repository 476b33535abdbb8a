"""The uncertainty section, distributions, block samplers, the copula and paired plans."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from conftest import make_tiny_scenario_dict
from tpsim.errors import ScenarioError
from tpsim.models.structure import compile_scenario
from tpsim.config.scenario import load_scenario, scenario_from_dict
from tpsim.analysis.sampling import (BLOCK, EPS, build_plan, correlate, distribution_from_spec,
                                    effective_sections, unit_block, unit_points)

EFFECT = "services.falls_prevention.effect"
UNIT_COST = "services.residential_care.unit_cost"
DELAY = "services.falls_prevention.time_to_effect"
ESC = "cohorts.older_people.states.at_risk.escalation"


def with_uncertainty(parameters: dict, correlations: list | None = None, **changes) -> dict:
    d = make_tiny_scenario_dict()
    d["uncertainty"] = {"parameters": parameters}
    if correlations is not None:
        d["uncertainty"]["correlations"] = correlations
    d.update(changes)
    return d


def error_of(d: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    return str(info.value)


# ---- the section ---------------------------------------------------------------------------


def test_absent_section_resolves_to_empty_dict():
    assert scenario_from_dict(make_tiny_scenario_dict()).uncertainty == {}


def test_section_is_resolved_with_defaults_and_survives_revalidation():
    sc = scenario_from_dict(with_uncertainty({
        EFFECT: {"dist": "triangular", "low": 0.1, "mode": 0.2, "high": 0.3, "source": "x"},
        UNIT_COST: {"dist": "normal", "mean": 1.0, "sd": 0.1, "relative": True},
    }, [{"between": [EFFECT, UNIT_COST], "rho": 0.3}]))
    section = sc.as_dict()["uncertainty"]
    assert section["parameters"][EFFECT] == {"dist": "triangular", "low": 0.1, "mode": 0.2,
                                             "high": 0.3, "relative": False, "shared": True,
                                             "source": "x"}
    assert section["parameters"][UNIT_COST]["low"] is None
    assert section["correlations"] == [{"between": [EFFECT, UNIT_COST], "rho": 0.3}]
    again = sc.replace(overrides={"services.falls_prevention.places": 400.0})
    assert again.as_dict()["uncertainty"] == section


@pytest.mark.parametrize("spec, expected", [
    ({"dist": "normal", "mean": 0.2, "sd": 0.1}, "lowest draw is -0.5"),
    ({"dist": "normalish"}, "did you mean 'normal'"),
    ({"dist": "uniform", "low": 0.1}, ".high: required key is missing"),
    ({"dist": "uniform", "low": 0.3, "high": 0.1}, "must be greater than low"),
    ({"dist": "triangular", "low": 0.1, "mode": 0.5, "high": 0.3}, "between low and high"),
    ({"dist": "uniform", "low": 0.0, "high": 1.0, "mode": 0.5}, "unknown key for a uniform"),
    ({"dist": "choice", "values": []}, "non-empty list"),
    ({"dist": "choice", "values": [0.1, 0.2], "weights": [1.0]}, "one per value"),
    ({"dist": "beta", "a": 0, "b": 1}, ".a: must be > 0"),
    ({"dist": "lognormal", "median": 0.1}, ".sigma: required key"),
    ({"dist": "uniform", "low": 0.0, "high": 1.0, "relative": "yes"}, "expected true or false"),
])
def test_bad_specs_are_reported_at_their_key(spec, expected):
    message = error_of(with_uncertainty({EFFECT: spec}))
    assert f"uncertainty.parameters.{EFFECT}" in message
    assert expected in message


def test_unknown_paths_switches_and_dt_violations_are_errors():
    assert "did you mean 'services.falls_prevention.effect'" in error_of(
        with_uncertainty({"services.falls_prevention.efect": {"dist": "uniform", "low": 0,
                                                              "high": 1}}))
    assert "switches cannot be uncertain" in error_of(
        with_uncertainty({"loops.doom_loop": {"dist": "choice", "values": [0, 1]}}))
    # time_to_effect of 0.1 month breaks dt x delay_order / time_to_effect <= 1
    message = error_of(with_uncertainty({DELAY: {"dist": "uniform", "low": 0.1, "high": 6}}))
    assert "time.dt" in message and "lowest draw is 0.1" in message


def test_relative_draws_check_the_scaled_value():
    # 0.2 x 6 = 1.2 > 1: an effect above 1 is invalid
    message = error_of(with_uncertainty({EFFECT: {"dist": "uniform", "low": 0.5, "high": 6,
                                                  "relative": True}}))
    assert "highest multiplier 6 gives 1.2" in message


def test_inconsistent_correlations_are_rejected():
    params = {p: {"dist": "uniform", "low": lo, "high": hi} for p, lo, hi in
              ((EFFECT, 0.1, 0.3), (ESC, 0.01, 0.03), (UNIT_COST, 2000, 4000))}
    corr = [{"between": [EFFECT, ESC], "rho": 0.9}, {"between": [EFFECT, UNIT_COST], "rho": 0.9},
            {"between": [ESC, UNIT_COST], "rho": -0.9}]
    assert "not positive definite" in error_of(with_uncertainty(params, corr))
    assert "not listed under uncertainty.parameters" in error_of(
        with_uncertainty({EFFECT: params[EFFECT]}, [{"between": [EFFECT, ESC], "rho": 0.2}]))


def test_shipped_uncertain_scenario_loads():
    path = Path(__file__).resolve().parents[1] / "scenarios" / "pooled_prevention_uncertain.yaml"
    if not path.exists():
        pytest.skip("scenario not shipped")
    sc = load_scenario(path)
    params = sc.uncertainty["parameters"]
    assert len(params) >= 10
    assert all(spec["shared"] for spec in params.values())


# ---- distributions -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [
    {"dist": "uniform", "low": 2.0, "high": 5.0},
    {"dist": "triangular", "low": 0.1, "mode": 0.15, "high": 0.3},
    {"dist": "normal", "mean": 1.0, "sd": 0.2, "low": 0.8, "high": None},
    {"dist": "lognormal", "median": 6.0, "sigma": 0.3, "low": None, "high": 9.0},
    {"dist": "lognormal", "mean": 6.0, "sd": 1.0, "low": None, "high": None},
    {"dist": "beta", "a": 2.0, "b": 5.0, "low": 0.0, "high": 0.5},
    {"dist": "choice", "values": [3.0, 6.0, 9.0], "weights": [1.0, 2.0, 1.0]},
])
def test_draws_stay_within_the_checked_extremes(spec):
    dist = distribution_from_spec(spec)
    low, high = dist.extremes()
    x = dist.ppf(np.concatenate([[0.0, EPS / 2, 1.0], np.random.default_rng(0).random(20000)]))
    assert np.all(x >= low) and np.all(x <= high)
    if spec.get("low") is not None:
        assert low >= spec["low"]
    if spec.get("high") is not None:
        assert high <= spec["high"]


def test_marginals_match_their_definitions():
    u = (np.arange(200000) + 0.5) / 200000
    tri = distribution_from_spec({"dist": "triangular", "low": 0.0, "mode": 0.3, "high": 1.0})
    assert tri.ppf(u).mean() == pytest.approx(1.3 / 3, abs=1e-4)
    logn = distribution_from_spec({"dist": "lognormal", "mean": 6.0, "sd": 1.5, "low": None,
                                   "high": None})
    assert logn.ppf(u).mean() == pytest.approx(6.0, rel=1e-3)
    assert logn.ppf(u).std() == pytest.approx(1.5, rel=1e-2)
    choice = distribution_from_spec({"dist": "choice", "values": [3.0, 6.0, 9.0],
                                     "weights": [1.0, 2.0, 1.0]})
    values, counts = np.unique(choice.ppf(u), return_counts=True)
    assert values.tolist() == [3.0, 6.0, 9.0]
    assert (counts / u.size).tolist() == pytest.approx([0.25, 0.5, 0.25], abs=1e-4)
    trunc = distribution_from_spec({"dist": "normal", "mean": 0.0, "sd": 1.0, "low": 0.0,
                                    "high": None})
    assert trunc.ppf(u).mean() == pytest.approx(np.sqrt(2 / np.pi), rel=1e-3)  # half-normal


# ---- samplers ------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_points_depend_only_on_seed_and_run_index(sampler):
    whole = unit_points(sampler, 3, 11, 0, 2 * BLOCK + 100)
    for start, stop in ((0, 10), (BLOCK - 5, BLOCK + 7), (2 * BLOCK, 2 * BLOCK + 100)):
        assert np.array_equal(unit_points(sampler, 3, 11, start, stop), whole[start:stop])
    assert not np.array_equal(unit_points(sampler, 3, 12, 0, 10), whole[:10])
    assert whole.min() > 0.0 and whole.max() < 1.0


@pytest.mark.parametrize("sampler", ["lhs", "sobol"])
def test_stratified_samplers_stratify_each_block(sampler):
    block = unit_block(sampler, 2, 3, 1)
    counts = np.histogram(block[:, 0], bins=64, range=(0, 1))[0]
    assert counts.min() == counts.max() == BLOCK // 64


def test_gaussian_copula_gives_the_rank_correlation():
    u = unit_points("random", 3, 5, 0, 20000)
    rho = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.0], [0.0, 0.0, 1.0]])
    v = correlate(u, rho)
    assert np.array_equal(v[:, 2], u[:, 2])  # uncorrelated columns are untouched
    spearman = stats.spearmanr(v[:, 0], v[:, 1]).statistic
    assert spearman == pytest.approx(6 / np.pi * np.arcsin(0.3), abs=0.02)
    for j in range(2):  # marginals stay uniform
        assert stats.kstest(v[:, j], "uniform").pvalue > 0.001


# ---- plans across scenarios ------------------------------------------------------------------


def _pair(spec_effect: dict, counterfactual_changes: dict | None = None):
    d = with_uncertainty({EFFECT: spec_effect,
                          UNIT_COST: {"dist": "uniform", "low": 0.8, "high": 1.2,
                                      "relative": True}})
    d["name"] = "scenario"
    d["services"]["falls_prevention"]["places"] = 600.0
    d["changes"] = [{"month": 6, "set": {UNIT_COST: 3300.0}}]
    cf_dict = make_tiny_scenario_dict()
    cf_dict["name"] = "counterfactual"
    cf_dict.update(counterfactual_changes or {})
    return scenario_from_dict(d), scenario_from_dict(cf_dict)


def test_shared_draws_are_paired_and_relative_draws_scale_changes():
    sc, cf = _pair({"dist": "uniform", "low": 0.1, "high": 0.3})
    sections = effective_sections([sc, cf])
    assert sections[1] == sc.as_dict()["uncertainty"]  # the counterfactual borrows the section
    models = [compile_scenario(cf), compile_scenario(sc)]
    plan = build_plan(["counterfactual", "scenario"], [sections[1], sections[0]], models)
    assert plan.labels == [EFFECT, UNIT_COST]
    u = plan.unit("random", 1, 0, 50)
    theta_c, ev_c = plan.parameters(0, models[0].theta0, models[0].ev_value0, u)
    theta_s, ev_s = plan.parameters(1, models[1].theta0, models[1].ev_value0, u)
    col = models[1].param_index[EFFECT]
    assert np.array_equal(theta_c[:, col], theta_s[:, col])  # the same effect in both
    cost = models[1].param_index[UNIT_COST]
    multiplier = theta_s[:, cost] / 3000.0
    assert np.allclose(ev_s[:, 0], 3300.0 * multiplier)  # the change is scaled too
    assert np.allclose(theta_c[:, cost] / 3000.0, multiplier)
    assert theta_s[0, models[1].param_index["services.falls_prevention.places"]] == 600.0


def test_unshared_draws_get_one_factor_per_scenario():
    sc, cf = _pair({"dist": "uniform", "low": 0.1, "high": 0.3, "shared": False})
    sections = effective_sections([sc, cf])
    models = [compile_scenario(cf), compile_scenario(sc)]
    plan = build_plan(["counterfactual", "scenario"], [sections[1], sections[0]], models)
    assert sorted(plan.labels) == sorted([f"{EFFECT}@counterfactual", f"{EFFECT}@scenario",
                                          UNIT_COST])


def test_absolute_draws_over_differing_values_warn():
    sc, cf = _pair({"dist": "uniform", "low": 0.1, "high": 0.3})
    d = with_uncertainty({"services.falls_prevention.places": {"dist": "uniform", "low": 100,
                                                               "high": 900}})
    d["services"]["falls_prevention"]["places"] = 600.0
    d["name"] = "scenario"
    sc = scenario_from_dict(d)
    models = [compile_scenario(cf), compile_scenario(sc)]
    sections = effective_sections([sc, cf])
    base = [{p: float(m.theta0[c]) for p, c in m.param_index.items()} for m in models]
    plan = build_plan(["counterfactual", "scenario"], [sections[1], sections[0]], models, base)
    assert any("relative: true" in w for w in plan.warnings)
