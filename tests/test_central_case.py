"""One deterministic central case (issue 15 item 7): the comparison's headline run, the
tornado's centre and the ensemble's ``deterministic`` figure are the same run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.analysis import ensemble as en
from tpsim.analysis.comparison import compare_scenarios
from tpsim.analysis.sampling import CENTRAL
from tpsim.analysis.sensitivity import comparison_uncertainty
from tpsim.config.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module")
def shipped():
    sc = load_scenario(SCENARIOS / "pooled_prevention_uncertain.yaml").replace(horizon=48)
    cf = load_scenario(SCENARIOS / "siloed_squeeze.yaml").replace(horizon=48)
    comparison = compare_scenarios([sc], cf, switching=False)
    return sc, cf, comparison.cases[0].appraisal.headline()


def test_a_central_factor_keeps_the_scenarios_own_value(shipped):
    sc, cf, _ = shipped
    job = en.prepare([sc], cf, runs=1, seed=0, series=("spend.total",))
    assert job.plan.d > 0
    for k, model in enumerate(job.models):
        theta, ev = job.plan.parameters(k, model.theta0, model.ev_value0,
                                        np.full((2, job.plan.d), CENTRAL))
        np.testing.assert_array_equal(theta, np.tile(model.theta0, (2, 1)))
        np.testing.assert_array_equal(ev, np.tile(model.ev_value0, (2, 1)))
    # a median draw is not the scenario's value for every factor (skewed distributions)
    theta, _ = job.plan.parameters(1, job.models[1].theta0, job.models[1].ev_value0,
                                   np.full((1, job.plan.d), 0.5))
    assert not np.array_equal(theta[0], job.models[1].theta0)


def test_tornado_centre_and_ensemble_deterministic_equal_the_headline(shipped):
    sc, cf, head = shipped
    result = comparison_uncertainty([sc], cf, runs=64, seed=3)
    _, oat = result.tornados[sc.name]
    assert oat["base"]["npv"] == pytest.approx(head["fiscal_npv"], rel=1e-9)
    m = result.summary.metrics[sc.name]["npv"]
    assert m["deterministic"] == pytest.approx(head["fiscal_npv"], rel=1e-9)
    assert m["deterministic"] != pytest.approx(m["mean"], rel=1e-6)  # the ensemble's differs
    payback = result.summary.metrics[sc.name]["payback"]["deterministic_month"]
    assert payback == head["payback_month"]
