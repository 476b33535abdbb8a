"""Run a compiled model: validate inputs, preallocate outputs, call the numba kernel.

>>> from tpsim.config.scenario import load_scenario
>>> from tpsim.models.structure import compile_scenario
>>> model = compile_scenario(load_scenario("scenarios/baseline.yaml"))
>>> raw = simulate(model, model.theta(1000), record=False)   # totals only, 1,000 runs
>>> raw.final.shape                                          # (runs, state entries)
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numba
import numpy as np

from tpsim.analysis.discounting import monthly_factors
from tpsim.models import codegen, kernel
from tpsim.models.structure import Model

_log = logging.getLogger("tpsim")


@dataclass
class RawRun:
    """Kernel output: final state per run and month-end snapshots of the recorded entries."""

    final: np.ndarray          # runs x nstate (accumulators hold totals over the horizon)
    trajectory: np.ndarray     # runs x (n_months + 1) x len(record_index)
    record_index: np.ndarray   # state-vector indices recorded in ``trajectory``
    theta: np.ndarray          # runs x nparam, the parameters simulated
    ev_values: np.ndarray      # runs x n_events


class Buffers:
    """Output arrays kept between :func:`simulate` calls (an ensemble's slices), so repeated
    calls do not allocate and page-fault tens of MB each time. An array is reused when a
    request fits in it."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def take(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(shape))
        flat = self._arrays.get(name)
        if flat is None or flat.size < size:
            flat = self._arrays[name] = np.empty(size)
        return flat[:size].reshape(shape)


KERNELS = ("generated", "generic")

GENERATED_MAX_STATES = 400
"""Largest model (state entries) the generated kernel is used for. Its source grows with the
model and numba's compile time faster than that: the shipped baseline (283 entries, 2,600
lines) compiles in about 20 s cold, a place split into two deprivation bands (485 entries) in
about 60 s and into five (1,091 entries, 10,700 lines) in about 240 s; past this size the
generic kernel, compiled once for every model, runs instead. The choice depends on the model
alone, so a model's results never depend on the cache or the batch size."""


def kernel_for(model: Model, choice: str | None = None) -> str:
    """Which kernel runs ``model``: the generated one (:mod:`tpsim.models.codegen`) for Euler
    models of at most :data:`GENERATED_MAX_STATES` state entries, else the generic one.
    ``choice`` (or ``$TPSIM_KERNEL``) "generic" forces the generic kernel and "generated" the
    generated one for any Euler model (benchmarks and tests compare the two)."""
    choice = choice or os.environ.get("TPSIM_KERNEL")
    if choice is not None and choice not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {choice!r}")
    if choice is None:
        choice = "generated" if model.nstate <= GENERATED_MAX_STATES else "generic"
    return "generated" if choice == "generated" and model.method == "euler" else "generic"


def simulate(model: Model, theta: np.ndarray | None = None, ev_values: np.ndarray | None = None,
             record: bool | np.ndarray = True, discount_rate: float = 0.035,
             health_discount_rate: float = 0.015, out: Buffers | None = None,
             kernel_choice: str | None = None) -> RawRun:
    """Simulate every row of ``theta`` (default: the base parameters, one run).

    ``record``: True records every state entry at each month end, False none (totals only,
    the fast path for large batches), or an array of state indices to record.
    Discount rates (per year, Green Book schedule) weight the discounted accumulators.
    ``out``: :class:`Buffers` to write the results into when their sizes fit (the arrays of
    the returned :class:`RawRun` are then views of them, valid until the next call with the
    same buffers); else new arrays. ``kernel_choice``: see :func:`kernel_for`.
    """
    theta = model.runs_theta(theta)
    n_runs = theta.shape[0]
    if ev_values is None:
        ev_values = model.event_values(n_runs)
    ev_values = np.ascontiguousarray(np.atleast_2d(ev_values), dtype=np.float64)
    if ev_values.shape != (n_runs, model.ev_month.size):
        ev_values = ev_values.reshape(n_runs, model.ev_month.size)
    if record is True:
        record_index = np.arange(model.nstate, dtype=np.int64)
    elif record is False:
        record_index = np.zeros(0, dtype=np.int64)
    else:
        record_index = np.asarray(record, dtype=np.int64)
    traj_shape = (n_runs if record_index.size else 0, model.n_months + 1, record_index.size)
    if out is None:
        out = Buffers()
    out_final = out.take("final", (n_runs, model.nstate))
    out_traj = out.take("trajectory", traj_shape)
    disc = monthly_factors(model.n_months, discount_rate)
    disc_h = monthly_factors(model.n_months, health_discount_rate)
    generated = kernel_for(model, kernel_choice) == "generated"
    run = _run_generated if generated else _run_generic
    unit = (codegen.LANES if generated else kernel.LANES) * 8 * numba.get_num_threads()
    cost_key = (generated, model.npop, model.nstate, model.n_months * model.steps_per_month)
    for r0, r1 in _slices(n_runs, unit, cost_key):
        run(model, theta[r0:r1], ev_values[r0:r1], disc, disc_h, record_index, out_final[r0:r1],
            out_traj[r0:r1])
    return RawRun(out_final, out_traj, record_index, theta, ev_values)


SLICE_SECONDS = 0.5
"""Target duration of one kernel call: the runs are simulated in slices of about this long, so
a SIGINT or SIGTERM (whose Python handler runs only between kernel calls) takes effect within
about this time plus one slice's spread."""


_seconds_per_run: dict[tuple, float] = {}
"""The last measured kernel time per run, by (kernel, model size, steps): sizes the first
slice of the next call (an ensemble calls simulate for a few hundred runs at a time)."""


def _slices(n_runs: int, unit: int, cost_key: tuple = ()):
    """Run ranges ``(r0, r1)`` covering ``0 .. n_runs``, each sized so it lasts about
    :data:`SLICE_SECONDS`, in whole multiples of ``unit`` (one block per chunk of the
    kernel), from the time per run the previous slice (or call, by ``cost_key``) took; one
    ``unit`` first when nothing is known. The runs are independent, so slicing changes no
    result."""
    r0 = 0
    per_run = _seconds_per_run.get(cost_key)
    while r0 < n_runs:
        size = unit * max(1, int(SLICE_SECONDS / (per_run * unit))) if per_run else unit
        r1 = min(n_runs, r0 + size)
        start = time.perf_counter()
        yield r0, r1
        elapsed = time.perf_counter() - start
        if r1 - r0 >= unit or per_run is None:
            per_run = max(elapsed / (r1 - r0), 1e-9)
            _seconds_per_run[cost_key] = per_run
        r0 = r1


def _run_generated(model, theta, ev_values, disc, disc_h, record_index, out_final, out_traj):
    module = codegen.load(model)
    if codegen.is_warm(module) is False:
        _log.info("compiling the simulation kernel for this model's structure: about a minute "
                  "the first time; later runs load it from the cache in %s", codegen.cache_dir())
    record_rows = np.ascontiguousarray(module.XROW[record_index])
    module.simulate_batch(theta, model.ev_month, model.ev_param, ev_values, model.dt,
                          model.steps_per_month, model.n_months, disc, disc_h, record_rows,
                          module.XROW, out_final, out_traj, 8 * numba.get_num_threads())


def _run_generic(model, theta, ev_values, disc, disc_h, record_index, out_final, out_traj):
    if kernel.jit_cache_warm() is False:
        _log.info("compiling the simulation kernel: first use after installing, about "
                  "half a minute; later runs load it from numba's cache")
    s = model.structure
    nco, nag = len(model.cohorts), len(model.agencies)
    nprev, nreact = len(model.preventive), len(model.reactive)
    naux = model.npop + 2 * nprev + nreact + 3 * nag + 2
    ngrowth = nco + 2 * nag + 1
    kernel.simulate_batch(
        theta, model.ev_month, model.ev_param, ev_values, model.dt, model.steps_per_month,
        model.n_months, model.method == "rk4", disc, disc_h, record_index, out_final,
        out_traj, model.po, model.xo, nco, model.npop, nprev, nreact, nag, naux, ngrowth,
        s["pop_cohort"], s["pop_first"], s["pop_last"], model.pop_utility,
        s["prev_agency"], s["prev_order"], s["prev_stage0"], s["prev_ptr"], s["prev_pop"],
        s["react_agency"], s["react_ptr"], s["react_pop"], s["pop_prev_ptr"], s["pop_prev"],
        s["pop_react_ptr"], s["pop_react"], s["pop_ag_ptr"], s["pop_ag"],
        mechanism_arrays(model), numba.get_num_threads())


def mechanism_arrays(model: Model) -> tuple:
    """The ``mechanisms`` argument of :func:`tpsim.models.kernel.simulate_batch`."""
    s = model.structure
    return (s["pop_sub_ptr"], s["pop_sub"], s["trans_in_ptr"], s["trans_in"], s["ulink_prev"],
            s["sub_prev"], s["util_link_ptr"], s["util_link"])
