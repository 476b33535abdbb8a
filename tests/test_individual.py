"""Tests of the individual-level (simpy) model, the cross-check and ``tpsim des``.

Small samples and few replications keep these fast; the performance goal is checked by
``benchmarks/bench_individual.py``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import make_tiny_scenario_dict, tiny_scenario as _tiny
from tpsim.models import runner
from tpsim.cli import main
from tpsim.analysis.crosscheck import (
    COUNT_PREFIXES, check_individual, crosscheck, reference_run, standardised_differences,
    threshold,
)
from tpsim.models.individual import (
    build_plan, place_series, run_individual, run_replications, simulate_replication,
)
from tpsim.config.scenario import load_scenario, scenario_from_dict

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml"


def _check(results, aggregate, scenario=None):
    """The cross-check report as ``tpsim des`` makes it."""
    reference = reference_run(scenario) if scenario is not None else None
    return check_individual(results, aggregate, reference=reference)


# ---- agreement with the aggregate model (unlimited capacity) -----------------------------------


def test_tiny_replication_mean_agrees_with_aggregate():
    scenario = _tiny()
    aggregate = runner.run(scenario)
    results = run_individual(aggregate.model, aggregate, people=10_000, replications=12, seed=4,
                             workers=1)
    report = _check(results, aggregate, scenario)
    assert report["pass"], report["failed"]
    assert report["series_tested"] >= 15
    # the mean population is close in absolute terms too
    total_des = sum(results.mean(f"population.older_people.{s}")[-1]
                    for s in ("independent", "at_risk", "high_need"))
    total_agg = sum(aggregate[f"population.older_people.{s}"][0][-1]
                    for s in ("independent", "at_risk", "high_need"))
    assert abs(total_des / total_agg - 1) < 0.005


@pytest.mark.skipif(not BASELINE.exists(), reason="scenarios/baseline.yaml not written yet")
def test_baseline_unlimited_capacity_agrees_with_aggregate():
    scenario = load_scenario(BASELINE)
    # the individual model counts every exit as one flow (no death or transition split yet)
    no_split = {f"cohorts.{c}.states.{s}.{k}": 0.0 for c, co in scenario.cohorts.items()
                for s in co["states"] for k in ("death_share", "transition_share")}
    scenario = scenario.replace(horizon=24, capacity_limits=False, overrides=no_split)
    assert all(sv.get("capacity") is None for sv in scenario.services.values()
               if sv["kind"] == "reactive")
    aggregate = runner.run(scenario)
    results = run_individual(aggregate.model, aggregate, people=6_000, replications=10, seed=2,
                             workers=1)
    assert results.spend.queued_names == []
    report = _check(results, aggregate, scenario)
    assert report["pass"], [(n, report["series"][n]["max_abs_z"]) for n in report["failed"]]
    assert report["series_tested"] > 50


def test_crosscheck_detects_wrong_dynamics():
    """The check has power: 15% faster escalation in the DES is caught."""
    aggregate = runner.run(_tiny())
    plan, spend = build_plan(aggregate.model, aggregate, people=10_000)
    plan.escalation = plan.escalation * 1.15
    outputs, _, _ = run_replications(plan, 12, seed=4, workers=1)
    series = place_series(plan, spend, outputs)
    agg = {n: aggregate[n][0] for n in series if n in aggregate.series}
    units = {n: plan.weight for n in series if n.startswith(COUNT_PREFIXES)}
    report = crosscheck(series, agg, count_units=units)
    assert report["pass"] is False
    assert "population.older_people.high_need" in report["failed"]


def test_endogenous_coverage_runs_and_agrees():
    scenario = _tiny()
    aggregate = runner.run(scenario)
    results = run_individual(aggregate.model, aggregate, people=5_000, replications=8, seed=9,
                             workers=1, coverage="endogenous")
    cov_des = results.mean("coverage.falls_prevention")
    cov_agg = aggregate["coverage.falls_prevention"][0]
    assert np.max(np.abs(cov_des - cov_agg)) < 0.02
    report = _check(results, aggregate, scenario)
    assert report["pass"] and report["series"]["coverage.falls_prevention"]["role"] == "tested"


# ---- queues: M/M/c ----------------------------------------------------------------------------


def _erlang_c(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float]:
    """Probability of waiting and mean wait in queue of an M/M/c queue (Erlang C)."""
    a = arrival_rate / service_rate
    top = a ** servers / math.factorial(servers) * servers / (servers - a)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(servers)) + top)
    return p_wait, p_wait / (servers * service_rate - arrival_rate)


def _single_queue_scenario(people=1000.0, utilisation=0.2, capacity=250.0, horizon=90):
    return scenario_from_dict({
        "name": "mmc", "price_year": "2024-25", "time": {"horizon": horizon, "dt": 0.25},
        "agencies": {"clinic_owner": {"budget": 1.0}},
        "cohorts": {"clients": {"states": {"active": {"initial": people},
                                           "discharged": {"initial": 0.0}}}},
        "services": {"clinic": {"agency": "clinic_owner", "cohort": "clients", "kind": "reactive",
                                "unit_cost": 1.0, "utilisation": {"active": utilisation},
                                "capacity": capacity}},
    })


def test_single_capacity_limited_service_matches_erlang_c():
    # 1,000 people x 0.2 requests a month = Poisson arrivals at 200/month; capacity 250/month
    # with a 0.02-month service time = 5 servers, exponential service at 50/month each
    aggregate = runner.run(_single_queue_scenario())
    plan, _ = build_plan(aggregate.model, aggregate, people=1000, service_time=0.02)
    assert plan.weight == 1.0 and plan.servers.tolist() == [5]
    assert plan.service_time[0, 0] == pytest.approx(0.02)
    outputs, _, _ = run_replications(plan, 4, seed=5, workers=1)
    p_wait, mean_wait = _erlang_c(200.0, 50.0, 5)
    waits = np.concatenate([o.wait_time[0] for o in outputs])
    # batch means (one batch per replication-month) for the standard error
    batches = np.array([o.wait_time[0][o.wait_month[0] == m].mean()
                        for o in outputs for m in range(plan.n_months)])
    se = batches.std(ddof=1) / math.sqrt(batches.size)
    assert abs(waits.mean() - mean_wait) < 4 * se
    assert waits.mean() == pytest.approx(mean_wait, rel=0.15)
    assert (waits > 0).mean() == pytest.approx(p_wait, abs=0.03)
    # Little's law: time-average queue = arrival rate x mean wait; servers busy = a
    queue = np.mean([o.queue_mean[:, 0].mean() for o in outputs])
    busy = np.mean([o.busy_mean[:, 0].mean() for o in outputs])
    assert queue == pytest.approx(200.0 * mean_wait, rel=0.15)
    assert busy == pytest.approx(4.0, rel=0.03)


def test_queue_bookkeeping_and_withdrawals():
    """Requests are served, withdrawn (person left the service's states) or still queued."""
    scenario = _tiny(**{"services.residential_care.capacity": 40.0,
                        "services.residential_care.deterioration": 0.5,
                        "cohorts.older_people.states.high_need.exit": 0.2})
    aggregate = runner.run(scenario)
    plan, _ = build_plan(aggregate.model, aggregate, people=2_000)
    out = simulate_replication(plan, 3)
    assert plan.nq == 1
    requests, starts, withdrawn = out.requests[:, 0], out.activity[:, 0], out.withdrawn[:, 0]
    assert withdrawn.sum() > 0
    assert requests.sum() == starts.sum() + withdrawn.sum() + out.queue_end[-1, 0]
    assert np.all(out.busy_mean[:, 0] <= plan.servers[0] + 1e-9)
    # an overloaded service: people wait, and waiting times grow
    assert out.wait_time[0].mean() > 0


# ---- people are conserved ---------------------------------------------------------------------


def test_people_are_conserved_in_every_month():
    aggregate = runner.run(_tiny())
    plan, _ = build_plan(aggregate.model, aggregate, people=3_000)
    out = simulate_replication(plan, 11)
    total = out.population.sum(axis=1)
    previous = np.concatenate([[total[0] - out.inflow[0].sum() + out.exits[0].sum()], total[:-1]])
    assert np.array_equal(total, previous + out.inflow.sum(axis=1) - out.exits.sum(axis=1))
    # month 0 sample: stochastic rounding of 10,000 / weight, within one person per state
    expected0 = plan.initial / plan.weight
    start = total[0] - out.inflow[0].sum() + out.exits[0].sum()
    assert abs(start - expected0.sum()) <= plan.npop


# ---- reproducibility ----------------------------------------------------------------------------


def test_seeded_runs_are_reproducible():
    aggregate = runner.run(_tiny(**{"services.residential_care.capacity": 70.0}))
    first = run_individual(aggregate.model, aggregate, people=1_500, replications=3, seed=42,
                           workers=1)
    again = run_individual(aggregate.model, aggregate, people=1_500, replications=3, seed=42,
                           workers=1)
    in_workers = run_individual(aggregate.model, aggregate, people=1_500, replications=3, seed=42,
                                workers=2)
    other = run_individual(aggregate.model, aggregate, people=1_500, replications=3, seed=43,
                           workers=1)
    assert in_workers.workers == 2
    for name in first.series:
        np.testing.assert_array_equal(first.series[name], again.series[name])
        np.testing.assert_array_equal(first.series[name], in_workers.series[name])
    for a, b in zip(first.outputs, in_workers.outputs):
        np.testing.assert_array_equal(a.wait_time[0], b.wait_time[0])
    assert not np.array_equal(first.series["spend.total"], other.series["spend.total"])


# ---- the cross-check ----------------------------------------------------------------------------


def test_threshold_is_bonferroni_student_t():
    from scipy.stats import t

    assert threshold(1, 20) == pytest.approx(t.ppf(0.975, 19))
    assert threshold(100 * 60, 20) > threshold(60, 20) > 3
    with pytest.raises(ValueError):
        threshold(10, 1)


def test_standardised_differences_handles_months_without_replication_error():
    des = np.array([[1000.0, 500.0, 0.0, 0.0], [1200.0, 500.0, 0.0, 0.0],
                    [1100.0, 500.0, 0.0, 0.0]])
    out = standardised_differences(des, np.array([1100.0, 500.01, 0.2, 0.0]), count_unit=1.0,
                                   pool_months=0)
    assert out["z"][0] == pytest.approx(0.0)
    assert out["z"][1] == 0.0            # fixed month within the relative tolerance
    assert abs(out["z"][2]) < 1.0        # small count: Poisson standard error sqrt(0.2 / 3)
    assert out["z"][3] == 0.0 and not out["random"][3]
    out = standardised_differences(des, np.array([1100.0, 600.0, 40.0, 0.0]), count_unit=1.0,
                                   pool_months=0)
    assert np.isinf(out["z"][1])         # fixed month far from the aggregate
    assert out["z"][2] == pytest.approx(-40.0 / math.sqrt(40.0 / 3))
    # not a count: no Poisson floor
    out = standardised_differences(des, np.array([1100.0, 500.0, 0.2, 0.0]), pool_months=0)
    assert np.isinf(out["z"][2])


def test_standard_error_pools_neighbouring_months_and_adds_numerical_error():
    rng = np.random.default_rng(0)
    des = rng.normal(100.0, 1.0, size=(10, 5))
    des[:, 2] = 100.0 + 1e-3 * rng.normal(size=10)  # an accidentally tight month
    flat = np.full(5, 100.0)
    alone = standardised_differences(des, flat, pool_months=0)
    pooled = standardised_differences(des, flat)
    assert pooled["se_used"][2] > 100 * alone["se_used"][2]
    np.testing.assert_allclose(pooled["se"], alone["se"])  # the reported replication SE
    with_error = standardised_differences(des, flat, numerical_error=np.full(5, 2.0))
    np.testing.assert_allclose(with_error["se_used"], np.sqrt(pooled["se_used"] ** 2 + 4.0))


def test_crosscheck_needs_two_replications():
    report = crosscheck({"x": np.ones((1, 4))}, {"x": np.ones(4)})
    assert report["pass"] is None


# ---- the command --------------------------------------------------------------------------------


def test_cli_des_writes_every_output(tmp_path):
    d = make_tiny_scenario_dict()
    d["services"]["residential_care"]["capacity"] = 75.0
    d["services"]["residential_care"]["deterioration"] = 0.5
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    out = tmp_path / "des"
    result = CliRunner().invoke(main, ["des", str(path), "--people", "2000", "--replications",
                                       "4", "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "events/s" in result.output and "cross-check:" in result.output
    assert "residential_care: mean wait" in result.output
    for name in ("des_timeseries.csv", "waiting_times.csv", "queues.csv", "crosscheck.json",
                 "des_summary.json", "comparison.png", "waiting_times.png"):
        assert (out / name).stat().st_size > 0, name
    header = (out / "des_timeseries.csv").read_text().splitlines()[0].split(",")
    assert {"month", "spend.total", "spend.total.ci95_low", "spend.total.ci95_high",
            "population.older_people.high_need", "waiting.residential_care",
            "spend.agency.council_asc"} <= set(header)
    waits = (out / "waiting_times.csv").read_text().splitlines()
    assert waits[0] == "service,month,served,mean_months,median_months,p90_months,p95_months"
    assert len(waits) == 1 + 24
    queues = (out / "queues.csv").read_text().splitlines()
    assert queues[0].startswith("service,month,queue_mean,queue_mean_ci95_low")
    report = json.loads((out / "crosscheck.json").read_text())
    assert report["scenario"] == "tiny" and report["replications"] == 4
    assert report["series"]["waiting.residential_care"]["role"] == "informational"
    assert isinstance(report["pass"], bool)
    summary = json.loads((out / "des_summary.json").read_text())
    assert summary["performance"]["events"] > 0
    assert summary["capacity_limited_services"]["residential_care"]["servers"] >= 1
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".*png"))


def test_cli_des_default_folder_and_bad_option(tmp_path, monkeypatch):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(make_tiny_scenario_dict(), sort_keys=False))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["des", str(path), "--people", "500", "--replications",
                                       "2", "--horizon", "6"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "outputs" / "tiny" / "des" / "crosscheck.json").exists()
    result = CliRunner().invoke(main, ["des", str(path), "--people", "0"])
    assert result.exit_code != 0


