"""The generic kernel against an older copy of it: bit-identical answers, paired timings, and the
cold compile time of each.

    cp tpsim/models/kernel.py /tmp/kernel_old.py      # before changing the kernel
    ...change tpsim/models/kernel.py...
    python benchmarks/bench_generic_ab.py --old /tmp/kernel_old.py --rounds 7 --cold

The old copy (A) is imported from its file as a module of its own, so both kernels live in one
process; rounds run A, B (the current kernel), A on the same batch of the baseline scenario
(60 months), and the figures are the medians of the per-round ratios B/A and A/A (the second A
against the first: the noise of the machine). Before timing, every shipped scenario and the
mechanism scenario of the tests run through both kernels, Euler and RK4, with every month-end
value recorded, and must agree to the last bit. ``--cold`` times the first call in a fresh
process with an empty numba cache, for each kernel.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import spread  # noqa: E402
from run import perturbed_theta  # noqa: E402
from tpsim.config.scenario import load_scenario, scenario_from_dict  # noqa: E402
from tpsim.models import simulate as sim  # noqa: E402
from tpsim.models.structure import compile_scenario  # noqa: E402

BASELINE = ROOT / "scenarios" / "baseline.yaml"


def load_kernel(path: str, name: str = "tpsim_kernel_under_test"):
    """The kernel module in ``path``, imported as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # numba's cache pickles references by module name
    spec.loader.exec_module(module)
    return module


def run_with(kernel_module, model, theta, record: bool):
    """``simulate`` on the generic kernel, with ``kernel_module`` standing in for it."""
    current = sim.kernel
    sim.kernel = kernel_module
    try:
        return sim.simulate(model, theta, record=record, kernel_choice="generic")
    finally:
        sim.kernel = current


def models_to_check() -> list[tuple[str, object]]:
    """Every shipped scenario and the tests' mechanism scenario, Euler and RK4."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_mechanisms import mechanism_dict

    scenarios = [(p.stem, load_scenario(p)) for p in sorted((ROOT / "scenarios").glob("*.yaml"))
                 if p.name != "evidence.yaml"]
    scenarios.append(("mechanisms", scenario_from_dict(mechanism_dict())))
    out = []
    for name, scenario in scenarios:
        model = compile_scenario(scenario)
        for method in ("euler", "rk4"):
            out.append((f"{name}/{method}", dataclasses.replace(model, method=method)))
    return out


def check_identical(old, new) -> int:
    """Assert both kernels give the same bits on every model of :func:`models_to_check`."""
    n = 0
    for name, model in models_to_check():
        theta = perturbed_theta(model, 70)   # more than one 64-lane block
        a = run_with(old, model, theta, record=True)
        b = run_with(new, model, theta, record=True)
        np.testing.assert_array_equal(b.final, a.final, err_msg=name)
        np.testing.assert_array_equal(b.trajectory, a.trajectory, err_msg=name)
        n += 1
    print(f"  identical to the bit on {n} model x method pairs (final state and every month end)")
    return n


def paired(old, new, n: int, rounds: int) -> dict:
    model = compile_scenario(load_scenario(BASELINE).replace(horizon=60))
    theta = perturbed_theta(model, n)
    run_with(old, model, theta, record=False)
    run_with(new, model, theta, record=False)
    times = {"A1": [], "B": [], "A2": []}
    for _ in range(rounds):
        for key, module in (("A1", old), ("B", new), ("A2", old)):
            t0 = time.perf_counter()
            run_with(module, model, theta, record=False)
            times[key].append(time.perf_counter() - t0)
    ratio = statistics.median(2 * b / (a1 + a2)
                              for a1, b, a2 in zip(times["A1"], times["B"], times["A2"]))
    noise = statistics.median(a2 / a1 for a1, a2 in zip(times["A1"], times["A2"]))
    res = {"runs": n, "rounds": rounds, "old": spread(times["A1"] + times["A2"]),
           "new": spread(times["B"]), "new_over_old": ratio, "a_a": noise}
    print(f"  paired on {n:,} runs, {rounds} rounds A/B/A: old {n / res['old']['median_s']:,.0f} "
          f"runs/s, new {n / res['new']['median_s']:,.0f} runs/s (medians); time new/old "
          f"{ratio:.3f}, A/A {noise:.3f}")
    return res


_COLD = """
import sys, time, importlib.util
from tpsim.config.scenario import load_scenario
from tpsim.models import simulate as sim
from tpsim.models.structure import compile_scenario
spec = importlib.util.spec_from_file_location("tpsim_kernel_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module
spec.loader.exec_module(module)
sim.kernel = module
model = compile_scenario(load_scenario(sys.argv[2]))
t0 = time.perf_counter()
sim.simulate(model, model.theta(1), kernel_choice="generic")
print(time.perf_counter() - t0)
"""


def cold_compile(path: str) -> float:
    """Seconds of the first generic-kernel call in a fresh process with an empty numba cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-c", _COLD, path, str(BASELINE)], env=env,
                              cwd=ROOT, check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="a copy of an older tpsim/models/kernel.py")
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cold", action="store_true", help="also time each kernel's cold compile")
    args = parser.parse_args(argv)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    new_path = str(ROOT / "tpsim" / "models" / "kernel.py")
    if args.cold:
        for label, path in (("old", args.old), ("new", new_path), ("old", args.old),
                            ("new", new_path)):
            print(f"  cold compile, {label}: {cold_compile(path):.1f} s", flush=True)
    old = load_kernel(args.old)
    new = sim.kernel
    check_identical(old, new)
    paired(old, new, args.runs, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
