"""What the sub-commands share: their click options and arguments (defined once here) and the
loading of scenarios with the time settings given on the command line."""
from __future__ import annotations

import math
import os
from pathlib import Path

import click
import numpy as np

from tpsim.config.scenario import MAX_HORIZON, Scenario, load_scenario
from tpsim.errors import TpsimError


def out_dir(out: str | None, default: str) -> Path:
    """The output folder: ``--out`` if given, else ``outputs/<default>``."""
    return Path(out) if out else Path("outputs") / default


def load(path: str) -> Scenario:
    return load_scenario(path)


def load_timed(path: str, *, horizon: int | None = None, dt: float | None = None,
               method: str | None = None) -> Scenario:
    """A scenario file with the command line's time settings (None keeps the scenario's)."""
    return load(path).replace(dt=dt, method=method, horizon=horizon)


# ---------------------------------------------------------------------------------------------
# Bounds of numeric options. Every command's counts and sizes stay within these, so no option
# asks for unbounded time or memory; new commands use the same names (``runs_option`` and the
# MAX_* constants) rather than their own limits.
# ---------------------------------------------------------------------------------------------

#: Most Monte Carlo runs (``--runs``, ``--uncertainty``, ``--chunk-size``): ten million runs are
#: an hour or more of the shipped place; past that a percentile moves by less than its rounding.
MAX_RUNS = 10_000_000
#: Largest seed: numpy's SeedSequence takes any non-negative integer, but ensemble.json and the
#: seeds of blocks are 64-bit on every reader, so seeds are 63-bit.
MAX_SEED = 2**63 - 1
#: Most worker processes (``--workers``): beyond any single machine's cores.
MAX_WORKERS = 256
#: Most simulated people in one DES replication (``--people``); a simulated person holds about
#: ``DES_BYTES_PER_PERSON`` of memory while the replication runs.
MAX_PEOPLE = 2_000_000
DES_BYTES_PER_PERSON = 2_000
#: Most DES replications (``--replications``).
MAX_REPLICATIONS = 10_000
#: Most histogram bins per series and month (``--bins``): percentile error is half a bin, and
#: 10,000 bins already resolve a 0.01% quantile.
MAX_BINS = 10_000
#: Largest Sobol base sample (``--n``): 2^20 x (factors + 2) runs.
MAX_SOBOL_N = 2**20
#: ``tpsim optimise``: most futures per candidate (each candidate's futures are simulated in one
#: call), generations and candidates per generation per lever (differential evolution needs
#: far fewer; past these a search runs for days).
MAX_FUTURES = 100_000
MAX_GENERATIONS = 10_000
MAX_POPSIZE = 1_000
#: Share of the machine's physical memory a command may plan to use for its arrays.
MEMORY_SHARE = 0.5


def memory_limit() -> int:
    """Bytes a command may plan to allocate: :data:`MEMORY_SHARE` of physical memory (8 GiB
    when the system does not say)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        total = 16 * 2**30
    return int(MEMORY_SHARE * total)


def check_memory(needed: float, what: str, options: str, limit: int | None = None) -> None:
    """Raise a one-line :class:`TpsimError` before allocating when ``needed`` bytes (an
    estimate of the arrays of ``what``) exceed :func:`memory_limit`; ``options`` names the
    options that lower it (e.g. ``"--runs or --bins"``)."""
    limit = memory_limit() if limit is None else limit
    if needed > limit:
        raise TpsimError(f"{what} would need about {_gib(needed)} of memory, more than the "
                         f"{_gib(limit)} allowed ({MEMORY_SHARE:.0%} of this machine's): lower "
                         f"{options}")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def ensemble_memory(job, chunk_runs: int, workers: int = 1) -> float:
    """Bytes an ensemble of ``job`` (:class:`tpsim.analysis.ensemble.EnsembleJob`) holds at
    its peak: per process the histograms of every tracked series and month (``bins + 2``
    counts, three copies while partials merge), the per-block moment sums (three numbers per
    cell and block), and one slice of runs' recorded trajectories and tracked values; the
    saved runs of ``--save-runs`` are not counted (they are written as they are made)."""
    from tpsim.analysis.ensemble import SLICE_PER_THREAD
    from tpsim.analysis.sampling import BLOCK

    import numba

    cells = len(job.tracked) * (job.n_months + 2)
    blocks = -(-job.n_runs // BLOCK)
    chunk_blocks = max(1, min(blocks, -(-chunk_runs // BLOCK)))
    slice_runs = min(job.n_runs, SLICE_PER_THREAD * numba.get_num_threads())
    recorded = sum(int(np.size(r)) for r in job.record) * (job.n_months + 1)
    per_process = 8.0 * (3 * cells * (job.bins + 2) + 3 * cells * chunk_blocks
                         + slice_runs * (recorded + cells))
    client = 8.0 * (3 * cells * (job.bins + 2) + 3 * cells * blocks)
    return client + max(1, workers - 1) * per_process if workers > 1 else \
        per_process + 8.0 * 3 * cells * blocks


def check_ensemble_memory(job, chunk_runs: int, workers: int | None = None) -> None:
    """:func:`check_memory` for :func:`ensemble_memory`."""
    check_memory(ensemble_memory(job, chunk_runs, workers or 1),
                 f"an ensemble of {job.n_runs:,} runs x {len(job.tracked)} tracked series x "
                 f"{job.n_months} months", "--runs, --bins, --series, --horizon or --workers")



def check_finite_outcomes(summary, what: str = "ensemble") -> None:
    """Refuse an ensemble summary in which some scenario has no run with a finite NPV (its
    outputs overflow or are undefined in every run): there is nothing to report, so the
    command stops with one line before writing anything."""
    for name, metrics in summary.metrics.items():
        if metrics["npv"]["runs"] == 0:
            raise TpsimError(f"the {what}: every one of the {summary.n_runs:,} runs of scenario "
                             f"{name} gives a non-finite NPV (its outputs overflow or are not "
                             f"numbers); check the magnitudes of its parameters, growth rates "
                             f"and uncertainty ranges")

def runs_option(name: str = "--runs", default: int = 1000, minimum: int = 1,
                help: str = "Monte Carlo runs (each simulates every scenario and the "
                            "counterfactual).", dest: str | None = None):
    """A count of runs, ``minimum`` to :data:`MAX_RUNS`."""
    decls = (name, dest) if dest else (name,)
    return click.option(*decls, type=click.IntRange(minimum, MAX_RUNS), default=default,
                        show_default=True, help=help)


def workers_option(help: str = "Worker processes (default: the number of cores)."):
    """``--workers N``, 1 to :data:`MAX_WORKERS` (None when not given)."""
    return click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=None,
                        help=help)


class FiniteFloat(click.FloatRange):
    """A float option that must be finite (click's FLOAT and FloatRange accept ``nan`` and
    ``inf``, and ``nan`` passes every range check), optionally within a range. Every float
    option of tpsim uses this type."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = click.types.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


