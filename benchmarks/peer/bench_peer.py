"""Runs per second: tpsim's batched numba kernel against PySD on the same reduced model.

    pip install ".[bench]" && python benchmarks/peer/bench_peer.py

Both engines integrate benchmarks/peer/reduced.* (one cohort, a preventive and a reactive
service, two agencies) with Euler at dt = 0.25 over 60 months. The script first checks the two
agree (to 1e-6 relative) and then times: PySD one run per call (its only mode), with the
parameter varied per run as an ensemble would; tpsim one batched call for many runs.
Results go to outputs/bench/peer.json.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib import machine  # noqa: E402
from tpsim.models import runner  # noqa: E402
from tpsim.models.structure import compile_scenario  # noqa: E402
from tpsim.config.scenario import load_scenario  # noqa: E402
from tpsim.models.simulate import simulate  # noqa: E402

HERE = Path(__file__).parent


def main() -> int:
    import pysd

    scenario = load_scenario(HERE / "reduced.yaml")
    results = runner.run(scenario)
    vensim = pysd.read_vensim(str(HERE / "reduced.mdl"))
    frame = vensim.run(return_columns=["crisis"])
    np.testing.assert_allclose(results["population.older_people.crisis"][0],
                               frame["crisis"].loc[np.arange(1, 61)].to_numpy(), rtol=1e-6)

    effects = np.linspace(0.05, 0.25, 50)
    pysd_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        for e in effects:
            vensim.run(params={"falls effect": float(e)}, return_columns=["crisis"])
        pysd_times.append((time.perf_counter() - t0) / effects.size)
    pysd_rate = 1.0 / statistics.median(pysd_times)

    model = compile_scenario(scenario)
    col = model.param_index["services.falls_prevention.effect"]
    n = 100_000
    theta = model.theta(n)
    theta[:, col] = np.resize(effects, n)
    simulate(model, theta[:10], record=False)
    tpsim_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        simulate(model, theta, record=False)
        tpsim_times.append(time.perf_counter() - t0)
    tpsim_rate = n / statistics.median(tpsim_times)
    out = {"machine": machine(), "model": "benchmarks/peer/reduced", "dt": 0.25, "months": 60,
           "pysd_version": pysd.__version__, "pysd_runs_per_s": pysd_rate,
           "tpsim_runs_per_s": tpsim_rate, "tpsim_batch": n, "speedup": tpsim_rate / pysd_rate}
    print(f"PySD {pysd.__version__}: {pysd_rate:,.0f} runs/s (one run per call)")
    print(f"tpsim: {tpsim_rate:,.0f} runs/s (batch of {n:,})   speed-up x{tpsim_rate / pysd_rate:,.0f}")
    dest = ROOT / "outputs" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "peer.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
