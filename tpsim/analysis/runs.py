"""Per-run tables of an ensemble: each run's sampled inputs and its outcomes, block by block.

The ensemble (:mod:`tpsim.analysis.ensemble`) reduces runs as it goes; this module turns the
same runs into rows instead, for ``tpsim ensemble --save-runs`` (streamed to a gzip CSV, so a
million runs never sit in memory) and for scenario discovery (kept as float arrays: inputs
runs x factors and a few outcome columns, ~130 MB for a million runs of 15 factors).

Inputs: one column per uncertain factor, the drawn value as its distribution gives it (an
absolute value, or the multiplier of a ``relative: true`` draw); a posterior factor gives one
column per posterior parameter. Outcomes, per scenario against the counterfactual: every
metric the ensemble computes (:data:`tpsim.analysis.ensemble.METRICS`: ``npv`` the fiscal NPV,
``npv_parliament``, ``bcr``, ``npsv``, ``economic_npv``), ``payback`` (month, inf when not
within the horizon), ``fiscal_npv.<agency>`` and ``fiscal_npv.pool`` (each agency's and the
pool's fiscal NPV, from :func:`tpsim.analysis.ensemble.run_outcomes`) and ``section_114.<council>``
(the month a council's reserves first fall below zero, inf when they do not), with
``section_114`` the earliest of any council.
"""
from __future__ import annotations

import gzip
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from tpsim.analysis import ensemble as en
from tpsim.analysis.sampling import BLOCK

__all__ = ["InputColumn", "input_columns", "input_values", "shared_councils", "reserve_series",
           "agency_rows", "outcome_names",
           "outcomes", "stream_runs", "RunsCsvWriter", "RunsCollector"]


