"""Tests for the Bayesian calibration (tpsim.analysis.bayes, decision, learning) and the
``tpsim calibrate --method bayes`` and ``tpsim learn`` commands.

A linear-Gaussian problem, whose exact posterior is known in closed form, checks the sampler
and the likelihood; the tiny test scenario checks that more data narrow the posterior, that a
sequential update agrees with one fit on all the data, and the commands end to end (their
posterior feeding ``tpsim ensemble``). The value of information is checked on a two-option
decision worked by hand.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

pytest.importorskip("emcee")

from conftest import make_tiny_scenario_dict
from tpsim.analysis import bayes, decision, learning
from tpsim.analysis.calibration import FitParameter, Target, setup
from tpsim.cli import main
from tpsim.config.calibration import BayesSettings, config_from_dict
from tpsim.config.localdata import month_label, read_local_data
from tpsim.config.posterior import read_posterior_draws
from tpsim.config.scenario import load_scenario
from tpsim.models.runner import run

TRUTH = {"services.residential_care.utilisation.high_need": 0.34,   # tiny scenario: 0.3
         "cohorts.older_people.states.at_risk.escalation": 0.024}   # tiny scenario: 0.02
SERIES = ("activity.residential_care", "population.older_people.at_risk",
          "activity.falls_prevention")
FAST = {"walkers": 8, "steps": 80, "burn_in": 30, "chains": 2, "draws": 600,
        "rerun_steps": 40}


# -- a linear-Gaussian problem with a closed-form posterior ----------------------------------


class LinearProblem:
    """``y = A x + e``, ``e ~ N(0, se^2)`` with known ``se``: the duck type of a
    :class:`~tpsim.analysis.calibration.CalibrationProblem` the sampler needs, without a
    model (``simulated`` is ``x A^T``)."""

    def __init__(self, a: np.ndarray, y: np.ndarray, se: float, lower, upper) -> None:
        self.a = a
        self.parameters = tuple(FitParameter(f"p{j}", j, lo, hi, 0.5 * (lo + hi), 0.0)
                                for j, (lo, hi) in enumerate(zip(lower, upper)))
        factor = np.full(y.size, 1.0 / se)
        months = np.arange(1, y.size + 1)
        self.targets = (Target("y", months, tuple(map(str, months)), y, factor, 1.0, None),)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.width = self.upper - self.lower
        self.observed, self.factor = y, factor
        self.runs = self.kernel_calls = 0

    n_parameters = property(lambda self: len(self.parameters))
    names = property(lambda self: [q.path for q in self.parameters])

    def simulated(self, x):
        x = np.atleast_2d(x)
        self.runs += x.shape[0]
        self.kernel_calls += 1
        return x @ self.a.T


def exact_posterior(a, y, se, m0, s0):
    """Mean and covariance of ``x | y`` for the prior ``N(m0, diag(s0^2))``."""
    precision = np.diag(1.0 / s0 ** 2) + a.T @ a / se ** 2
    cov = np.linalg.inv(precision)
    return cov @ (m0 / s0 ** 2 + a.T @ y / se ** 2), cov


def test_linear_gaussian_posterior_matches_the_closed_form():
    rng = np.random.default_rng(3)
    n, se = 30, 0.5
    t = np.linspace(0, 1, n)
    a = np.column_stack([np.ones(n), t])
    y = a @ np.array([1.0, 2.0]) + rng.normal(0, se, n)
    m0, s0 = np.array([0.0, 0.0]), np.array([2.0, 2.0])
    problem = LinearProblem(a, y, se, lower=[-20, -20], upper=[20, 20])
    priors = [bayes.Prior("normal", {"mean": m, "sd": s}, -20, 20) for m, s in zip(m0, s0)]
    settings = BayesSettings(walkers=16, steps=1500, burn_in=300, chains=2, init="prior",
                             draws=20000)
    post = bayes.sample_posterior(problem, settings, priors=priors)
    mean, cov = exact_posterior(a, y, se, m0, s0)
    sd = np.sqrt(np.diag(cov))
    ess = post.diagnostics["ess"]
    # Monte Carlo error of a posterior mean is sd / sqrt(ESS): allow 4 of them
    np.testing.assert_array_less(np.abs(post.mean() - mean), 4 * sd / np.sqrt(ess))
    np.testing.assert_allclose(post.sd(), sd, rtol=0.08)
    r = np.corrcoef(post.draws.T)[0, 1]
    assert r == pytest.approx(cov[0, 1] / (sd[0] * sd[1]), abs=0.05)
    assert post.diagnostics["rhat_max"] < 1.02
    assert 0.2 < post.diagnostics["acceptance_fraction"] < 0.9


def test_reweighting_with_new_data_matches_the_closed_form():
    """The importance re-weighting of :func:`bayes.reweight` (the first step of ``learn``)
    gives the exact posterior of all the data."""
    rng = np.random.default_rng(5)
    n, se = 40, 0.5
    a = np.column_stack([np.ones(n), np.linspace(0, 1, n)])
    y = a @ np.array([1.0, 2.0]) + rng.normal(0, se, n)
    m0, s0 = np.zeros(2), np.array([2.0, 2.0])
    priors = [bayes.Prior("normal", {"mean": 0.0, "sd": 2.0}, -20, 20) for _ in range(2)]
    old = LinearProblem(a[:20], y[:20], se, [-20, -20], [20, 20])
    new = LinearProblem(a, y, se, [-20, -20], [20, 20])
    # exact draws of the old posterior, re-weighted to the new one
    mean_old, cov_old = exact_posterior(a[:20], y[:20], se, m0, s0)
    draws = rng.multivariate_normal(mean_old, cov_old, 40000)
    post = bayes.Posterior(["p0", "p1"], draws, np.zeros(len(draws)))
    w = bayes.reweight(post, old, new, priors)
    mean, cov = exact_posterior(a, y, se, m0, s0)
    ess = bayes.effective_sample_size(w.weights)
    np.testing.assert_array_less(np.abs(w.mean() - mean), 4 * np.sqrt(np.diag(cov) / ess))
    np.testing.assert_allclose(w.sd(), np.sqrt(np.diag(cov)), rtol=0.05)


# -- value of information on a decision worked by hand --------------------------------------


def test_value_of_information_equals_the_hand_calculation():
    """m = a + b with a in {-2, +2} and b in {-1, +1}, all four equally likely.

    E[m] = 0, so the best choice now is worth 0; E[max(m, 0)] = (3 + 1 + 0 + 0) / 4 = 1, so
    EVPI = 1. Knowing a: E[m | a] = a, E[max(a, 0)] = 1, EVPPI_a = 1. Knowing b:
    E[m | b] = b, E[max(b, 0)] = 0.5, EVPPI_b = 0.5."""
    a = np.repeat([-2.0, 2.0], 200)
    b = np.tile(np.repeat([-1.0, 1.0], 100), 2)
    d = decision.DecisionDraws("option", "counterfactual", "npv", a + b,
                               np.zeros(400, dtype=int), {"a": a, "b": b})
    voi = decision.value_of_information(d)
    assert voi["expected_metric"] == pytest.approx(0.0)
    assert voi["evpi"] == pytest.approx(1.0)
    assert voi["evppi"]["a"] == pytest.approx(1.0)
    assert voi["evppi"]["b"] == pytest.approx(0.5)
    assert voi["probability_positive"] == pytest.approx(0.5)
    assert list(voi["evppi"]) == ["a", "b"]          # largest first
    # a sure decision has no value of information
    assert decision.evpi(np.array([1.0, 2.0, 3.0])) == 0.0


# -- the tiny scenario ----------------------------------------------------------------------


def write_case(directory: Path, months: int = 12, noise: float = 0.02, seed: int = 1,
               decide: bool = False, extra: dict | None = None,
               place_cost: float | None = None) -> Path:
    """The tiny scenario (falls prevention at ``place_cost`` £ per place-month, default its
    own), a counterfactual without falls prevention, synthetic data from TRUTH (relative
    normal noise) for ``months`` months and a config; returns the config."""
    directory.mkdir(parents=True, exist_ok=True)
    d = make_tiny_scenario_dict()
    if place_cost is not None:
        d["services"]["falls_prevention"]["unit_cost"] = place_cost
    (directory / "tiny.yaml").write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    d0 = make_tiny_scenario_dict()
    d0["name"] = "tiny_without"
    d0["services"]["falls_prevention"]["places"] = 0.0
    (directory / "without.yaml").write_text(yaml.safe_dump(d0, sort_keys=False),
                                            encoding="utf-8")
    results = run(load_scenario(directory / "tiny.yaml"), overrides=TRUTH)
    rng = np.random.default_rng(seed)
    lines = ["month,series,value"]
    for name in SERIES:
        for m in range(1, 25):
            value = float(results[name][0, m - 1]) * (1 + noise * rng.standard_normal())
            lines.append(f"{month_label('2026-04', m)},{name},{value!r}")
    header, rows = lines[0], lines[1:]
    by_month = [r for r in rows if int(r[5:7]) + 12 * (int(r[:4]) - 2026) - 3 <= months]
    later = [r for r in rows if r not in by_month]
    (directory / "data.csv").write_text("\n".join([header] + by_month) + "\n", encoding="utf-8")
    (directory / "later.csv").write_text("\n".join([header] + later) + "\n", encoding="utf-8")
    raw = {"scenario": "tiny.yaml", "data": "data.csv",
           "parameters": {"services.residential_care.utilisation.high_need": {
                              "lower": 0.1, "upper": 0.6,
                              "prior": {"dist": "normal", "mean": 0.3, "sd": 0.1}},
                          "cohorts.older_people.states.at_risk.escalation": [0.01, 0.04]},
           "series": {s: 1 for s in SERIES},
           "fit": {"bayes": dict(FAST)}}
    if decide:
        # judged on the fiscal NPV: the close call below is a close call of the cash case
        raw["decision"] = {"option": "tiny.yaml", "against": "without.yaml",
                           "metric": "fiscal_npv"}
    raw.update(extra or {})
    path = directory / "fit.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def tiny_fit(tmp_path: Path, months: int):
    from tpsim.config.calibration import load_config

    cfg = load_config(write_case(tmp_path / f"m{months}", months=months))
    return learning.bayes_fit(cfg, setup(cfg), with_decision=False, predictive_draws=50)


def test_more_data_narrow_the_posterior(tmp_path):
    short = tiny_fit(tmp_path, 6)
    long = tiny_fit(tmp_path, 24)
    for name in TRUTH:
        assert long.summary[name]["sd"] < 0.8 * short.summary[name]["sd"], name
        lo, hi = long.summary[name]["interval_95"]
        assert lo - 0.2 * (hi - lo) < TRUTH[name] < hi + 0.2 * (hi - lo), name


def test_sequential_update_agrees_with_one_fit_on_all_the_data(tmp_path):
    from tpsim.config.calibration import load_config

    cfg = load_config(write_case(tmp_path, months=12))
    prepared = setup(cfg)
    first = learning.bayes_fit(cfg, prepared, with_decision=False, predictive_draws=50)
    later = read_local_data(tmp_path / "later.csv", "2026-04", 24,
                            [s for s in SERIES] + ["spend.total"])
    step = learning.learn(cfg, prepared, first.posterior, later, with_decision=False)
    full_cfg = dataclasses.replace(cfg, data_path=tmp_path / "all.csv")
    both = (tmp_path / "data.csv").read_text() + "\n".join(
        (tmp_path / "later.csv").read_text().splitlines()[1:]) + "\n"
    (tmp_path / "all.csv").write_text(both, encoding="utf-8")
    once = learning.bayes_fit(full_cfg, setup(full_cfg), with_decision=False,
                              predictive_draws=50)
    assert step.after.problem.n_observations == once.problem.n_observations
    for name in TRUTH:
        a, b = step.after.summary[name], once.summary[name]
        assert a["mean"] == pytest.approx(b["mean"], abs=0.5 * b["sd"]), name
        assert a["sd"] == pytest.approx(b["sd"], rel=0.35), name
        assert step.moves[name]["interval_90_width_ratio"] < 1.0


# -- the commands --------------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_calibrate_bayes_then_ensemble_with_the_posterior_then_learn(tmp_path):
    config = write_case(tmp_path, months=12, decide=True)
    out = tmp_path / "out"
    res = invoke("calibrate", config, "--method", "bayes", "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    assert "R-hat" in res.output and "expected value of perfect information" in res.output
    report = json.loads((out / "fit_report.json").read_text())
    assert report["method"] == "bayes"
    assert set(report["parameters"]) == set(TRUTH)
    for key in ("rhat_max", "acceptance_fraction", "autocorrelation_time", "ess"):
        assert key in report["diagnostics"]
    voi = report["decision"]["value_of_information"]
    assert 0.0 <= voi["evpi"] and all(0.0 <= v <= voi["evpi"] for v in voi["evppi"].values())
    for chart in ("marginals.png", "pairs.png", "predictive_activity.residential_care.png"):
        assert (out / "charts" / chart).stat().st_size > 1000
    draws = read_posterior_draws(out / "posterior.csv")
    assert draws.names == tuple(TRUTH) and draws.n == FAST["draws"]

    # calibrated.yaml sets the posterior means and draws posterior.csv through its
    # uncertainty section, so it feeds an ensemble and the report as written
    learnt = out / "calibrated.yaml"
    calibrated = load_scenario(learnt)
    means = np.average(draws.draws, axis=0, weights=draws.weights)
    for j, name in enumerate(draws.names):
        assert calibrated.get(name) == pytest.approx(means[j], rel=1e-12), name
    assert list(calibrated.uncertainty["posterior"]["paths"]) == list(TRUTH)
    ens = tmp_path / "ens"
    res = invoke("ensemble", learnt, "--against", tmp_path / "without.yaml", "--runs", 64,
                 "--out", ens, "--no-charts")
    assert res.exit_code == 0, res.output
    assert "posterior" in (ens / "ensemble.json").read_text()
    # and the report's uncertainty section
    res = invoke("report", learnt, "--against", tmp_path / "without.yaml", "--uncertainty", 64,
                 "--out", tmp_path / "report")
    assert res.exit_code == 0, res.output
    assert "uncertain assumptions" in (tmp_path / "report" / "report.html").read_text()

    # and learn updates them with the later months
    res = invoke("learn", config, "--posterior", out / "posterior.csv", "--data",
                 tmp_path / "later.csv", "--out", tmp_path / "learn", "--quiet")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "learn" / "learning.json").read_text())
    assert doc["update"]["months_after"] == 24
    relearnt = load_scenario(tmp_path / "learn" / "calibrated.yaml")
    updated = read_posterior_draws(tmp_path / "learn" / "posterior.csv")
    means = np.average(updated.draws, axis=0, weights=updated.weights)
    assert [relearnt.get(n) for n in updated.names] == pytest.approx(list(means), rel=1e-12)
    page = (tmp_path / "learn" / "learnt.md").read_text()
    assert "How each effect moved" in page and "P(fiscal NPV > 0)" in page
    so_far = read_local_data(tmp_path / "learn" / "data_so_far.csv", "2026-04", 24,
                             list(SERIES))
    assert len(so_far.series["activity.residential_care"]) == 24
    assert (tmp_path / "learn" / "charts" / "learnt.png").is_file()


@pytest.mark.parametrize("case, expect", [
    ({"fit": {"bayes": {"walkers": 2}}}, "fit.bayes.walkers"),
    ({"fit": {"bayes": {"burn_in": 500}}}, "fit.bayes.burn_in"),
    ({"parameters": {"services.residential_care.utilisation.high_need": {
        "lower": 0.1, "upper": 0.6, "prior": {"dist": "gamma"}}}},
     "parameters.services.residential_care.utilisation.high_need.prior.dist"),
    ({"decision": {"option": "missing.yaml", "against": "without.yaml"}}, "decision.option"),
])
def test_calibrate_bayes_bad_config_exits_2_naming_file_and_key(tmp_path, case, expect):
    config = write_case(tmp_path, extra=case)
    res = CliRunner().invoke(main, ["calibrate", str(config), "--method", "bayes", "--out",
                                    str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "fit.yaml" in res.output and expect in res.output
    assert not (tmp_path / "out").exists()


def test_calibrated_yaml_leaves_out_the_posterior_when_the_scenario_draws_a_fitted_path(
        tmp_path):
    # A scenario cannot draw one path twice: the calibrated file keeps the original's section.
    config = write_case(tmp_path)
    scenario = yaml.safe_load((tmp_path / "tiny.yaml").read_text())
    scenario["uncertainty"] = {"parameters": {
        "cohorts.older_people.states.at_risk.escalation": {
            "dist": "uniform", "low": 0.015, "high": 0.03}}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    res = invoke("calibrate", config, "--method", "bayes", "--out", tmp_path / "out", "--quiet")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "out" / "calibrated.yaml").read_text()
    assert "already draws a fitted parameter" in text and "posterior:" not in text
    calibrated = load_scenario(tmp_path / "out" / "calibrated.yaml")
    assert "posterior" not in calibrated.uncertainty
    assert set(calibrated.uncertainty["parameters"]) == {
        "cohorts.older_people.states.at_risk.escalation"}


def test_calibrate_bayes_refuses_least_squares_starts(tmp_path):
    config = write_case(tmp_path)
    res = CliRunner().invoke(main, ["calibrate", str(config), "--method", "bayes", "--starts",
                                    "3", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "fit.bayes" in res.output
    assert not (tmp_path / "out").exists()


def test_learn_bad_inputs_exit_2(tmp_path):
    config = write_case(tmp_path)
    post = tmp_path / "posterior.csv"
    post.write_text("services.residential_care.utilisation.high_need,log_posterior\n0.2,-1\n")
    # the saved draws do not have the config's parameters
    res = CliRunner().invoke(main, ["learn", str(config), "--posterior", str(post), "--data",
                                    str(tmp_path / "later.csv"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "fit.yaml" in res.output and "parameters" in res.output
    # a broken posterior file
    post.write_text("services.residential_care.utilisation.high_need,log_posterior\n0.2,oops\n")
    res = CliRunner().invoke(main, ["learn", str(config), "--posterior", str(post), "--data",
                                    str(tmp_path / "later.csv"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "posterior.csv:2:" in res.output
    # new months that repeat the data so far
    res = CliRunner().invoke(main, ["learn", str(config), "--posterior", str(post), "--data",
                                    str(tmp_path / "data.csv"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert not (tmp_path / "o").exists()


# -- the Python API ------------------------------------------------------------------------


def test_python_api_calibrate_bayes_and_learn(tmp_path):
    import tpsim
    from tpsim.errors import TpsimError

    config = write_case(tmp_path, months=12)
    with pytest.raises(TpsimError, match="fit.bayes.stepz"):
        tpsim.calibrate(config, method="bayes", sampler={"stepz": 10})
    with pytest.raises(TpsimError, match="method"):
        tpsim.calibrate(config, method="mcmc")
    post = tpsim.calibrate(config, method="bayes", seed=np.random.SeedSequence(4))
    frame = post.to_dataframe()
    assert list(frame.columns) == list(TRUTH) + ["weight"]
    assert frame["weight"].sum() == pytest.approx(1.0)
    ds = post.to_xarray()
    assert ds["value"].dims == ("draw", "parameter")
    assert post.mean == {k: pytest.approx(v) for k, v in frame[list(TRUTH)].mean().items()}
    written = read_posterior_draws(post.write_draws(tmp_path / "p.csv"))
    np.testing.assert_array_equal(written.draws, frame[list(TRUTH)].to_numpy())
    assert post.scenario().name == "tiny"
    step = tpsim.learn(config, tmp_path / "p.csv", data=tmp_path / "later.csv")
    assert step.after.fit.problem.n_observations == 2 * step.before.fit.problem.n_observations
    assert set(step.moves) == set(TRUTH)


# -- calibration of the intervals (issue 19, "done when") -----------------------------------


def test_90_percent_intervals_cover_the_truth_and_agree_with_least_squares(tmp_path):
    """On 20 seeded synthetic data sets, the posterior 90% intervals (uniform priors) cover
    the true values in at least 80% of the data sets, per parameter; and where the posterior
    is near normal its sd agrees with the least-squares standard error."""
    from tpsim.analysis.calibration import fit
    from tpsim.config.calibration import FitSettings, load_config

    uniform = {"parameters": {"services.residential_care.utilisation.high_need": [0.1, 0.6],
                              "cohorts.older_people.states.at_risk.escalation": [0.01, 0.04]},
               "fit": {"bayes": {**FAST, "steps": 100, "draws": 800}}}
    covered = {name: 0 for name in TRUTH}
    ratios = []
    for seed in range(20):
        cfg = load_config(write_case(tmp_path / f"s{seed}", months=12, seed=100 + seed,
                                     extra=uniform))
        prepared = setup(cfg)
        post = learning.bayes_fit(cfg, prepared, with_decision=False, predictive_draws=20)
        for name in TRUTH:
            lo, hi = post.summary[name]["interval_90"]
            covered[name] += lo <= TRUTH[name] <= hi
        if seed < 5:
            ls = fit(prepared.problem(), FitSettings(starts=1, candidates=8))
            se = np.asarray(ls.statistics["standard_error"], dtype=float)
            ratios += [post.summary[n]["sd"] / se[j] for j, n in enumerate(ls.problem.names)]
    assert all(c >= 16 for c in covered.values()), covered
    assert 0.75 < np.median(ratios) < 1.33, ratios


def test_evidence_prior_is_the_librarys_triangular_range(tmp_path):
    from scipy import stats

    from tpsim.config.calibration import load_config
    from tpsim.config.evidence import load_evidence

    extra = {"parameters": {"services.falls_prevention.effect": {"lower": 0.0, "upper": 0.2,
                                                                 "prior": "evidence"},
                            "cohorts.older_people.states.at_risk.escalation": [0.01, 0.04]}}
    cfg = load_config(write_case(tmp_path, extra=extra))
    prepared = setup(cfg)
    prior = learning.prior_set(cfg, prepared, prepared.problem())[0]
    r = load_evidence().services["falls_prevention"].model_effect
    assert (r["low"], r["value"], r["high"]) == (0.05, 0.15, 0.23)
    assert (prior.lower, prior.upper) == (0.05, 0.2)          # truncated to the bounds
    x = np.array([0.04, 0.1, 0.15, 0.19, 0.21])
    expected = stats.triang((0.15 - 0.05) / 0.18, loc=0.05, scale=0.18).logpdf(x[1:4])
    np.testing.assert_allclose(prior.logpdf(x)[1:4], expected)
    assert np.isneginf(prior.logpdf(x)[[0, 4]]).all()
    assert "evidence library" in prior.describe()


def test_evidence_prior_on_a_path_without_evidence_exits_2(tmp_path):
    extra = {"parameters": {"services.residential_care.utilisation.high_need": {
        "lower": 0.1, "upper": 0.6, "prior": "evidence"}}}
    config = write_case(tmp_path, extra=extra)
    res = CliRunner().invoke(main, ["calibrate", str(config), "--method", "bayes", "--out",
                                    str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "fit.yaml" in res.output
    assert "parameters.services.residential_care.utilisation.high_need.prior" in res.output


def test_months_until_decision_on_a_close_call(tmp_path):
    """At £50 a place-month the option's fiscal NPV at the true values is about +£400
    (+£61,500 at £40, +£12,600 at £48): after 12 months of data the decision is open, and
    simulated further months settle it in some futures. P(m > 0) now is the mean of the
    future P_T (a martingale), and a future that decides "go" has P_T >= 0.9, so the share
    deciding go is at most P_now / 0.9 (and stop at most (1 - P_now) / 0.9), up to Monte
    Carlo error."""
    from tpsim.config.calibration import load_config

    cfg = load_config(write_case(tmp_path, months=12, decide=True, place_cost=50.0))
    post = learning.bayes_fit(cfg, setup(cfg), predictive_draws=20)
    voi = post.decision["value_of_information"]
    until = post.decision["months_until_decision"]
    p_now = voi["probability_positive"]
    assert 0.1 < p_now < 0.9, voi
    assert voi["evpi"] > 0
    assert all(0 <= v <= voi["evpi"] for v in voi["evppi"].values())
    assert not until["already_decided"] and until["months_ahead"] == 12
    shares = [until["decided_by_month"][str(t)] for t in range(13)]
    assert shares[0] == 0.0 and all(b >= a for a, b in zip(shares, shares[1:]))
    assert shares[-1] > 0.2
    assert until["share_go"] + until["share_stop"] + until["share_undecided"] == \
        pytest.approx(1.0)
    assert until["share_go"] <= p_now / 0.9 + 0.1
    assert until["share_stop"] <= (1 - p_now) / 0.9 + 0.1


def test_short_names_are_unique_endings():
    from tpsim.present.charts_bayes import short_names

    paths = ["cohorts.older_people.states.crisis.escalation",
             "services.ae_older.utilisation.crisis",
             "services.emergency_admissions_older.utilisation.crisis", "a.b"]
    assert short_names(paths) == {
        paths[0]: "crisis.escalation", paths[1]: "ae_older.utilisation.crisis",
        paths[2]: "emergency_admissions_older.utilisation.crisis", "a.b": "a.b"}
