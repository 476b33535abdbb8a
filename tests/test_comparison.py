"""tpsim.analysis.comparison: same-place checks, one event list per batch, a batch equal to its
single runs, and a comparison whose figures equal its own runs' series."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import make_tiny_scenario_dict, tiny_scenario as tiny
from tpsim.analysis.comparison import (RunSpec, base_spec, check_comparable, compare_scenarios,
                                       merge_events, simulate_specs)
from tpsim.config.scenario import scenario_from_dict
from tpsim.errors import TpsimError
from tpsim.models.runner import run
from tpsim.models.structure import compile_scenario


def test_a_different_place_is_refused_naming_the_key():
    d = make_tiny_scenario_dict()
    other = copy.deepcopy(d)
    other["agencies"]["nhs"] = dict(d["agencies"]["council_asc"], type="nhs", label="NHS")
    with pytest.raises(TpsimError) as err:
        check_comparable(scenario_from_dict(other), scenario_from_dict(d))
    assert err.value.key == "agencies.nhs"
    check_comparable(tiny(), tiny())  # the same place passes


def test_merge_events_fills_missing_changes_with_the_value_in_force():
    model = compile_scenario(tiny())
    theta = model.theta0.copy()
    a = RunSpec("a", model, theta, [(6.0, 3, 10.0), (12.0, 3, 20.0)])
    b = RunSpec("b", model, theta, [(12.0, 4, 5.0)])
    months, columns, values = merge_events([a, b])
    assert months.tolist() == [6.0, 12.0, 12.0]
    assert columns.tolist() == [3, 3, 4]
    # run a keeps column 4 at its base value at month 12; run b keeps column 3 at its base
    np.testing.assert_array_equal(values[0], [10.0, 20.0, theta[4]])
    np.testing.assert_array_equal(values[1], [theta[3], theta[3], 5.0])


def test_a_batch_equals_its_single_runs():
    scenarios = [tiny(), tiny(services__falls_prevention__places=450.0),
                 tiny(agencies__council_asc__budget=150_000.0)]
    batch = simulate_specs([base_spec(compile_scenario(s)) for s in scenarios])
    assert batch.kernel_calls == 1
    for i, sc in enumerate(scenarios):
        alone = run(sc).series
        for name, values in batch.series(i).items():
            np.testing.assert_allclose(values, alone[name][0], rtol=1e-13, atol=1e-9,
                                       err_msg=name)


def test_comparison_flows_are_the_differences_of_its_own_runs():
    cf = tiny()
    sc = tiny(services__falls_prevention__places=450.0)
    comparison = compare_scenarios([sc], cf)
    case = comparison.cases[0]
    mine, theirs = case.results.series, comparison.counterfactual_results.series
    k, j = case.run, comparison.counterfactual_run
    np.testing.assert_allclose(case.flows.total_spend_change,
                               mine["spend.total"][k] - theirs["spend.total"][j], rtol=1e-12)
    for a_i, a in enumerate(case.flows.agencies):
        np.testing.assert_allclose(case.flows.spend_change[a_i],
                                   mine[f"spend.agency.{a}"][k] - theirs[f"spend.agency.{a}"][j],
                                   rtol=1e-12)
    # more falls places cost the council more in the first months, before any saving lands
    assert case.flows.total_spend_change[0] > 0
