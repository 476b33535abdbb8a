"""The best mix of levers: differential evolution finds a hand-worked optimum, the batched
evaluation gives each candidate the figures tpsim compare gives that mix, the constraints
hold, and the robust table's expected value, 10th percentile and regret are what they say."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tpsim.analysis import optimise as op
from tpsim.cli import main
from tpsim.errors import TpsimError

ROOT = Path(__file__).parents[1]
POOLED = str(ROOT / "scenarios" / "pooled_prevention.yaml")
UNCERTAIN = str(ROOT / "scenarios" / "pooled_prevention_uncertain.yaml")
SQUEEZE = str(ROOT / "scenarios" / "siloed_squeeze.yaml")


class LinearMix:
    """Two levers a in [0, 4], b in [0, 10]; value 3a + 2b; budget a + 2b <= 10 (a costs £1,
    b £2). Per £, a returns 3 and b 1: spend on a up to its bound (4), the remaining £6 on b
    (3): the optimum is (4, 3), value 18, worked out by hand."""

    def __init__(self):
        self.today = np.array([1.0, 1.0])
        self.bounds = [(0.0, 4.0), (0.0, 10.0)]
        self.evaluations = 0
        self.calls = 0

    def score(self, x):
        x = np.atleast_2d(x)
        self.evaluations += x.shape[0]
        self.calls += 1
        value = 3 * x[:, 0] + 2 * x[:, 1]
        return value, self.violation(x, None) <= 0, None

    def violation(self, x, figures):
        return np.maximum(x[:, 0] + 2 * x[:, 1] - 10.0, 0.0) / 10.0


def test_differential_evolution_finds_the_hand_worked_optimum_in_batched_calls():
    problem = LinearMix()
    best = op.optimise(problem, seed=1, generations=200, popsize=15, tol=1e-8)
    assert best.feasible and best.improves
    assert best.x == pytest.approx([4.0, 3.0], abs=0.05)
    assert best.value == pytest.approx(18.0, abs=0.1)
    assert best.today_value == 5.0
    # whole populations per call: far fewer calls than candidates
    assert problem.calls < problem.evaluations / 10


def test_parse_lever_and_its_errors():
    assert op.parse_lever("services.a.places=0:200") == ("services.a.places", 0.0, 200.0)
    assert op.parse_lever("pool.services.a") == ("pool.services.a", None, None)
    for bad in ("services.a.places=5:1", "services.a.places=x:1", "services.a.places=1"):
        with pytest.raises(TpsimError) as err:
            op.parse_lever(bad)
        assert err.value.key == "levers"


def test_frontier_keeps_the_undominated_candidates():
    npv = np.array([5.0, 3.0, 6.0, 1.0, 6.0])
    payback = np.array([40, 20, -1, 10, 50])
    keep = op.frontier(npv, payback, horizon=60)
    assert keep.tolist() == [3, 1, 0, 4]  # month 10 (1), 20 (3), 40 (5), 50 (6); never (6) dominated


@pytest.fixture(scope="module")
def problem():
    import tpsim.api as api
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.runs import reserve_series, shared_councils

    sc = api._scenario(UNCERTAIN, None, None, 60)
    cf = api._scenario(SQUEEZE, None, None, 60)
    councils = shared_councils([sc], cf)
    job = en.prepare([sc], cf, runs=6, seed=2, series=reserve_series(councils))
    levers = op.make_levers(sc, job.models[1], [("services.falls_prevention.places", 0, 2400),
                                                 ("services.early_help.places", 0, 2400)])
    return sc, cf, op.MixProblem(job, levers, op.central_and_futures(job, 6), "npv", None, 0.0,
                                 councils, False, scenario_data=sc.data)


def test_each_candidate_gets_the_figures_tpsim_compare_gives_its_mix(problem):
    import tpsim

    sc, cf, p = problem
    mixes = np.array([[600.0, 600.0], [1500.0, 100.0], [0.0, 2000.0]])
    figures = p.evaluate(mixes)
    for i, (falls, early) in enumerate(mixes):
        mix = sc.replace(overrides={"services.falls_prevention.places": falls,
                                    "services.early_help.places": early})
        option = tpsim.compare(mix, cf)[sc.name]
        assert figures["npv"][i, 0] == pytest.approx(option.fiscal_npv, rel=1e-9)
        assert figures["npv_parliament"][i, 0] == pytest.approx(option.npv_parliament, rel=1e-9)
        assert (figures["payback"][i, 0] if figures["payback"][i, 0] >= 0 else None) == \
            option.payback_month
    # the futures differ from the central case and are common to every candidate
    assert np.ptp(figures["npv"][0]) > 0


def test_npsv_objective_is_the_appraisal_headline(problem):
    import dataclasses

    import tpsim

    sc, cf, p = problem
    q = dataclasses.replace(p, objective="npsv", history=[])
    mixes = np.array([[600.0, 600.0], [1200.0, 300.0]])
    figures = q.evaluate(mixes)
    value, _, _ = q.score(mixes)
    for i, (falls, early) in enumerate(mixes):
        mix = sc.replace(overrides={"services.falls_prevention.places": falls,
                                    "services.early_help.places": early})
        option = tpsim.compare(mix, cf)[sc.name]
        # the central case (column 0) is tpsim compare's appraisal of the mix
        assert figures["npsv"][i, 0] == pytest.approx(option.npsv, rel=1e-9)
        assert figures["npsv_parliament"][i, 0] == pytest.approx(option.npsv_parliament, rel=1e-9)
        assert figures["economic_npv_parliament"][i, 0] == pytest.approx(
            option.total["economic_npv_parliament"], rel=1e-9)
        # the objective is its mean over the central case and the futures
        assert value[i] == pytest.approx(figures["npsv"][i].mean(), rel=1e-12)


def test_budget_constraint_is_today_cost_by_default(problem):
    _, _, p = problem
    assert p.budget == pytest.approx(600 * 50.0 + 600 * 300.0)
    over = np.array([[2400.0, 600.0]])
    assert p.violation(over, p.evaluate(over)) > 0
    assert p.violation(p.today[None, :], p.evaluate(p.today[None, :]))[0] == 0


def test_optimum_of_the_real_model_beats_a_grid_on_the_budget_line(problem):
    """One degree of freedom on the budget line (falls places f, early help (B - 50 f) / 300):
    the search must do at least as well as the best of a fine grid of that line."""
    import dataclasses

    _, _, p = problem
    q = dataclasses.replace(p, history=[], evaluations=0)
    best = op.optimise(q, seed=0, generations=40, popsize=10)
    f = np.linspace(0, 2400, 97)
    e = np.clip((q.budget - 50.0 * f) / 300.0, 0, 2400)
    grid = np.column_stack([f, e])
    values, feasible, _ = q.score(grid)
    assert best.feasible
    assert best.value >= values[feasible].max() - 1e-4 * abs(values[feasible].max())
    assert best.value >= best.today_value


def test_robust_table_expected_p10_and_regret(problem):
    _, _, p = problem
    candidates = {"today": p.today, "falls": np.array([2400.0, 200.0]),
                  "none": np.array([0.0, 0.0])}
    table = op.robust_table(p, candidates, "npv")
    values = p.evaluate(np.array(list(candidates.values())))["npv"][:, 1:]
    for i, name in enumerate(candidates):
        row = table[name]
        assert row["expected"] == pytest.approx(values[i].mean())
        assert row["p10"] == pytest.approx(np.percentile(values[i], 10))
        assert row["regret"] == pytest.approx((values.max(axis=0) - values[i]).max())
    assert min(row["regret"] for row in table.values()) >= 0
    best_expected = max((n for n in table if table[n]["feasible"]), key=lambda n: table[n]["expected"])
    assert op.pick(table, "expected") == best_expected
    with pytest.raises(TpsimError):
        op.pick(table, "luck")


def test_optimise_command_reports_best_beside_today(tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(main, [
        "optimise", UNCERTAIN, "--against", SQUEEZE, "--horizon", "60",
        "--lever", "services.falls_prevention.places=0:2400,services.early_help.places=0:2400",
        "--objective", "npv", "--futures", "4", "--generations", "5", "--popsize", "4",
        "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "optimisation.json").read_text())
    assert [lv["path"] for lv in doc["levers"]] == ["services.falls_prevention.places",
                                                    "services.early_help.places"]
    assert doc["objective"]["best"] >= doc["objective"]["today"]
    assert doc["today"]["npsv"] is not None and doc["best"]["fiscal_npv"] is not None
    assert doc["robust"]["pick"] in doc["robust"]["candidates"]
    assert (out / "frontier.png").stat().st_size > 1000
    assert "today's mix" in result.output


def test_optimise_refuses_a_lever_that_is_not_places_or_a_share(tmp_path):
    result = CliRunner().invoke(main, ["optimise", POOLED, "--against", SQUEEZE,
                                       "--lever", "services.falls_prevention.effect",
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--lever" in result.output


def test_a_mix_that_brings_a_section_114_forward_is_infeasible():
    import tpsim.api as api
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.runs import reserve_series, shared_councils

    sc, cf = api._scenario(POOLED, None, None, None), api._scenario(SQUEEZE, None, None, None)
    councils = shared_councils([sc], cf)
    job = en.prepare([sc], cf, runs=1, seed=0, series=reserve_series(councils))
    levers = op.make_levers(sc, job.models[1], [("services.falls_prevention.places", 0, 2400),
                                                 ("services.early_help.places", 0, 2400)])
    x = np.array([[600.0, 600.0], [2400.0, 2400.0], [0.0, 0.0]])
    strict = op.MixProblem(job, levers, op.central_and_futures(job, 0), "npv", 1e9, 0.0,
                           councils, False)
    figures = strict.evaluate(x)
    # the section 114 month is the first month a council's reserves are below zero
    cmp = api.compare(sc.replace(overrides={"services.falls_prevention.places": 2400.0,
                                            "services.early_help.places": 2400.0}), cf)
    s114 = cmp[sc.name].section_114
    # a council that never issues one (the housing pocket) is None in compare, inf in the figures
    assert [np.inf if s114[c]["month"] is None else s114[c]["month"] for c in councils] == \
        figures["section_114"][1].tolist()
    assert (figures["section_114"][1] < strict.today_section_114).any()
    assert strict.violation(x, figures).tolist()[0] == 0 and strict.violation(x, figures)[1] > 0
    assert strict.violation(x, figures)[2] == 0  # later (or no) section 114 is fine
    loose = op.MixProblem(job, levers, op.central_and_futures(job, 0), "npv", 1e9, 0.0,
                          councils, True)
    assert (loose.violation(x, figures) == 0).all()
