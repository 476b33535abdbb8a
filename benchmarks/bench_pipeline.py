"""Where the ensemble's time goes: each stage of the local engine timed in one process.

    python benchmarks/bench_pipeline.py                    # 65,536 runs, 3 rounds
    python benchmarks/bench_pipeline.py --runs 16384 --max-overhead 2.5

The job is benchmarks/bench_ensemble.py's (pooled_prevention_uncertain against siloed_squeeze,
60 months, dt 0.25, paired: 2 kernel runs per run). Each round runs the same runs twice, in
the ensemble's own slices (``SLICE_PER_THREAD`` x threads runs), in alternating order: once
the whole pipeline (sampling, parameters, kernel, series, fiscal metrics, streamed
histograms: what ``run_local`` does per slice) with each stage timed, once the kernel alone
(``simulate`` with the same recording). The check is a ratio from one process, not a time:
whole pipeline over kernel alone (``--max-overhead``, default 3.0, fails above it); the
shares say which stage to work on next.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import machine  # noqa: E402
from bench_ensemble import _warm, make_job  # noqa: E402

STAGES = ("sampling", "parameters", "kernel", "series_and_metrics", "histograms")


def pipeline_round(job, buffers) -> dict:
    """One pass over every run of ``job`` as ``run_chunk`` does it, each stage timed (s)."""
    import numba

    from tpsim.analysis import ensemble as en

    spent = dict.fromkeys(STAGES, 0.0)
    partial = en.Partial.empty(job)
    size = en.SLICE_PER_THREAD * numba.get_num_threads()
    clock = time.perf_counter
    for block in range((job.n_runs + en.BLOCK - 1) // en.BLOCK):
        start, stop = block * en.BLOCK, min(job.n_runs, (block + 1) * en.BLOCK)
        t0 = clock()
        u = job.plan.unit(job.sampler, job.seed, start, stop)
        t1 = clock()
        params = en.parameters(job, u)
        spent["sampling"] += t1 - t0
        spent["parameters"] += clock() - t1
        for s0 in range(0, stop - start, size):
            part = slice(s0, s0 + size)
            t0 = clock()
            traj = en.trajectories(job, u[part], [(th[part], ev[part]) for th, ev in params],
                                   buffers)
            t1 = clock()
            data = en.reduce_trajectories(job, traj)
            t2 = clock()
            partial.add(job, block, data)
            spent["kernel"] += t1 - t0
            spent["series_and_metrics"] += t2 - t1
            spent["histograms"] += clock() - t2
    assert partial.n_runs == job.n_runs
    return spent


def kernel_round(job, buffers) -> float:
    """The kernel calls of the same slices alone (parameters computed beforehand), s."""
    import numba

    from tpsim.analysis import ensemble as en

    size = en.SLICE_PER_THREAD * numba.get_num_threads()
    total = 0.0
    for block in range((job.n_runs + en.BLOCK - 1) // en.BLOCK):
        start, stop = block * en.BLOCK, min(job.n_runs, (block + 1) * en.BLOCK)
        u = job.plan.unit(job.sampler, job.seed, start, stop)
        params = en.parameters(job, u)
        t0 = time.perf_counter()
        for s0 in range(0, stop - start, size):
            part = slice(s0, s0 + size)
            en.trajectories(job, u[part], [(th[part], ev[part]) for th, ev in params], buffers)
        total += time.perf_counter() - t0
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=65_536)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-overhead", type=float, default=3.0,
                        help="fail if whole pipeline / kernel alone exceeds this")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "bench" / "pipeline.json"))
    args = parser.parse_args()
    import numba

    from tpsim.analysis import ensemble as en
    from tpsim.models.simulate import Buffers

    en.run_local(_warm(make_job(256, 1)))          # kernels compiled or loaded
    job = _warm(make_job(args.runs, 1))
    buffers = [Buffers() for _ in job.models]
    rounds = []
    for r in range(args.rounds):
        order = ("pipeline", "kernel") if r % 2 == 0 else ("kernel", "pipeline")
        got = {}
        for what in order:
            got[what] = pipeline_round(job, buffers) if what == "pipeline" else \
                kernel_round(job, buffers)
        rounds.append(got)
    whole = [sum(g["pipeline"].values()) for g in rounds]
    alone = [g["kernel"] for g in rounds]
    overhead = statistics.median(w / k for w, k in zip(whole, alone))
    shares = {s: statistics.median(g["pipeline"][s] / sum(g["pipeline"].values())
                                   for g in rounds) for s in STAGES}
    res = {"machine": machine(), "runs": args.runs, "kernel_runs": 2 * args.runs,
           "threads": numba.get_num_threads(), "rounds": args.rounds,
           "pipeline_s": statistics.median(whole), "kernel_alone_s": statistics.median(alone),
           "pipeline_over_kernel": overhead, "shares": shares,
           "runs_per_second": args.runs / statistics.median(whole),
           "projected_seconds_for_1e6_runs": 1e6 * statistics.median(whole) / args.runs}
    print(f"{args.runs:,} runs ({2 * args.runs:,} kernel runs), {args.rounds} rounds: pipeline "
          f"{res['pipeline_s']:.2f} s, kernel alone {res['kernel_alone_s']:.2f} s, ratio "
          f"{overhead:.2f}; {res['runs_per_second']:,.0f} runs/s "
          f"(1,000,000 runs: {res['projected_seconds_for_1e6_runs']:.0f} s)")
    print("  shares of the pipeline: " + ", ".join(f"{s} {v:.1%}" for s, v in shares.items()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    if overhead > args.max_overhead:
        print(f"FAIL: pipeline / kernel alone {overhead:.2f} is above {args.max_overhead}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
