"""Ensembles: paired runs, exact agreement with tpsim.analysis.appraisal, chunk- and engine-independent
results, streamed percentiles within their stated error, the Dask engine and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import make_tiny_scenario_dict
from tpsim.analysis import ensemble as en
from tpsim.analysis.appraisal import Accounts, AppraisalSettings, appraise, monthly_flows
from tpsim.cli import main
from tpsim.models.results import build_results
from tpsim.config.scenario import scenario_from_dict
from tpsim.models.simulate import simulate
from tpsim.analysis.sampling import BLOCK

UNCERTAINTY = {
    "parameters": {
        "services.falls_prevention.effect": {"dist": "triangular", "low": 0.1, "mode": 0.2,
                                             "high": 0.35},
        "services.residential_care.unit_cost": {"dist": "normal", "mean": 1.0, "sd": 0.1,
                                                "low": 0.7, "relative": True},
        "services.falls_prevention.time_to_effect": {"dist": "choice", "values": [3, 6, 9]},
        "cohorts.older_people.states.at_risk.escalation": {"dist": "lognormal", "median": 0.02,
                                                           "sigma": 0.2, "high": 0.05},
    },
    "correlations": [{"between": ["services.falls_prevention.effect",
                                  "cohorts.older_people.states.at_risk.escalation"],
                      "rho": -0.4}],
}


def scenario_dicts() -> tuple[dict, dict]:
    sc = make_tiny_scenario_dict()
    sc["name"] = "more_prevention"
    sc["services"]["falls_prevention"]["places"] = 700.0
    sc["appraisal"] = {"optimism_bias": 0.2}
    sc["uncertainty"] = UNCERTAINTY
    cf = make_tiny_scenario_dict()
    cf["name"] = "as_now"
    return sc, cf


def make_job(runs: int, seed: int = 3, sampler: str = "lhs", **kw) -> en.EnsembleJob:
    sc, cf = scenario_dicts()
    return en.prepare([scenario_from_dict(sc)], scenario_from_dict(cf), runs=runs, seed=seed,
                      sampler=sampler, **kw)


def result_of(job: en.EnsembleJob, partial: en.Partial) -> tuple:
    s = en.summarise(job, partial)
    return s.quantiles, s.quantile_bounds, s.means, json.dumps(s.metrics, sort_keys=True)


def assert_same(a: tuple, b: tuple) -> None:
    for x, y in zip(a[:3], b[:3]):
        assert np.array_equal(x, y, equal_nan=True)
    assert a[3] == b[3]


@pytest.fixture(scope="module")
def job():
    j = make_job(BLOCK + 1500)
    j.edges = en.pilot_edges(j)
    return j


@pytest.fixture(scope="module")
def local_result(job):
    return result_of(job, en.run_local(job, chunk_runs=BLOCK))


# ---- series and appraisal ----------------------------------------------------------------------


def reference_metrics(job, traj):
    """The option's (scenario 1's) metrics against the counterfactual by the run-by-run
    reference, :func:`en.fiscal_metrics`."""
    return en.fiscal_metrics(en.named_series(job, 1, traj[1]), en.named_series(job, 0, traj[0]),
                             job.accounts[1], job.settings[1],
                             dict(zip(job.accounts[1].agencies, job.fiscal[1].share)))


def test_fused_appraisal_equals_the_appraisal_module(job):
    u = job.plan.unit("lhs", 3, 0, 40)
    traj = en.trajectories(job, u)
    data = en.reduce_trajectories(job, traj)
    reference = reference_metrics(job, traj)
    for j, metric in enumerate(en.METRICS):
        assert np.allclose(data.metrics[:, j], reference[metric], rtol=1e-12, atol=1e-6,
                           equal_nan=True)
    assert np.array_equal(data.payback[:, 0], reference["payback"])
    # and per run, tpsim.analysis.appraisal.appraise on full Results (what tpsim compare reports)
    settings = AppraisalSettings.from_appraisal(scenario_dicts()[0]["appraisal"] | {
        "discount_rate": 0.035, "health_discount_rate": 0.015, "qaly_value": 70000.0,
        "value_qalys": False})
    accounts = Accounts.from_model(job.models[1])
    for run in (0, 17, 39):
        series = []
        for k, model in enumerate(job.models):
            theta, ev = job.plan.parameters(k, model.theta0, model.ev_value0, u[run:run + 1])
            r = build_results(model, simulate(model, theta, ev, record=True))
            series.append({name: v[0] for name, v in r.series.items()})
        shares = dict(zip(accounts.agencies, job.fiscal[1].share))
        total = appraise(monthly_flows(series[1], series[0], accounts, shares), settings).total
        assert data.metrics[run, 0] == pytest.approx(total["npv_horizon"], rel=1e-12, abs=1e-6)
        assert data.metrics[run, 1] == pytest.approx(total["npv_parliament"], rel=1e-12, abs=1e-6)
        if total["bcr"] is None:
            assert np.isnan(data.metrics[run, 2])
        else:
            assert data.metrics[run, 2] == pytest.approx(total["bcr"], rel=1e-12)
        expected = en.NEVER if total["payback_month"] is None else total["payback_month"]
        assert data.payback[run, 0] == expected


def rich_dicts() -> tuple[dict, dict]:
    """The ensemble scenario with every part of the NPSV switched on: a transfer service (a
    benefit), people in work with their output valued, QALYs and a declared outcome value
    valued, and optimism bias on benefits (a delay and a haircut)."""
    sc, cf = scenario_dicts()
    for d in (sc, cf):
        d["time"]["horizon"] = 72  # beyond the 60-month Parliament
        d["services"]["attendance_allowance"] = {
            "label": "Attendance allowance", "agency": "council_asc", "cohort": "older_people",
            "kind": "reactive", "transfer": True, "unit_cost": 400.0,
            "utilisation": {"high_need": 1.0, "at_risk": 0.2}, "fixed_share": 0.0}
        d["cohorts"]["older_people"]["employment_value"] = 300.0
        d["cohorts"]["older_people"]["states"]["independent"]["employment"] = 0.3
        d["cohorts"]["older_people"]["states"]["at_risk"]["employment"] = 0.1
    sc["appraisal"] = {"optimism_bias": 0.2, "value_qalys": True, "benefit_delay_months": 2,
                       "benefit_haircut": 0.1, "employment_output_value": 2500.0,
                       "employment_output_source": "assumption: test value",
                       "outcome_values": {"escalations.older_people": {
                           "value": 800.0, "per": "avoided", "discount": "health",
                           "source": "assumption: test value"}}}
    return sc, cf


@pytest.fixture(scope="module")
def rich_job():
    sc, cf = rich_dicts()
    return en.prepare([scenario_from_dict(sc)], scenario_from_dict(cf), runs=BLOCK, seed=5,
                      sampler="lhs")


def test_fused_npsv_and_economic_npv_equal_the_appraisal_module(rich_job):
    """Per run, the fused kernel's NPSV, economic NPV, fiscal NPV (total and per agency and
    the pool) and payback equal tpsim.analysis.appraisal.appraise of the same run, with
    transfers, employment output, QALYs, a declared value and benefit delay all present."""
    job = rich_job
    assert job.accounts[1].transfers == {"council_asc": ("attendance_allowance",)}
    u = job.plan.unit("lhs", 5, 0, 24)
    assert job.settings[1].parliament_months < job.n_months
    traj = en.trajectories(job, u)
    data = en.reduce_trajectories(job, traj)
    reference = reference_metrics(job, traj)
    for j, metric in enumerate(en.METRICS):
        assert np.allclose(data.metrics[:, j], reference[metric], rtol=1e-10, atol=1e-4,
                           equal_nan=True), metric
    assert np.allclose(data.by_agency[0], reference["by_agency"], rtol=1e-10, atol=1e-4)
    assert np.array_equal(data.payback[:, 0], reference["payback"])
    # every part moved the social and economic cases away from the fiscal one
    npv, economic, npsv = (data.metrics[:, en.METRICS.index(m)] for m in ("npv", "economic_npv", "npsv"))
    assert np.all(np.abs(economic - npv) > 1.0) and np.all(np.abs(npsv - economic) > 1.0)
    # and the Parliament's figures are the first months only
    npsv_p = data.metrics[:, en.METRICS.index("npsv_parliament")]
    assert np.all(np.abs(npsv_p - npsv) > 1.0)
    # the fiscal rows add up to the total; run_outcomes hands the same arrays out by name
    assert np.allclose(data.by_agency[0].sum(axis=1), npv, rtol=1e-12, atol=1e-6)
    outcomes = en.run_outcomes(job, data)["more_prevention"]
    assert np.array_equal(outcomes["npsv"], npsv)
    assert np.array_equal(outcomes["fiscal_npv_by_agency"]["council_asc"], data.by_agency[0][:, 0])
    assert np.array_equal(outcomes["payback_month"], data.payback[:, 0])


def test_payback_months_match_the_definition():
    from tpsim.analysis.appraisal import payback_month
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(0.05, 1.0, (200, 30)), axis=1) * 1000.0
    x[0] = 5.0  # never negative
    x[1] = -5.0  # never pays back
    got = en.payback_months(x)
    for row, value in zip(x, got):
        expected = payback_month(row)
        assert value == (en.NEVER if expected is None else expected)


# ---- determinism and reductions ------------------------------------------------------------


def test_same_seed_same_result_whatever_the_chunk_size(job, local_result, monkeypatch):
    assert_same(local_result, result_of(job, en.run_local(job, chunk_runs=10 * BLOCK)))
    # and whatever the slices inside a block (a size that does not divide the block, so the
    # reused buffers also serve a smaller last slice)
    monkeypatch.setattr(en, "SLICE_PER_THREAD", 96)
    assert_same(local_result, result_of(job, en.run_local(job)))
    monkeypatch.undo()
    # and whatever the order partials are merged in
    a, b = en.run_chunk(job, 0, 1), en.run_chunk(job, 1, 2)
    assert_same(local_result, result_of(job, en.merge(b, a)))


def test_a_different_seed_gives_different_runs():
    a, b = make_job(300, seed=1), make_job(300, seed=2)
    assert not np.array_equal(en.simulate_runs(a, 0, 300).metrics,
                              en.simulate_runs(b, 0, 300).metrics)


def test_streamed_percentiles_are_within_their_stated_error(job, local_result):
    quantiles, bounds, means, _ = local_result
    data = en.simulate_runs(job, 0, job.n_runs)
    exact = np.moveaxis(np.percentile(data.tracked, en.PERCENTILES, axis=0), 0, -1)
    slack = 1e-9 * np.abs(exact) + 1e-9
    assert np.all(np.abs(quantiles - exact) <= bounds + slack)
    # the bound is at most half a bin width where the ranks fall in regular bins
    assert np.all(bounds <= 0.5 * job.edges.width[..., None] + slack)
    assert np.allclose(means, data.tracked.mean(axis=0), rtol=1e-12)
    summary = en.summarise(job, en.run_local(job))
    for j, label in enumerate(job.metric_labels):
        metric, name = label.split("|")
        stats = summary.metrics[name][metric]
        finite = data.metrics[:, j][np.isfinite(data.metrics[:, j])]
        exact = np.percentile(finite, en.PERCENTILES)
        got = np.array([stats["percentiles"][f"p{p:g}"] for p in en.PERCENTILES])
        assert np.all(np.abs(got - exact) <= stats["percentile_error_bound"] * (1 + 1e-9) + 1e-9)
        assert stats["mean"] == pytest.approx(finite.mean(), rel=1e-12)
    npv = data.metrics[:, job.metric_labels.index("npv|more_prevention")]
    result = summary.metrics["more_prevention"]
    assert result["probability_beats_counterfactual"] == np.mean(npv > 0)
    payback_never = np.mean(data.payback[:, 0] == en.NEVER)
    assert result["payback"]["probability_never"] == pytest.approx(payback_never)


def test_histogram_percentiles_on_known_values():
    rng = np.random.default_rng(4)
    values = rng.lognormal(size=(5000, 3))
    low, width = en._edges_for(values[:500], 200)  # a pilot that misses the tails
    hist = np.zeros((3, 202), np.int64)
    vmin, vmax = np.full(3, np.inf), np.full(3, -np.inf)
    moments = (np.zeros(3, np.int64), np.zeros(3), np.zeros(3))
    en._accumulate(values, low, 1.0 / width, 200, hist, vmin, vmax, np.zeros(3), *moments)
    assert moments[0].tolist() == [5000] * 3
    assert np.allclose(moments[1] / 5000, values.mean(axis=0), rtol=1e-12)
    est, bound = en.histogram_percentiles(hist, low, width, vmin, vmax, (0.1, 50, 99.9))
    exact = np.percentile(values, (0.1, 50, 99.9), axis=0).T
    assert np.all(np.abs(est - exact) <= bound * (1 + 1e-9) + 1e-12)
    assert np.all(bound[:, 1] <= width / 2 * (1 + 1e-9))


# ---- engines -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_engine_equals_the_local_engine(job, local_result, dask_client):
    seen = []
    partial = en.run_dask(job, chunk_runs=BLOCK, client=dask_client, progress=seen.append)
    assert sum(seen) == job.n_runs
    assert_same(local_result, result_of(job, partial))


# ---- command line --------------------------------------------------------------------------


def write_pair(tmp_path) -> tuple[str, str]:
    sc, cf = scenario_dicts()
    paths = []
    for d in (sc, cf):
        path = tmp_path / f"{d['name']}.yaml"
        path.write_text(yaml.safe_dump(d, sort_keys=False))
        paths.append(str(path))
    return paths[0], paths[1]


def test_cli_ensemble_end_to_end(tmp_path):
    sc, cf = write_pair(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["ensemble", sc, "--against", cf, "--runs", "600",
                                       "--seed", "5", "--sampler", "sobol", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "ensemble.json").read_text())
    assert document["settings"]["runs"] == 600
    assert set(document["results"]) == {"more_prevention"}
    r = document["results"]["more_prevention"]
    assert 0.0 <= r["probability_beats_counterfactual"] <= 1.0
    assert r["npv"]["percentiles"]["p5"] <= r["npv"]["percentiles"]["p95"]
    assert [f["factor"] for f in document["factors"]] == list(UNCERTAINTY["parameters"])
    header = (out / "quantiles.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["series", "scenario", "month", "mean"] and "error_bound" in header
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {"hist_npv.png", "hist_bcr.png", "hist_payback.png"} <= set(pngs)
    assert "fan_spend_total_more_prevention_vs_as_now.png" in pngs
    # a user error leaves nothing behind
    bad = CliRunner().invoke(main, ["ensemble", sc, "--against", cf, "--series", "spend.nothing",
                                    "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "unknown series" in bad.output
    assert not (tmp_path / "bad").exists()
