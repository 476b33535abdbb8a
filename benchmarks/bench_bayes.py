"""Bayesian calibration benchmark: log-posterior evaluations per second, and a whole
6-parameter, 4-series, 48-month posterior sampling run, on 2 cores.

    python benchmarks/bench_bayes.py                 # 3 rounds, writes outputs/bench/bayes.json
    python benchmarks/bench_bayes.py --rounds 1 --limit 120
    python -m pytest benchmarks/bench_bayes.py       # one round, as a test

The problem is the shipped worked example (calibration/example/example_fit.yaml: the baseline
place, six older-people parameters, four series of 48 months of SYNTHETIC data) with its
default sampler settings (``fit.bayes``: 2 chains x 24 walkers x 400 steps, 150 burn-in). Two
figures, in-process after a warm-up (numba compiled):

* ``log_posterior``: evaluations per second of :class:`tpsim.analysis.bayes.LogPosterior` on
  batches of 24 parameter sets (what one emcee half-step of 2 chains x 24 walkers asks for:
  one batched kernel call);
* ``sample``: wall time of :func:`tpsim.analysis.bayes.sample_posterior` (the whole MCMC,
  the least-squares start included), checked against the issue's budget of 2 minutes.

Each round also checks the answer: every true parameter value
(calibration/example/synthetic_truth.yaml) lies inside its posterior 95% interval, and the
largest R-hat is below 1.05.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import pin_two_cores, round_parser, spread, verdict, write_result  # noqa: E402

CONFIG = ROOT / "calibration" / "example" / "example_fit.yaml"
LIMIT_SECONDS = 120.0
BATCH = 24


def truth() -> dict[str, float]:
    import yaml
    path = ROOT / "calibration" / "example" / "synthetic_truth.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["truth"]


def problem_and_priors():
    from tpsim.analysis import learning
    from tpsim.analysis.calibration import setup
    from tpsim.config.calibration import load_config

    cfg = load_config(CONFIG)
    prepared = setup(cfg)
    problem = prepared.problem()
    return cfg, problem, learning.prior_set(cfg, prepared, problem)


def log_posterior_rate(rounds: int, seconds: float = 3.0) -> list[float]:
    """Evaluations per second of the log posterior on batches of ``BATCH`` rows drawn
    uniformly within the bounds (one warm-up call first)."""
    import numpy as np

    from tpsim.analysis.bayes import LogPosterior

    _, problem, priors = problem_and_priors()
    log_post = LogPosterior(problem, priors)
    rng = np.random.default_rng(0)
    batch = problem.lower + rng.random((BATCH, problem.n_parameters)) * problem.width
    log_post(batch)
    rates = []
    for _ in range(rounds):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            log_post(batch)
            calls += 1
        rates.append(calls * BATCH / (time.perf_counter() - start))
    return rates


def sample_once() -> tuple[float, list[str], dict]:
    """Wall time of one posterior sampling of the example, its problems and diagnostics."""
    from tpsim.analysis.bayes import sample_posterior, summarise

    cfg, problem, priors = problem_and_priors()
    start = time.perf_counter()
    post = sample_posterior(problem, cfg.bayes, priors=priors)
    seconds = time.perf_counter() - start
    summary = summarise(post)
    problems = []
    for path, value in truth().items():
        lo, hi = summary[path]["interval_95"]
        if not lo <= value <= hi:
            problems.append(f"{path}: truth {value} outside the posterior 95% interval "
                            f"[{lo:.6g}, {hi:.6g}]")
    if post.diagnostics["rhat_max"] >= 1.05:
        problems.append(f"R-hat {post.diagnostics['rhat_max']:.3f} >= 1.05")
    info = {"runs": post.runs, "kernel_calls": post.kernel_calls,
            "rhat_max": post.diagnostics["rhat_max"], "ess": post.diagnostics["ess"],
            "acceptance_fraction": post.diagnostics["acceptance_fraction"]}
    return seconds, problems, info


def main(argv: list[str] | None = None) -> int:
    args = round_parser(__doc__, LIMIT_SECONDS, ROOT / "outputs" / "bench" / "bayes.json",
                        "budget in seconds for each posterior sampling").parse_args(argv)

    pin_two_cores()

    rates = log_posterior_rate(args.rounds)
    times, problems, info = [], [], {}
    sample_once()   # warm-up: numba's cache and the first kernel calls
    for _ in range(args.rounds):
        seconds, wrong, info = sample_once()
        times.append(seconds)
        problems += wrong
    over = [t for t in times if t >= args.limit]
    result = {
        "benchmark": "Bayesian calibration: 6 parameters, 4 series x 48 months "
                     "(calibration/example, fit.bayes defaults)",
        "log_posterior_per_second": spread(rates, ""),
        "batch": BATCH,
        "sample": spread(times),
        "limit_s": args.limit,
        "last_sample": info,
    }
    result = write_result(args.json, result, problems)
    r, s = result["log_posterior_per_second"], result["sample"]
    print(f"log posterior, batches of {BATCH}: median {r['median']:,.0f} evaluations/s "
          f"(min {r['min']:,.0f}, max {r['max']:,.0f})")
    print(f"sample_posterior (2 chains x 24 walkers x 400 steps): median {s['median_s']:.1f} s "
          f"(min {s['min_s']:.1f}, max {s['max_s']:.1f}; limit {args.limit:.0f} s); "
          f"{info.get('runs')} model runs in {info.get('kernel_calls')} kernel calls; R-hat "
          f"max {info.get('rhat_max', float('nan')):.3f}, ESS {info.get('ess', 0):.0f}")
    too_slow = f"{len(over)} round(s) at or over {args.limit:.0f} s" if over else None
    return verdict(problems, too_slow)


def test_bayes_benchmark():
    """One sampling of the example: under 2 minutes and the truth inside the 95% intervals."""
    pin_two_cores()
    seconds, problems, _ = sample_once()
    assert not problems
    assert seconds < LIMIT_SECONDS, f"sample_posterior took {seconds:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