# ---- one seeded replication, pinned exactly ------------------------------------------------------


def _replication_fingerprint(out) -> str:
    """sha256 of every field of a ReplicationOutput except the wall and CPU times."""
    import hashlib
    from dataclasses import fields

    h = hashlib.sha256()
    for f in fields(out):
        if f.name in ("seconds", "cpu_seconds"):
            continue
        value = getattr(out, f.name)
        h.update(f.name.encode())
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, np.ndarray):
                h.update(f"{v.dtype.str}{v.shape}".encode())
                h.update(np.ascontiguousarray(v).tobytes())
            else:
                h.update(repr(sorted(v.items()) if isinstance(v, dict) else v).encode())
    return h.hexdigest()


def _series_fingerprint(series: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in sorted(series):
        h.update(name.encode())
        h.update(np.ascontiguousarray(series[name]).tobytes())
    return h.hexdigest()


PINNED_REPLICATIONS = {
    "aggregate": {"event_counts": {'arrivals': 303, 'escalations': 249, 'recoveries': 54, 'exits': 186, 'requests': 123, 'service_starts': 116, 'service_ends': 121, 'withdrawals': 7, 'rejected_candidates': 1, 'stale_events': 84},
        "replication": "88d121511ee28ace209531c94e6b28b9590871c02813cea9eb18b4febb60bf54",
        "series": "507c5fe4822fc5908d7660bd94eceb6163d4b5bf4db491d187cfbda14b57eaf4"},
    "endogenous": {"event_counts": {'arrivals': 303, 'escalations': 236, 'recoveries': 50, 'exits': 200, 'requests': 140, 'service_starts': 137, 'service_ends': 137, 'withdrawals': 3, 'rejected_candidates': 5, 'stale_events': 88},
        "replication": "71dbffb79f6b9b68b367b4bcb042b2e2e25766f7f6280782264366802915dd1e",
        "series": "e872b5d064bd09ab5506ef5d354289dc53b8fda83566d986233587d13b7c39dc"},
}


@pytest.mark.parametrize("coverage", ["aggregate", "endogenous"])
def test_one_seeded_replication_is_pinned_exactly(coverage):
    """Every count, queue statistic and waiting time of one seeded replication (and the place
    series of two) equals the figures recorded before the replication loop became a class."""
    scenario = _tiny(**{"services.residential_care.capacity": 40.0,
                        "services.residential_care.deterioration": 0.5,
                        "cohorts.older_people.states.high_need.exit": 0.2})
    aggregate = runner.run(scenario)
    plan, _ = build_plan(aggregate.model, aggregate, people=2_000, coverage=coverage)
    out = simulate_replication(plan, 7)
    results = run_individual(aggregate.model, aggregate, people=1_000, replications=2, seed=5,
                             workers=1, coverage=coverage)
    expected = PINNED_REPLICATIONS[coverage]
    assert out.event_counts == expected["event_counts"]
    assert _replication_fingerprint(out) == expected["replication"]
    assert _series_fingerprint(results.series) == expected["series"]
