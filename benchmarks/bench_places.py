"""Many places benchmark: 150 places x 2 arms in one ``tpsim places compare``, on 2 cores,
reported beside the single-place figure.

    python benchmarks/bench_places.py                 # 3 rounds, writes outputs/bench/places.json
    python benchmarks/bench_places.py --places 150 --rounds 5 --limit 10

The table is made here: 150 places of every tier, population and deprivation, each a copy of
one of the illustrative shapes of scenarios/places/places.csv scaled by a factor 0.4-2.5 and
shifted in IMD decile, a third with population shares by IMD quintile (so the deprivation
paths of both gradients are timed). The option is scenarios/pooled_prevention.yaml, the
counterfactual scenarios/baseline.yaml. Figures:

* ``warm``: wall time of :func:`tpsim.place.api.places_compare` in this process after a
  warm-up on the same table (numba's cache loaded, JIT done): building and solving every
  place, the stacked budget-growth run, the one batched comparison call and every appraisal;
* ``command``: the whole ``tpsim places compare`` in a fresh process (imports, numba cache,
  places.csv and three charts written): what a user waits for;
* ``single``: the same in-process call on one place (the reference place).

Both run with NUMBA_NUM_THREADS=2 and, where the OS allows, pinned to 2 CPUs. Each round
checks the answer: the reference place's row has the NPSV of ``tpsim compare`` on that
place's two scenarios alone (to 1e-9), every place's NPSV is finite and
the table holds every place once. The budget (``--limit``, default 10 s) applies to the
median warm figure.
"""
from __future__ import annotations

import csv
import math
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

TABLE = ROOT / "scenarios" / "places" / "places.csv"
OPTION = ROOT / "scenarios" / "pooled_prevention.yaml"
COUNTERFACTUAL = ROOT / "scenarios" / "baseline.yaml"
LIMIT_SECONDS = 10.0


