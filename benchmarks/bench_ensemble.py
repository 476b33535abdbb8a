"""Ensemble benchmark: Monte Carlo runs reduced to quantiles and NPV distributions, on 2 cores.

    python benchmarks/bench_ensemble.py                      # 1,000,000 runs, local and dask
    python benchmarks/bench_ensemble.py --runs 65536 --engine local
    python benchmarks/bench_ensemble.py --runs 65536 --engine both --out outputs/bench/ensemble.json

The job (what ``tpsim ensemble`` does, without charts): scenarios/pooled_prevention_uncertain.yaml
(15 uncertain factors, 2 correlations) against scenarios/siloed_squeeze.yaml, dt = 0.25 months,
60 months, random sampling, the three default series. Each run simulates BOTH scenarios (paired
draws), so a job of N runs is 2N kernel runs; ``kernel_runs_per_second`` counts those.

Targets (docs/uncertainty.md): 1,000,000 runs in under 30 s on 2 cores with the local engine,
peak memory under 2 GB; the Dask engine on a 2-worker LocalCluster at least 80% of the local
engine's throughput. Reported: wall time of the reduction (pilot included; the numba cache
warmed first), runs per second, the peak resident memory of this process (and, for Dask, of
the workers), and whether both engines gave identical results (they must).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine, pin_two_cores  # noqa: E402


def make_job(runs: int, seed: int):
    from tpsim.analysis import ensemble as en
    from tpsim.config.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios/pooled_prevention_uncertain.yaml").replace(dt=0.25,
                                                                                    horizon=60)
    cf = load_scenario(ROOT / "scenarios/siloed_squeeze.yaml").replace(dt=0.25, horizon=60)
    return en.prepare([sc], cf, runs=runs, seed=seed, sampler="random")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(engine: str, runs: int, seed: int, chunk: int) -> dict:
    from tpsim.analysis import ensemble as en

    en.run_local(_warm(make_job(256, seed)))  # numba cache loaded, kernels compiled
    job = make_job(runs, seed)
    t0 = time.perf_counter()
    job.edges = en.pilot_edges(job)
    worker_rss = None
    if engine == "local":
        partial = en.run_local(job, chunk)
    else:
        from dask.distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as client:
            warm = _warm(make_job(256, seed))
            # every worker loads the numba cache (one task would warm only one worker)
            client.run(lambda: en.run_chunk(warm, 0, 1) and None)
            t0 = time.perf_counter()
            job.edges = en.pilot_edges(job)
            partial = en.run_dask(job, chunk, client=client)
            worker_rss = max(client.run(lambda: resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024.0).values())
    summary = en.summarise(job, partial)
    seconds = time.perf_counter() - t0
    r = summary.metrics[job.names[1]]
    assert partial.n_runs == runs == job.n_runs
    assert 0.0 <= r["probability_beats_counterfactual"] <= 1.0
    assert r["npv"]["percentiles"]["p5"] <= r["npv"]["percentiles"]["p95"]
    return {"engine": engine, "runs": runs, "kernel_runs": 2 * runs, "seconds": seconds,
            "runs_per_second": runs / seconds, "kernel_runs_per_second": 2 * runs / seconds,
            "projected_seconds_for_1e6_runs": 1e6 / (runs / seconds),
            "peak_rss_mb": peak_rss_mb(), "worker_peak_rss_mb": worker_rss,
            "npv_median": r["npv"]["percentiles"]["p50"],
            "npv_p5_p95": [r["npv"]["percentiles"]["p5"], r["npv"]["percentiles"]["p95"]],
            "probability_beats_counterfactual": r["probability_beats_counterfactual"],
            "fingerprint": json.dumps(summary.metrics, sort_keys=True)}


def _warm(job):
    from tpsim.analysis import ensemble as en
    job.edges = en.pilot_edges(job)
    return job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["local", "dask", "both"], default="both")
    parser.add_argument("--chunk", type=int, default=16384, help="runs per task")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "bench" / "ensemble.json"))
    args = parser.parse_args()
    pin_two_cores()
    engines = ["local", "dask"] if args.engine == "both" else [args.engine]
    results = [run(e, args.runs, args.seed, args.chunk) for e in engines]
    report = {"machine": machine(),
              "job": "pooled_prevention_uncertain vs siloed_squeeze, dt 0.25, 60 months",
              "results": [{k: v for k, v in r.items() if k != "fingerprint"} for r in results]}
    if len(results) == 2:
        report["dask_over_local_throughput"] = results[1]["runs_per_second"] / results[0]["runs_per_second"]
        report["engines_agree"] = results[0]["fingerprint"] == results[1]["fingerprint"]
    text = json.dumps(report, indent=2)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    from tpsim.output import atomic_write_text
    atomic_write_text(args.out, text + "\n")
    if not report.get("engines_agree", True):
        print("error: the dask and local engines disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