_SCENARIO_PATH = click.Path(dir_okay=False)

#: One SCENARIO file.
scenario_argument = click.argument("scenario", type=_SCENARIO_PATH)
#: One or more SCENARIO files.
scenarios_argument = click.argument("scenarios", nargs=-1, required=True, type=_SCENARIO_PATH)


def out_option(default: str = "under outputs/"):
    """``--out DIR``; ``default`` says where outputs go without it."""
    return click.option("--out", type=click.Path(file_okay=False),
                        help=f"Output folder (default {default}).")


def against_option(help: str = "The counterfactual scenario every SCENARIO is compared with.",
                   required: bool = True):
    """``--against COUNTERFACTUAL``, stored as ``counterfactual``."""
    return click.option("--against", "counterfactual", required=required, type=_SCENARIO_PATH,
                        help=help)


def horizon_option(help: str = "Months to simulate (default: the scenarios')."):
    """``--horizon MONTHS`` (1 to :data:`~tpsim.config.scenario.MAX_HORIZON`)."""
    return click.option("--horizon", type=click.IntRange(1, MAX_HORIZON), help=help)


def dt_option(help: str = "Time step in months (default: the scenarios')."):
    return click.option("--dt", type=FiniteFloat(0.0, 1.0, min_open=True), help=help)


def method_option(help: str = "Integration method (default: the scenarios')."):
    return click.option("--method", type=click.Choice(["euler", "rk4"]), help=help)


def seed_option(help: str | None = None, default: int | None = 0):
    """``--seed N`` (0 to :data:`MAX_SEED`; ``default`` None lets the command tell 'not
    given')."""
    return click.option("--seed", type=click.IntRange(0, MAX_SEED), default=default,
                        show_default=default is not None, help=help)


def optimism_bias_option(help: str = "Uplift on costs, a fraction (default: each scenario's "
                                     "appraisal.optimism_bias)."):
    return click.option("--optimism-bias", type=FiniteFloat(0.0, 10.0), help=help)


#: A place profile or places table is one file.
file_path = _SCENARIO_PATH


def reference_profile_option(whose: str):
    """``--reference PROFILE``: the own place profile of ``whose`` structure the place takes
    (``tpsim place init``, ``tpsim places compare``)."""
    return click.option("--reference", type=file_path, default=None,
                        help=f"{whose} own profile (default scenarios/places/baseline.yaml).")


def derive_budgets_option(given: str):
    """``--derive-budgets``: budgets and reserves from the balanced month 0, not from ``given``."""
    return click.option("--derive-budgets", is_flag=True,
                        help=f"Derive every budget and reserve from month 0, ignoring {given}.")


def time_options(what: str = "the scenarios'"):
    """``--horizon``, ``--dt`` and ``--method`` together."""
    def decorate(f):
        f = method_option(f"Integration method (default: {what}).")(f)
        f = dt_option(f"Time step in months (default: {what}).")(f)
        return horizon_option(f"Months to simulate (default: {what}).")(f)
    return decorate