def write_table(path: Path, n: int) -> None:
    """``n`` illustrative places: the shapes of scenarios/places/places.csv, scaled and shifted
    deterministically (place k: shape k mod 9, factor 0.4-2.5, decile moved by -2..+2)."""
    lines = [line for line in TABLE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    columns = list(rows[0])
    out = []
    for k in range(n):
        shape = dict(rows[k % len(rows)])
        f = 0.4 + 2.1 * ((k * 37) % 101) / 100.0
        row = {c: "" for c in columns}
        row.update(name=f"place_{k:03d}", label=f"Illustrative place {k}", tier=shape["tier"])
        for c in ("pop_0_17", "pop_18_64", "pop_65_plus", "pop_85_plus"):
            row[c] = f"{float(shape[c]) * f:.0f}"
        decile = float(shape["imd_decile"]) + ((k * 7) % 5) - 2
        row["imd_decile"] = f"{min(10.0, max(1.0, decile)):g}"
        if k % 3 == 0:
            lean = min(max((5.5 - decile) / 9.0, -0.4), 0.4)   # deprived places lean to q1
            shares = [0.2 + lean * w for w in (0.5, 0.25, 0.0, -0.25, -0.5)]
            for q, s in zip(("q1", "q2", "q3", "q4", "q5"), shares):
                row[f"dep_{q}"] = f"{s:.6f}"
        out.append(row)
    out[0].update(name="baseline_place", label="Reference place",
                  **{c: rows[0][c] for c in ("tier", "pop_0_17", "pop_18_64", "pop_65_plus",
                                             "pop_85_plus", "imd_decile")},
                  **{f"dep_{q}": "" for q in ("q1", "q2", "q3", "q4", "q5")})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(out)


def reference_npsv() -> float:
    """NPSV of pooled prevention against the baseline in the reference place, as ``tpsim
    compare`` reports it on that place's two scenarios alone (the baseline solved exactly; the
    shipped file rounds its rates, which moves the NPSV by about 0.03%)."""
    from tpsim.analysis.comparison import compare_scenarios
    from tpsim.config.scenario import load_scenario
    from tpsim.place.api import DEFAULT_REFERENCE, init_place
    from tpsim.place.build import localise
    from tpsim.present.documents import scenario_entry

    place = init_place(DEFAULT_REFERENCE, template=COUNTERFACTUAL)
    option = localise(load_scenario(OPTION), place)
    comparison = compare_scenarios([option], place.scenario)
    return scenario_entry(comparison.cases[0])["npsv"]


def check(result, n: int, expected: float) -> list[str]:
    problems = []
    rows = {r["place"]: r for r in result.rows}
    if len(rows) != n:
        problems.append(f"expected {n} places, got {len(rows)}")
    bad = [p for p, r in rows.items() if not math.isfinite(r["npsv"])]
    if bad:
        problems.append(f"NPSV not finite in {bad[:3]}")
    got = rows["baseline_place"]["npsv"]
    if abs(got - expected) > 1e-9 * max(1.0, abs(expected)):
        problems.append(f"the reference place's NPSV {got:.2f} is not tpsim compare's "
                        f"{expected:.2f}")
    return problems


def in_process(table: Path, rounds: int):
    """Wall times of places_compare on ``table`` after a warm-up call, and the last result."""
    from tpsim.place.api import places_compare

    places_compare(table, OPTION, COUNTERFACTUAL)
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = places_compare(table, OPTION, COUNTERFACTUAL)
        times.append(time.perf_counter() - start)
    return times, result


def run_command(table: Path, out: Path) -> float:
    env = dict(os.environ, NUMBA_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tpsim.cli", "places", "compare", str(table),
                           "--scenario", str(OPTION), "--against", str(COUNTERFACTUAL),
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"tpsim places compare failed ({proc.returncode}):\n{proc.stdout}\n"
                           f"{proc.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = round_parser(__doc__, LIMIT_SECONDS, ROOT / "outputs" / "bench" / "places.json",
                          "budget in seconds for the median warm call")
    parser.add_argument("--places", type=int, default=150)
    args = parser.parse_args(argv)

    pin_two_cores()

    expected = reference_npsv()
    with tempfile.TemporaryDirectory() as tmp:
        many, one = Path(tmp) / "places.csv", Path(tmp) / "one.csv"
        write_table(many, args.places)
        write_table(one, 1)
        warm, result = in_process(many, args.rounds)
        single, single_result = in_process(one, args.rounds)
        command = [run_command(many, Path(tmp) / f"out{k}") for k in range(args.rounds)]
    problems = check(result, args.places, expected) + check(single_result, 1, expected)
    report = {
        "benchmark": f"tpsim places compare: {args.places} places x 2 arms (pooled_prevention "
                     f"against baseline)",
        "warm": spread(warm), "single_place_warm": spread(single), "command": spread(command),
        "kernel_calls": result.kernel_calls, "runs": result.runs,
        "growth_calls": result.growth_calls, "limit_s": args.limit,
    }
    report = write_result(args.json, report, problems)
    w, s, c = report["warm"], report["single_place_warm"], report["command"]
    print(f"{args.places} places x 2 arms, warm, in process: median {w['median_s']:.2f} s "
          f"(min {w['min_s']:.2f}, max {w['max_s']:.2f}; limit {args.limit:.0f} s); "
          f"{result.runs} runs in {result.kernel_calls} kernel call(s) + "
          f"{result.growth_calls} budget-growth call(s)")
    print(f"one place, warm, in process:            median {s['median_s']:.3f} s "
          f"(min {s['min_s']:.3f}, max {s['max_s']:.3f})")
    print(f"whole command, fresh process:           median {c['median_s']:.2f} s "
          f"(min {c['min_s']:.2f}, max {c['max_s']:.2f}); CPUs {report['machine']['cpus']}, "
          f"numba threads {report['machine']['numba_threads']}; wrote {args.json}")
    too_slow = (f"median warm {w['median_s']:.2f} s at or over {args.limit:.0f} s"
                if w["median_s"] >= args.limit else None)
    return verdict(problems, too_slow)


if __name__ == "__main__":
    sys.exit(main())
