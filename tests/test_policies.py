"""Behaviour of the feedback loops on the shipped scenarios (issue: budget policies).

Each test asserts a mechanism: the direction of a difference between two runs that differ
only in the mechanism, over one Parliament (60 months). No number is copied from a run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.models import runner
from tpsim.config.scenario import load_scenario

SCENARIOS = Path(__file__).parents[1] / "scenarios"


def _run(name: str, **overrides):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml").replace(horizon=60)
    return runner.run(scenario, overrides or None)


def _escalations(results) -> float:
    return sum(results[f"escalations.{c}"][0].sum() for c in results.model.cohorts)


def _last(results, series: str) -> float:
    return float(results[series][0][-1])


@pytest.fixture(scope="module")
def runs():
    return {
        "baseline": _run("baseline"),
        "squeeze": _run("siloed_squeeze"),
        "squeeze_no_cuts": _run("siloed_squeeze", **{"loops.doom_loop": 0}),
        "pooled": _run("pooled_prevention"),
        "pooled_no_reinvestment": _run("pooled_prevention", **{"loops.reinvestment": 0}),
    }


def test_siloed_squeeze_cuts_prevention_and_feeds_reactive_demand(runs):
    base, squeeze = runs["baseline"], runs["squeeze"]
    for v in base.model.preventive:
        assert _last(squeeze, f"funding_level.{v}") < _last(base, f"funding_level.{v}"), v
    assert _last(squeeze, "spend.kind.preventive") < _last(base, "spend.kind.preventive")
    assert _last(squeeze, "spend.kind.reactive") > _last(base, "spend.kind.reactive")
    assert _escalations(squeeze) > _escalations(base)
    # the agencies that cut were under pressure
    assert max(squeeze[f"pressure.agency.{a}"][0].max() for a in base.model.agencies) > 1.0


def test_switching_the_cut_rule_off_shrinks_the_rise(runs):
    base, squeeze, no_cuts = runs["baseline"], runs["squeeze"], runs["squeeze_no_cuts"]
    for v in base.model.preventive:
        assert _last(no_cuts, f"funding_level.{v}") == pytest.approx(1.0)
    rise = _escalations(squeeze) - _escalations(base)
    rise_without_cuts = _escalations(no_cuts) - _escalations(base)
    assert 0 <= rise_without_cuts < rise
    assert (_last(no_cuts, "spend.kind.reactive") - _last(base, "spend.kind.reactive")
            < _last(squeeze, "spend.kind.reactive") - _last(base, "spend.kind.reactive"))


def test_pooled_prevention_ends_the_parliament_with_more_prevention_less_reaction(runs):
    pooled, squeeze = runs["pooled"], runs["squeeze"]
    assert _last(pooled, "spend.kind.preventive") > _last(squeeze, "spend.kind.preventive")
    assert _last(pooled, "spend.kind.reactive") < _last(squeeze, "spend.kind.reactive")
    # pooled services are ring-fenced from the siloed cuts once the pool opens
    scenario = load_scenario(SCENARIOS / "pooled_prevention.yaml").pool
    opened = pooled.months > scenario["start"] + 1
    for v, share in scenario["services"].items():
        if share > 0:
            level = pooled[f"funding_level.{v}"][0][opened]
            np.testing.assert_allclose(level, level[0], rtol=1e-12, err_msg=v)
            assert _last(pooled, f"funding_level.{v}") > _last(squeeze, f"funding_level.{v}"), v


def test_reinvestment_raises_the_pools_preventive_spend(runs):
    on, off = runs["pooled"], runs["pooled_no_reinvestment"]
    assert off["pool.reinvested"][0].sum() == 0.0
    assert on["pool.reinvested"][0].sum() > 0.0
    assert on["pool.spend"][0].sum() > off["pool.spend"][0].sum()
    assert _last(on, "spend.kind.preventive") > _last(off, "spend.kind.preventive")


def test_the_loops_show_in_the_timeseries(runs):
    pooled = runs["pooled"]
    columns = set(pooled.columns)
    for a in pooled.model.agencies:
        assert f"pressure.agency.{a}" in columns
    for v in pooled.model.preventive:
        assert f"prevention_funding.{v}" in columns
    for c in pooled.model.cohorts:
        assert f"escalations.{c}" in columns and f"crisis_person_months.{c}" in columns
    assert {"pool.balance", "pool.reinvested"} <= columns


EXTREMES = {
    "zero budget": {"agencies.council_asc.budget": 0.0, "agencies.nhs_acute.budget": 0.0},
    "zero effect": {"services.falls_prevention.effect": 0.0, "services.early_help.effect": 0.0},
    "capacity near zero": {"services.home_care.capacity": 1e-9},
    "huge inflow": {"cohorts.older_people.states.independent.inflow": 1e6},
}


@pytest.mark.parametrize("case", sorted(EXTREMES))
def test_extreme_conditions_stay_finite_and_non_negative(case):
    results = _run("pooled_prevention", **EXTREMES[case])
    for name, values in results.series.items():
        if name.startswith("pressure."):
            continue  # a zero budget gives infinite pressure by definition
        assert np.isfinite(values).all(), name
        if name.startswith(("population.", "waiting.", "prevention_funding.", "coverage.",
                            "activity.", "funding_level.")):
            assert (values >= -1e-9).all(), name


def test_unit_cost_efficiency_is_not_captured_as_a_saving():
    """Captured savings measure avoided *volume* at today's unit costs: an efficiency target
    that cuts the NHS's unit costs must not raise what the pool captures from it."""
    plain = _run("pooled_prevention", **{"loops.doom_loop": 0,
                                         "agencies.nhs_acute.efficiency_target": 0.0})
    squeezed = _run("pooled_prevention", **{"loops.doom_loop": 0,
                                            "agencies.nhs_acute.efficiency_target": 0.05})
    captured_plain = plain["capture.agency.nhs_acute"][0].sum()
    captured_squeezed = squeezed["capture.agency.nhs_acute"][0].sum()
    assert captured_plain > 0.0
    # the same avoided volume, priced at lower unit costs: no more than without efficiency
    assert captured_squeezed <= captured_plain * (1 + 1e-9)
