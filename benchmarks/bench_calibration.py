"""Calibration benchmark: 6 parameters, 4 monthly series of 48 months, on 2 cores.

    python benchmarks/bench_calibration.py            # 3 rounds, writes outputs/bench/calibration.json
    python benchmarks/bench_calibration.py --rounds 1 --limit 30
    python -m pytest benchmarks/bench_calibration.py  # one round, as a test

The problem is the shipped worked example (calibration/example/example_fit.yaml: the baseline
place, six older-people parameters, four series of 48 months of SYNTHETIC data). Two figures:

* ``command``: wall time of the whole ``tpsim calibrate`` command in a fresh process (imports,
  loading the numba cache, validation, 4 starts of least squares, uncertainty, writing
  calibrated.yaml, fit_report.json and 4 charts): what a user waits for;
* ``fit``: wall time of :func:`tpsim.analysis.calibration.fit` alone, in-process after a warm-up.

Both run with NUMBA_NUM_THREADS=2 and, where the OS allows, pinned to 2 CPUs. Each round
also checks the answer: every true parameter value (calibration/example/synthetic_truth.yaml)
lies inside its reported 95% interval. The budget (``--limit``, default 30 s) applies to every
round of the command.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import pin_two_cores, round_parser, spread, verdict, write_result  # noqa: E402
EXAMPLE = ROOT / "calibration" / "example"
CONFIG = EXAMPLE / "example_fit.yaml"
LIMIT_SECONDS = 30.0


def truth() -> dict[str, float]:
    import yaml
    return yaml.safe_load((EXAMPLE / "synthetic_truth.yaml").read_text(encoding="utf-8"))["truth"]


def check_report(report: dict) -> list[str]:
    """Problems with a fit report: the size of the problem and the recovery of the truth."""
    problems = []
    if len(report["parameters"]) != 6 or len(report["series"]) != 4:
        problems.append("expected 6 parameters and 4 series")
    if any(s["n"] != 48 for s in report["series"].values()):
        problems.append("expected 48 months per series")
    for path, value in truth().items():
        lo, hi = report["parameters"][path]["interval_95"]
        if not lo <= value <= hi:
            problems.append(f"{path}: truth {value} outside the 95% interval [{lo}, {hi}]")
    return problems


def run_command(out: Path) -> tuple[float, dict]:
    """Wall time of ``tpsim calibrate`` in a fresh process, and its fit report."""
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tpsim.cli", "calibrate", str(CONFIG), "--out",
                           str(out), "--quiet"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"tpsim calibrate failed ({proc.returncode}):\n{proc.stdout}\n"
                           f"{proc.stderr}")
    return seconds, json.loads((out / "fit_report.json").read_text(encoding="utf-8"))


def fit_in_process(rounds: int) -> list[float]:
    """Wall times of calibration.fit alone (after one warm-up fit)."""
    from tpsim.analysis import calibration as cal
    from tpsim.config.calibration import load_config

    cfg = load_config(CONFIG)
    prepared = cal.setup(cfg)  # what `tpsim calibrate` fits
    times = []
    for k in range(rounds + 1):
        problem = prepared.problem()
        start = time.perf_counter()
        cal.fit(problem, cfg.fit)
        if k:  # the first round warms up
            times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    args = round_parser(__doc__, LIMIT_SECONDS, ROOT / "outputs" / "bench" / "calibration.json",
                        "budget in seconds for each round of the command").parse_args(argv)

    pin_two_cores()

    command_times, problems, report = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            seconds, report = run_command(Path(tmp) / f"round{k}")
            command_times.append(seconds)
            problems += check_report(report)
    fit_times = fit_in_process(args.rounds)
    over = [t for t in command_times if t >= args.limit]
    result = {
        "benchmark": "tpsim calibrate: 6 parameters, 4 series x 48 months (calibration/example)",
        "command": spread(command_times),
        "fit_only": spread(fit_times),
        "limit_s": args.limit,
        "kernel_runs_per_fit": report.get("performance", {}).get("kernel_runs"),
        "kernel_calls_per_fit": report.get("performance", {}).get("kernel_calls"),
    }
    result = write_result(args.json, result, problems)
    c, f = result["command"], result["fit_only"]
    print(f"tpsim calibrate (whole command, fresh process): median {c['median_s']:.2f} s "
          f"(min {c['min_s']:.2f}, max {c['max_s']:.2f}, {c['rounds']} rounds; limit "
          f"{args.limit:.0f} s)")
    print(f"calibration.fit alone (warm):                   median {f['median_s']:.2f} s "
          f"(min {f['min_s']:.2f}, max {f['max_s']:.2f})")
    print(f"{result['kernel_runs_per_fit']} model runs in {result['kernel_calls_per_fit']} "
          f"batched kernel calls per fit; CPUs {result['machine']['cpus']}, numba threads "
          f"{result['machine']['numba_threads']}; wrote {args.json}")
    too_slow = f"{len(over)} round(s) at or over {args.limit:.0f} s" if over else None
    return verdict(problems, too_slow)


def test_calibration_benchmark(tmp_path):
    """One round of the command: under the budget and the truth inside the 95% intervals."""
    pin_two_cores()
    seconds, report = run_command(tmp_path / "out")
    assert not check_report(report)
    assert seconds < LIMIT_SECONDS, f"tpsim calibrate took {seconds:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
