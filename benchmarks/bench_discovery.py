"""Scenario discovery benchmark: a 1,000,000-run discovery on 2 cores, its time and peak memory.

    python benchmarks/bench_discovery.py                       # 1,000,000 runs
    python benchmarks/bench_discovery.py --runs 65536 --out outputs/bench/discovery.json

The job is the ensemble benchmark's (benchmarks/bench_ensemble.py): scenarios/
pooled_prevention_uncertain.yaml (15 uncertain factors) against scenarios/siloed_squeeze.yaml,
dt = 0.25 months, 60 months, random sampling; every run simulates both scenarios. Discovery
keeps each run's inputs (runs x 15 floats) and outcome columns, then runs PRIM (peeling to 5%
of the runs, pasting the chosen box, quasi-p-values) and a depth-3 CART tree.

Target: within the ensemble's memory target (peak resident memory under 2 GB,
docs/uncertainty.md). Reported: wall time of the simulation and of the analysis, the share of
runs of interest, the chosen box, and the peak resident memory of this process.
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(runs: int, seed: int, where: str) -> dict:
    from tpsim import api
    from tpsim.config.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios/pooled_prevention_uncertain.yaml").replace(dt=0.25,
                                                                                    horizon=60)
    cf = load_scenario(ROOT / "scenarios/siloed_squeeze.yaml").replace(dt=0.25, horizon=60)
    api.discover(sc, cf, where=where, runs=256, seed=seed)  # numba cache loaded
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    done = [0]
    t_sim = [None]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] >= runs:
            t_sim[0] = time.perf_counter() - t0

    result = api.discover(sc, cf, where=where, runs=runs, seed=seed, progress=progress)
    seconds = time.perf_counter() - t0
    doc = result.to_dict()
    box = doc["prim"]["box"]
    return {"runs": runs, "where": where, "seconds": seconds, "simulation_seconds": t_sim[0],
            "analysis_seconds": seconds - (t_sim[0] or 0.0),
            "runs_per_second": runs / seconds, "share_of_interest": doc["share_of_interest"],
            "box": {"coverage": box["coverage"], "density": box["density"],
                    "restrictions": [r["words"] for r in box["restrictions"]]},
            "cart_available": doc["cart"]["available"],
            "inputs_mb": result.x.nbytes / 2 ** 20,
            "peak_rss_mb_before": rss_before, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--where", default="npv > -22.8e6")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pin_two_cores()
    record = {"machine": machine(), "result": run(args.runs, args.seed, args.where),
              "target_peak_rss_mb": 2048}
    record["met"] = record["result"]["peak_rss_mb"] < record["target_peak_rss_mb"]
    text = json.dumps(record, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