@dataclass(frozen=True)
class InputColumn:
    """One sampled input: factor column ``factor`` of the unit points, mapped through ``dist``
    of parameter ``path`` (``relative``: the value is a multiplier)."""

    label: str
    factor: int
    path: str
    relative: bool
    dist: object

    def values(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(self.dist.ppf(u[:, self.factor]), dtype=float)


def input_columns(job: en.EnsembleJob) -> list[InputColumn]:
    """The job's sampled inputs, scenarios' own distributions first (a shared draw maps one
    point through each model's distribution; the scenarios' is the one a reader asks about)."""
    plan = job.plan
    order = [*job.scenario_indices, 0]
    seen: dict[tuple[int, str], InputColumn] = {}
    for k in order:
        for a in plan.assignments[k]:
            key = (a.factor, a.path)
            if key in seen:
                continue
            factor = plan.factors[a.factor]
            label = factor.label if factor.path == a.path else a.path
            seen[key] = InputColumn(label, a.factor, a.path, a.relative, a.dist)
    return sorted(seen.values(), key=lambda c: (c.factor, c.label))


def input_values(columns: Sequence[InputColumn], u: np.ndarray) -> np.ndarray:
    """runs x inputs of drawn values."""
    if not columns:
        return np.empty((u.shape[0], 0))
    return np.column_stack([c.values(u) for c in columns])


def shared_councils(scenarios: Sequence, counterfactual) -> tuple[str, ...]:
    """The councils (agencies of type council: a section 114 notice is a council's) that the
    counterfactual and every scenario have, sorted."""
    from tpsim.analysis.cashflow import councils

    common = set(councils(counterfactual))
    for s in scenarios:
        common &= councils(s)
    return tuple(sorted(common))


def reserve_series(councils: Sequence[str]) -> tuple[str, ...]:
    """The series a job must track for the section 114 month of each council."""
    return tuple(f"reserves.agency.{c}" for c in councils)


def agency_rows(job: en.EnsembleJob) -> list[str]:
    """The rows of the per-agency fiscal NPV columns: every scenario's agencies in order of
    first appearance, then ``pool``."""
    rows = dict.fromkeys(a for k in job.scenario_indices for a in job.accounts[k].agencies)
    return [*rows, "pool"]


def outcome_names(job: en.EnsembleJob, councils: Sequence[str] = ()) -> list[str]:
    """The outcome columns of one scenario (same for each)."""
    names = list(en.METRICS) + ["payback"] + [f"fiscal_npv.{r}" for r in agency_rows(job)]
    if councils:
        names += ["section_114"] + [f"section_114.{c}" for c in councils]
    return names


def _first_negative_month(x: np.ndarray) -> np.ndarray:
    """runs x months -> the month (1-based) of the first negative value, inf if none."""
    below = x < 0.0
    first = np.argmax(below, axis=1).astype(float) + 1.0
    first[~below.any(axis=1)] = math.inf
    return first


def outcomes(job: en.EnsembleJob, data: en.BlockData, s: int,
             councils: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Outcome columns of scenario ``s`` (0-based among the scenarios) for the runs of
    ``data``: float arrays; ``payback`` and section 114 months are inf when they do not
    happen within the horizon."""
    k = list(job.scenario_indices)[s]
    name = job.names[k]
    labels = job.metric_labels
    out = {m: data.metrics[:, labels.index(f"{m}|{name}")] for m in en.METRICS}
    pb = data.payback[:, s].astype(float)
    pb[data.payback[:, s] == en.NEVER] = math.inf
    out["payback"] = pb
    by_agency = en.run_outcomes(job, data)[name]["fiscal_npv_by_agency"]
    n = data.metrics.shape[0]
    for r in agency_rows(job):  # NaN (an empty cell) for an agency this scenario lacks
        out[f"fiscal_npv.{r}"] = by_agency.get(r, np.full(n, np.nan))
    if councils:
        row = {entry: t for t, entry in enumerate(job.tracked)}
        months = [_first_negative_month(data.tracked[:, row[(f"reserves.agency.{c}", k, False)], :])
                  for c in councils]
        out["section_114"] = np.min(np.stack(months), axis=0)
        for c, m in zip(councils, months):
            out[f"section_114.{c}"] = m
    return out


def stream_runs(job: en.EnsembleJob, observe: Callable[[int, np.ndarray, en.BlockData], None],
                progress: Callable[[int], None] | None = None) -> None:
    """Simulate every run of ``job`` in order, block by block and slice by slice as
    :func:`tpsim.analysis.ensemble.run_chunk` does (the same points, so the same runs), and
    hand each slice to ``observe(first run, unit points, BlockData)`` without reducing it."""
    from tpsim.models.simulate import Buffers

    buffers = [Buffers() for _ in job.models]
    size = en.SLICE_PER_THREAD * numba.get_num_threads()
    for block in range(job.n_blocks):
        start = block * BLOCK
        stop = min(job.n_runs, start + BLOCK)
        u = job.plan.unit(job.sampler, job.seed, start, stop)
        params = en.parameters(job, u)
        for s0 in range(0, stop - start, size):
            part = slice(s0, s0 + size)
            observe(start + s0, u[part],
                    en.evaluate(job, u[part], [(th[part], ev[part]) for th, ev in params],
                                buffers))
        if progress is not None:
            progress(stop - start)


def _cell(v: float) -> str:
    if not math.isfinite(v):
        return ""
    return repr(float(v))


class RunsCsvWriter:
    """Writes the tidy per-run table to a gzip CSV as slices arrive: one row per run and
    scenario, columns ``run``, ``option``, the inputs, then the outcomes (an empty cell: not
    within the horizon, or undefined). Use as the ``observe`` hook of
    :func:`stream_runs` or :func:`tpsim.analysis.ensemble.run_chunk`."""

    def __init__(self, path, job: en.EnsembleJob, councils: Sequence[str] = ()) -> None:
        self.job = job
        self.councils = tuple(councils)
        self.inputs = input_columns(job)
        self.outcome_names = outcome_names(job, self.councils)
        self.columns = (["run", "option"] + [c.label for c in self.inputs]
                        + self.outcome_names)
        self._raw = open(path, "wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6, mtime=0)
        self._text = io.TextIOWrapper(self._gz, encoding="utf-8", newline="")
        self._text.write(",".join(self.columns) + "\n")
        self.rows = 0

    def __call__(self, first: int, u: np.ndarray, data: en.BlockData) -> None:
        x = input_values(self.inputs, u)
        n = x.shape[0]
        lines = []
        for s, k in enumerate(self.job.scenario_indices):
            out = outcomes(self.job, data, s, self.councils)
            cols = np.column_stack([x] + [out[m] for m in self.outcome_names])
            option = self.job.names[k]
            for i in range(n):
                lines.append(f"{first + i},{option}," + ",".join(_cell(v) for v in cols[i]))
        self._text.write("\n".join(lines) + "\n")
        self.rows += n * len(self.job.scenario_indices)

    def close(self) -> None:
        self._text.close()
        self._raw.close()


class RunsCollector:
    """Keeps the inputs (runs x inputs, float64) and the outcome columns of one scenario in
    preallocated arrays, for discovery."""

    def __init__(self, job: en.EnsembleJob, s: int = 0, councils: Sequence[str] = ()) -> None:
        self.job, self.s, self.councils = job, s, tuple(councils)
        self.inputs = input_columns(job)
        self.x = np.empty((job.n_runs, len(self.inputs)))
        self.outcome_names = outcome_names(job, self.councils)
        self.y = {m: np.empty(job.n_runs) for m in self.outcome_names}

    def __call__(self, first: int, u: np.ndarray, data: en.BlockData) -> None:
        n = u.shape[0]
        self.x[first:first + n] = input_values(self.inputs, u)
        for m, v in outcomes(self.job, data, self.s, self.councils).items():
            self.y[m][first:first + n] = v
