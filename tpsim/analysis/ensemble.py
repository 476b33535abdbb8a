"""Monte Carlo ensembles: many runs of scenarios and their counterfactual under uncertain
parameters, reduced as they go (a million runs never hold their trajectories in memory).

Data flow of one *block* of runs (``BLOCK`` runs from :mod:`tpsim.config.uncertainty`)::

    points u (block seed)  -> theta per model (the same u for every model: paired draws)
    -> simulate (one kernel call per model, recording only the state entries needed)
    -> monthly series (differences of accumulators) -> NPSV, economic NPV, fiscal NPV (total
       and per agency), BCR, payback per run
    -> reduce into a Partial: histograms, per-block sums, exact counts -> discard trajectories

Determinism: run ``i``'s parameters depend only on ``(seed, i)``; a chunk is a range of whole
blocks; histograms and counts merge by integer addition; sums are kept per block and added in
block order at the end. So results are identical whatever the chunk size or the engine (local
or Dask), on the same machine.

Quantiles: fixed-bin histograms per series, month and statistic, with edges from a pilot
(block 0): its range widened by ``PAD`` on each side, ``bins`` equal bins, plus an underflow
bin ``[min, low edge]`` and an overflow bin ``[high edge, max]`` bounded by the exact minimum
and maximum. A percentile is estimated as numpy's "linear" percentile with each of the two
order statistics it interpolates replaced by the midpoint of the bin that holds it, so it is
within ``error_bound`` (half the width of those bins, at most half a bin width when both lie
in the regular bins) of ``numpy.percentile`` of the same runs.

Engines: ``local`` runs the blocks in this process (numba threads over runs); ``dask`` sends
chunks of blocks to a Dask cluster (a ``LocalCluster`` by default), each task one call of
:func:`run_chunk`, and merges the partials on the client.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from tpsim import __version__
from tpsim.analysis.appraisal import (Accounts, AppraisalSettings, discount_factors,
                                      monthly_flows)
from tpsim.errors import TpsimError
from tpsim.models.series import series_terms
from tpsim.models.structure import Model
from tpsim.models.simulate import Buffers, simulate
from tpsim.analysis.sampling import BLOCK, CENTRAL, UncertaintyPlan

__all__ = [
    "BLOCK", "PAD", "DEFAULT_BINS", "DEFAULT_SERIES", "PERCENTILES",
    "fiscal_metrics", "payback_months", "EnsembleJob", "make_job", "run_outcomes",
    "BlockData", "parameters", "trajectories", "named_series", "reduce_trajectories", "evaluate",
    "simulate_runs", "Edges", "pilot_edges", "Partial", "run_chunk", "merge",
    "histogram_percentiles", "run_local", "run_dask", "run_ensemble", "Summary", "central_case",
    "summarise", "prepare",
]

#: Pilot range widening on each side, as a fraction of the pilot's range.
PAD = 0.25
#: Runs simulated and reduced together, per numba thread, inside a block (a multiple of the
#: kernel's 64 lanes); results do not depend on it. A slice's month-end snapshots (~6.5 MB per
#: model per 256 runs for the shipped scenarios) then stay in the shared L3 cache between the
#: kernel and the reductions, whether one process runs 2 threads (local engine) or two Dask
#: workers run 1 each: measured 10-15% faster than whole 4,096-run blocks
#: (benchmarks/bench_ensemble.py, 2 cores).
SLICE_PER_THREAD = 256
DEFAULT_BINS = 1000
DEFAULT_METRIC_BINS = 4000
DEFAULT_SERIES = ("spend.total", "spend.kind.reactive", "spend.kind.preventive")
PERCENTILES = (2.5, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5)
METRICS = ("npv", "npv_parliament", "bcr", "npsv", "economic_npv", "npsv_parliament",
           "economic_npv_parliament")
"""Per-run figures of each scenario: ``npv`` (the fiscal NPV, horizon), ``npv_parliament``,
``bcr`` (fiscal), ``npsv`` (net present social value, the headline) and ``economic_npv``, and
the NPSV and economic NPV over the Parliament, as
:func:`tpsim.analysis.appraisal.appraise` defines them (its total row)."""
NEVER = -1  # payback month code for "not within the horizon"


def _appraisal_names(accounts: Accounts, settings: AppraisalSettings | None = None) -> list[str]:
    """The series :func:`tpsim.analysis.appraisal.monthly_flows` reads for the fiscal figures,
    and (given the scenario's ``settings``) those the economic NPV and the NPSV add: the
    full-cost value of reactive activity, QALYs, people in work and the declared outcome
    values."""
    names = ["spend.total", "spend.transition", "pool.balance", "pool.spend", "pool.reinvested"]
    for a in accounts.agencies:
        names += [f"spend.agency.{a}", f"overhead.agency.{a}", f"contribution.agency.{a}",
                  f"capture.agency.{a}"]
        names += [f"spend.service.{r}" for r in accounts.reactive[a]]
    if settings is not None:
        names += [f"value.service.{r}" for a in accounts.agencies for r in accounts.reactive[a]]
        names += [f"{m}.{c}" for m in ("qalys", "employed") for c in accounts.cohorts]
        names += [ov.series for ov in settings.outcome_values]
    return names


def _linear_terms(accounts: Accounts, settings: AppraisalSettings) -> list[tuple[str, float, int, int]]:
    """The parts of the economic NPV and the NPSV that are linear in the monthly change of a
    series: ``(series, £ per unit, weight row, group)`` with weight row 0 the standard benefit
    weights and 1 the health ones (:func:`benefit_weights`), group 0 the economic NPV (which
    the NPSV includes) and 1 the NPSV only.

    With ``RC`` the reactive cash spend, ``RV`` the full-cost value of non-transfer reactive
    activity and ``S`` the cashable savings of :func:`tpsim.analysis.appraisal.monthly_flows`,
    the economic benefit ``S - T + N - NT`` is ``S + ΔRC - ΔRV`` (transfers cancel out), so the
    economic NPV is the fiscal NPV plus ``Σ w × (ΔRC - ΔRV)`` plus the output of people in work.
    """
    transfers = accounts.transfers or {}
    terms = []
    for a in accounts.agencies:
        for r in accounts.reactive[a]:
            terms.append((f"spend.service.{r}", 1.0, 0, 0))
            if r not in transfers.get(a, ()):
                terms.append((f"value.service.{r}", -1.0, 0, 0))
    if settings.employment_output_value:
        terms += [(f"employed.{c}", settings.employment_output_value, 0, 0) for c in accounts.cohorts]
    if settings.value_qalys:
        terms += [(f"qalys.{c}", settings.qaly_value_used, 1, 1) for c in accounts.cohorts]
    for ov in settings.outcome_values:
        terms.append((ov.series, (-1.0 if ov.per == "avoided" else 1.0) * ov.value,
                      1 if ov.discount == "health" else 0, 1))
    return terms


def benefit_weights(n_months: int, settings: AppraisalSettings) -> np.ndarray:
    """2 x months: the present value of £1 of benefit modelled in month m (index 0 is month
    1), at the standard (row 0) and the health (row 1) discount rate, after optimism bias on
    benefits (:func:`tpsim.analysis.appraisal.adjust_benefits`: a benefit modelled in month m
    counts in month m + delay, cut by the haircut; nothing beyond the horizon)."""
    out = np.zeros((2, n_months))
    k = int(settings.benefit_delay_months)
    for row, rate in enumerate((settings.discount_rate, settings.health_discount_rate)):
        df = discount_factors(n_months, rate)
        if k < n_months:
            out[row, : n_months - k] = df[k:] * (1.0 - settings.benefit_haircut)
    return out


class _Series(dict):
    """One run's series by name for :func:`monthly_flows`; the outcome series the ensemble
    does not record read as no change (zeros over ``months``)."""

    def __init__(self, series: dict, months: int):
        super().__init__(series)
        self.months = months

    def __missing__(self, key: str) -> np.ndarray:
        if key.split(".", 1)[0] in ("escalations", "crisis_person_months", "exits", "qalys",
                                    "value", "employed", "employment_value", "activity"):
            return np.zeros(self.months)
        raise KeyError(key)


# ---------------------------------------------------------------------------------------------
# Fiscal appraisal of many runs at once
# ---------------------------------------------------------------------------------------------


def payback_months(discounted_net: np.ndarray) -> np.ndarray:
    """:func:`tpsim.analysis.appraisal.payback_month` for each row of a runs x months array:
    0 (never negative), the month (1-based), or ``NEVER`` (-1: not within the horizon)."""
    from tpsim.analysis.appraisal import payback_month

    x = np.asarray(discounted_net, dtype=float)
    if x.ndim != 2:
        raise ValueError("expected runs x months")
    months = (payback_month(row) for row in x)  # the one definition of payback, row by row
    return np.array([NEVER if m is None else m for m in months], dtype=np.int64)


def fiscal_metrics(scenario: dict, counterfactual: dict, accounts: Accounts,
                   settings: AppraisalSettings,
                   new_place_share: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Per-run appraisal of a scenario against its counterfactual, from named series shaped
    runs x months, computed with :mod:`tpsim.analysis.appraisal` itself, run by run (the
    reference for the fused kernel :func:`_fiscal`, which the tests hold to it).

    Returns, each over the runs: ``npv`` and ``npv_parliament`` (the fiscal NPV, £), ``bcr``
    (NaN where PV costs are <= £1e-6: undefined), ``npsv`` and ``economic_npv`` (£, horizon)
    and ``npsv_parliament`` and ``economic_npv_parliament`` (£, the Parliament),
    ``payback`` (month; ``NEVER`` for "not within the horizon") and ``by_agency`` (runs x
    rows: each agency's fiscal NPV, then the pool's), all as
    :func:`tpsim.analysis.appraisal.appraise` defines them. Series the figures need but
    ``scenario`` lacks (outcomes not recorded) count as no change.
    """
    from tpsim.analysis.appraisal import appraise, payback_month

    n_runs, n = np.asarray(scenario["spend.total"]).shape
    rows = (*accounts.agencies, "pool")
    out = {m: np.empty(n_runs) for m in METRICS}
    out["payback"] = np.empty(n_runs, dtype=np.int64)
    out["by_agency"] = np.empty((n_runs, len(rows)))
    valued = [ov.series for ov in settings.outcome_values]
    for i in range(n_runs):
        run_s = _Series({k: np.asarray(v)[i] for k, v in scenario.items()}, months=n)
        run_c = _Series({k: np.asarray(v)[i] for k, v in counterfactual.items()}, months=n)
        result = appraise(monthly_flows(run_s, run_c, accounts, new_place_share, valued),
                          settings)
        total = result.total
        out["npv"][i] = total["fiscal_npv_horizon"]
        out["npv_parliament"][i] = total["fiscal_npv_parliament"]
        out["bcr"][i] = np.nan if total["bcr"] is None else total["bcr"]
        out["npsv"][i] = total["npsv_horizon"]
        out["economic_npv"][i] = total["economic_npv_horizon"]
        out["npsv_parliament"][i] = total["npsv_parliament"]
        out["economic_npv_parliament"][i] = total["economic_npv_parliament"]
        month = payback_month(result.discounted_net)
        out["payback"][i] = NEVER if month is None else month
        out["by_agency"][i] = [result.rows[r]["fiscal_npv_horizon"] for r in rows]
    return out


@njit(cache=True, inline="always")
def _flow(traj, i, m, p):
    return traj[i, m + 1, p] - traj[i, m, p]


@njit(cache=True, inline="always")
def _split(traj, i, m, acc, react):
    """(investment, reactive spend) of one agency in month m+1, as
    :func:`tpsim.analysis.appraisal.agency_spend_split`; ``acc`` = positions of spend, overhead,
    contribution and capture accumulators, ``react`` = its reactive services' spend."""
    spend = _flow(traj, i, m, acc[0])
    overhead = _flow(traj, i, m, acc[1])
    transfers = _flow(traj, i, m, acc[2]) + _flow(traj, i, m, acc[3])
    reactive_cash = 0.0
    for r in react:
        reactive_cash = reactive_cash + _flow(traj, i, m, r)
    preventive = spend - overhead - transfers - reactive_cash
    services = preventive + reactive_cash
    share = preventive / services if services > 0.0 else 0.0
    share = min(max(share, 0.0), 1.0)
    investment = preventive + transfers + overhead * share
    return investment, spend - investment, preventive


@njit(cache=True, inline="always")
def _value(traj, i, m, p, is_flow):
    """Month m+1's value of recorded entry p: its flow over the month or its month-end stock."""
    return traj[i, m + 1, p] - traj[i, m, p] if is_flow else traj[i, m + 1, p]


@njit(cache=True, inline="always")
def _run_linear_terms(traj_s, traj_c, i, weights, last, lin_pos, lin_coef, lin_flow, lin_weight,
                      lin_group, lin_from_s):
    """Run i's economic and social terms beyond the fiscal stream (£ of present value):
    (economic, social) over the horizon and over benefits modelled by month ``last`` (the
    Parliament less the benefit delay: a benefit modelled in month m counts in month m +
    delay)."""
    months = traj_s.shape[1] - 1
    economic = social = economic_p = social_p = 0.0
    for j in range(lin_pos.shape[0]):
        w = weights[lin_weight[j]]
        traj = traj_s if lin_from_s[j] else traj_c
        term = 0.0
        term_p = 0.0
        for m in range(months):
            term += w[m] * _value(traj, i, m, lin_pos[j], lin_flow[j])
            if m + 1 == last:
                term_p = term
        if lin_group[j] == 0:
            economic += lin_coef[j] * term
            economic_p += lin_coef[j] * term_p
        else:
            social += lin_coef[j] * term
            social_p += lin_coef[j] * term_p
    return economic, social, economic_p, social_p


@njit(cache=True, inline="always")
def _run_payback(net, tolerance):
    """The payback month of a monthly stream of discounted net benefits: the month its
    cumulative sum is back at or above zero after going below ``-tolerance``; 0 when it never
    goes below, ``NEVER`` when it does not come back."""
    cumulative = 0.0
    went_negative = False
    result = 0
    for m in range(net.shape[0]):
        cumulative += net[m]
        if not went_negative:
            if cumulative < -tolerance:
                went_negative = True
                result = NEVER
        elif cumulative >= -tolerance:
            return m + 1
    return result


@njit(cache=True, parallel=True)
def _fiscal(traj_s, traj_c, acc_s, acc_c, react_ptr, react_s, react_c, pool_s, pool_c, prog_s,
            prog_c, share, df, weights, benefit_delay, optimism_bias, parliament, lin_pos,
            lin_coef, lin_flow, lin_weight, lin_group, lin_from_s, npv, npv_parliament, bcr, payback, npsv,
            economic, npsv_parliament, economic_parliament, by_row):
    """Fused per-run appraisal (the formulas of :func:`tpsim.analysis.appraisal.appraise`'s
    rows, which the tests hold it to): fiscal NPV in total (``npv``, ``npv_parliament``) and
    per agency and the pool (``by_row``, runs x rows), BCR, payback month, economic NPV and
    NPSV over the horizon and over the first ``parliament`` months. Benefits are weighted by ``weights[0]`` (``df`` after optimism bias on benefits)
    and counted ``benefit_delay`` months late in the fiscal stream, costs by ``df``; the economic and social terms are the linear terms ``lin_*`` (entry,
    £ per unit, flow or stock, weight row, group 0 economic / 1 social, from the scenario's
    trajectory or, negated, the counterfactual's). No temporaries beyond one month vector
    per run."""
    n = traj_s.shape[0]
    months = traj_s.shape[1] - 1
    nag = acc_s.shape[0]
    for i in prange(n):
        net = np.zeros(months)
        pv_costs = 0.0
        pv_benefits = 0.0
        absolute = 0.0
        for a in range(nag + 1):
            by_row[i, a] = 0.0
        for m in range(months):
            uplifted = 0.0
            cashable = 0.0
            for a in range(nag):
                inv_s, rea_s, pre_s = _split(traj_s, i, m, acc_s[a],
                                             react_s[react_ptr[a]:react_ptr[a + 1]])
                inv_c, rea_c, pre_c = _split(traj_c, i, m, acc_c[a],
                                             react_c[react_ptr[a]:react_ptr[a + 1]])
                base = min(max(pre_s - pre_c, 0.0), share[a, m] * pre_s)
                cost_a = inv_s - inv_c + optimism_bias * max(base, 0.0)
                saving_a = -(rea_s - rea_c)
                by_row[i, a] += weights[0, m] * saving_a - df[m] * cost_a
                uplifted += cost_a
                cashable += saving_a
            retained = _flow(traj_s, i, m, pool_s) - _flow(traj_c, i, m, pool_c)
            # the pool's programme spending net of recycled captured savings (optimism-bias base)
            programme = (_flow(traj_s, i, m, prog_s[0]) - _flow(traj_s, i, m, prog_s[1])
                         - _flow(traj_c, i, m, prog_c[0]) + _flow(traj_c, i, m, prog_c[1]))
            cost_pool = -retained + optimism_bias * max(programme, 0.0)
            by_row[i, nag] -= df[m] * cost_pool
            uplifted += cost_pool
            # a benefit modelled in month m counts in month m + delay (optimism bias on
            # benefits), so the stream, its Parliament part and its payback use that month
            net[m] -= df[m] * uplifted
            if m + benefit_delay < months:
                net[m + benefit_delay] += weights[0, m] * cashable
            pv_costs += df[m] * uplifted
            pv_benefits += weights[0, m] * cashable
        for m in range(months):
            absolute += abs(net[m])
        total = 0.0
        for m in range(months):
            total += net[m]
            if m + 1 == parliament:
                npv_parliament[i] = total
        npv[i] = total
        bcr[i] = pv_benefits / pv_costs if pv_costs > 1e-6 else np.nan
        extra_economic, extra_social, economic_p, social_p = _run_linear_terms(
            traj_s, traj_c, i, weights, parliament - benefit_delay, lin_pos, lin_coef,
            lin_flow, lin_weight, lin_group, lin_from_s)
        economic[i] = total + extra_economic
        npsv[i] = total + extra_economic + extra_social
        economic_parliament[i] = npv_parliament[i] + economic_p
        npsv_parliament[i] = npv_parliament[i] + economic_p + social_p
        payback[i] = _run_payback(net, max(1e-6, 1e-9 * absolute))


@njit(cache=True, parallel=True)
def _series_into(traj, ptr, pos, coef, is_flow, rows, out):
    """``out[:, rows[s], :] = series s`` for the series of one model, each the sum of
    ``coef x`` (month flow, or month-end stock) of recorded entries ``pos[ptr[s]:ptr[s+1]]``.
    One pass over the snapshots: every series of a run is computed while its snapshots are in
    cache."""
    n = traj.shape[0]
    months = traj.shape[1] - 1
    for i in prange(n):
        x = traj[i]
        for s in range(rows.shape[0]):
            t = rows[s]
            flow = is_flow[s]
            for m in range(months):
                out[i, t, m] = 0.0
            for j in range(ptr[s], ptr[s + 1]):
                p = pos[j]
                c = coef[j]
                if flow:
                    for m in range(months):
                        out[i, t, m] += c * (x[m + 1, p] - x[m, p])
                else:
                    for m in range(months):
                        out[i, t, m] += c * x[m + 1, p]


def _linear_arrays(terms_s: dict, terms_c: dict, linear: list) -> tuple[np.ndarray, ...]:
    """The ``lin_*`` arrays of :func:`_fiscal` for the linear terms of one scenario: every
    recorded entry of each series, once from the scenario's trajectory and once (negated) from
    the counterfactual's, so that each term is ``£ per unit x Δseries``."""
    rows = []
    for name, coef, weight, group in linear:
        for terms, sign, from_s in ((terms_s, 1.0, True), (terms_c, -1.0, False)):
            kind, pos, c = terms[name]
            rows += [(int(p), sign * coef * float(cc), kind == "flow", weight, group, from_s)
                     for p, cc in zip(pos, c)]
    cols = list(zip(*rows)) if rows else [()] * 6
    return (np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=float),
            np.array(cols[2], dtype=np.bool_), np.array(cols[3], dtype=np.int64),
            np.array(cols[4], dtype=np.int64), np.array(cols[5], dtype=np.bool_))


# ---------------------------------------------------------------------------------------------
# The job: everything a worker needs (picklable, no files)
# ---------------------------------------------------------------------------------------------


@dataclass
class _FiscalMap:
    """Positions in the recorded entries of scenario k (``*_s``) and the counterfactual
    (``*_c``) that the fused appraisal reads."""

    acc_s: np.ndarray
    acc_c: np.ndarray
    react_ptr: np.ndarray
    react_s: np.ndarray
    react_c: np.ndarray
    pool_s: int
    pool_c: int
    prog_s: np.ndarray   # pool.spend, pool.reinvested
    prog_c: np.ndarray
    share: np.ndarray    # agencies x months: new-place share of own preventive spend
    lin_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lin_coef: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lin_flow: np.ndarray = field(default_factory=lambda: np.zeros(0, np.bool_))
    lin_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lin_group: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lin_from_s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.bool_))


@dataclass
class EnsembleJob:
    """Models ``[counterfactual, scenario 1, ...]``, the uncertainty plan, what to record and
    reduce. ``tracked[t] = (series, model k, difference)``: the series of model k, or (when
    ``difference``) model k minus the counterfactual."""

    names: list[str]
    models: list[Model]
    discount: list[dict]
    plan: UncertaintyPlan
    sampler: str
    seed: int
    n_runs: int
    record: list[np.ndarray]
    terms: list[dict[str, tuple[str, np.ndarray, np.ndarray]]]
    tracked: list[tuple[str, int, bool]]
    accounts: list[Accounts]
    settings: list[AppraisalSettings | None]
    fiscal: list[_FiscalMap | None]
    bins: int = DEFAULT_BINS
    metric_bins: int = DEFAULT_METRIC_BINS
    edges: Edges | None = None

    @property
    def n_months(self) -> int:
        return self.models[0].n_months

    @property
    def scenario_indices(self) -> range:
        return range(1, len(self.models))

    @property
    def tracked_labels(self) -> list[str]:
        return [_tracked_label(self, t) for t in self.tracked]

    @property
    def metric_labels(self) -> list[str]:
        return [f"{m}|{self.names[k]}" for k in self.scenario_indices for m in METRICS]

    @property
    def n_blocks(self) -> int:
        return -(-self.n_runs // BLOCK)


def _tracked_label(job: EnsembleJob, tracked: tuple[str, int, bool]) -> str:
    series, k, diff = tracked
    return f"{series}|{job.names[k]}" + (f" - {job.names[0]}" if diff else "")


def make_job(names: Sequence[str], models: Sequence[Model], discount: Sequence[dict],
             plan: UncertaintyPlan, settings: Sequence[AppraisalSettings | None], *,
             runs: int, seed: int, sampler: str = "random",
             series: Sequence[str] = DEFAULT_SERIES, bins: int = DEFAULT_BINS,
             metric_bins: int = DEFAULT_METRIC_BINS,
             scenario_data: Sequence[Any] | None = None) -> EnsembleJob:
    """Build a job for models ``[counterfactual, scenarios...]``; ``scenario_data`` (each
    model's resolved scenario data, optional) marks the transfer services that the economic
    NPV and the NPSV leave out. Raises :class:`TpsimError` for an unknown series name or a
    counterfactual without a scenario's agencies/services."""
    if runs < 1:
        raise TpsimError(f"runs must be at least 1 (got {runs})", key="runs")
    if len({m.n_months for m in models}) != 1:
        raise TpsimError("the scenarios and the counterfactual must have the same horizon",
                         key="time.horizon")
    data = list(scenario_data) if scenario_data is not None else [None] * len(models)
    accounts = [Accounts.from_model(m, d) for m, d in zip(models, data)]
    needed: list[list[str]] = [list(series) for _ in models]
    for k in range(1, len(models)):
        names_k = _appraisal_names(accounts[k], settings[k])
        needed[k] += names_k
        needed[0] += names_k
    terms, record = [], []
    for k, model in enumerate(models):
        found = {}
        for name in dict.fromkeys(needed[k]):
            t = series_terms(model, name)
            if t is None:
                if name in series:
                    raise TpsimError(f"unknown series {name!r} for scenario {names[k]!r} (see "
                                     f"docs/uncertainty.md for the series an ensemble can track)")
                raise TpsimError(f"the counterfactual {names[0]!r} has no {name!r}: a scenario "
                                 f"and its counterfactual need the same agencies and services")
            found[name] = t
        index = sorted({i for t in found.values() for i in t.index})
        pos = {i: p for p, i in enumerate(index)}
        record.append(np.array(index, dtype=np.int64))
        terms.append({name: (t.kind, np.array([pos[i] for i in t.index], dtype=np.int64),
                             np.array(t.coef) / t.scale) for name, t in found.items()})
    from tpsim.analysis.comparison import new_place_shares
    shares = [None] + [new_place_shares(models[k], models[0]) for k in range(1, len(models))]
    fiscal: list[_FiscalMap | None] = [None]
    for k in range(1, len(models)):
        def one(j: int, name: str) -> int:
            return int(terms[j][name][1][0])
        acc = [[f"{w}.agency.{a}" for w in ("spend", "overhead", "contribution", "capture")]
               for a in accounts[k].agencies]
        react = [f"spend.service.{r}" for a in accounts[k].agencies for r in accounts[k].reactive[a]]
        ptr = np.cumsum([0] + [len(accounts[k].reactive[a]) for a in accounts[k].agencies])
        fiscal.append(_FiscalMap(
            np.array([[one(k, n) for n in row] for row in acc], dtype=np.int64),
            np.array([[one(0, n) for n in row] for row in acc], dtype=np.int64),
            ptr.astype(np.int64), np.array([one(k, n) for n in react], dtype=np.int64),
            np.array([one(0, n) for n in react], dtype=np.int64),
            one(k, "pool.balance"), one(0, "pool.balance"),
            np.array([one(k, "pool.spend"), one(k, "pool.reinvested")], dtype=np.int64),
            np.array([one(0, "pool.spend"), one(0, "pool.reinvested")], dtype=np.int64),
            np.array([shares[k][a] for a in accounts[k].agencies], dtype=float),
            *_linear_arrays(terms[k], terms[0], _linear_terms(accounts[k], settings[k]))))
    tracked = [(s, k, False) for s in series for k in range(len(models))]
    tracked += [(s, k, True) for s in series for k in range(1, len(models))]
    return EnsembleJob(list(names), list(models), [dict(d) for d in discount], plan, sampler,
                       int(seed), int(runs), record, terms, tracked, accounts, list(settings),
                       fiscal, int(bins), int(metric_bins))


# ---------------------------------------------------------------------------------------------
# Simulating a set of runs
# ---------------------------------------------------------------------------------------------


@dataclass
class BlockData:
    """What a set of runs leaves after simulation: tracked series (runs x tracked x months),
    metrics (runs x metric labels; NaN = undefined BCR), payback months (runs x scenarios)
    and each scenario's fiscal NPV per agency and the pool (``by_agency[s]``: runs x rows, in
    ``job.accounts[k].agencies`` order then the pool)."""

    tracked: np.ndarray
    metrics: np.ndarray
    payback: np.ndarray
    by_agency: list[np.ndarray] = field(default_factory=list)


def run_outcomes(job: EnsembleJob, data: BlockData) -> dict[str, dict[str, Any]]:
    """Each run's appraisal outcomes, by scenario name, from a reduced set of runs (no
    recomputation): ``npsv``, ``economic_npv``, ``fiscal_npv`` (£, horizon), ``bcr`` (NaN where
    undefined), ``payback_month`` (fiscal; -1 = not within the horizon) and
    ``fiscal_npv_by_agency`` (agency or ``pool`` -> £), each an array over the runs of
    ``data`` (for example a block from :func:`evaluate` or :func:`simulate_runs`)."""
    out = {}
    for s, k in enumerate(job.scenario_indices):
        name = job.names[k]

        def col(metric: str) -> np.ndarray:
            return data.metrics[:, job.metric_labels.index(f"{metric}|{name}")]

        rows = (*job.accounts[k].agencies, "pool")
        out[name] = {"npsv": col("npsv"), "economic_npv": col("economic_npv"),
                     "fiscal_npv": col("npv"), "bcr": col("bcr"),
                     "payback_month": data.payback[:, s],
                     "fiscal_npv_by_agency": {r: data.by_agency[s][:, j]
                                              for j, r in enumerate(rows)}}
    return out


def parameters(job: EnsembleJob, u: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(theta, event values) of every model at the points ``u`` (runs x factors)."""
    return [job.plan.parameters(k, model.theta0, model.ev_value0, u)
            for k, model in enumerate(job.models)]


def trajectories(job: EnsembleJob, u: np.ndarray,
                 params: list[tuple[np.ndarray, np.ndarray]] | None = None,
                 buffers: list[Buffers] | None = None) -> list[np.ndarray]:
    """Month-end snapshots (runs x months+1 x recorded entries) of every model at ``u``
    (``params``: their :func:`parameters`, if already computed; ``buffers``: one
    :class:`~tpsim.models.simulate.Buffers` per model to write into)."""
    out = []
    for k, model in enumerate(job.models):
        theta, ev = params[k] if params is not None else job.plan.parameters(
            k, model.theta0, model.ev_value0, u)
        raw = simulate(model, theta, ev, record=job.record[k], **job.discount[k],
                       out=buffers[k] if buffers is not None else None)
        out.append(raw.trajectory)
    return out


def named_series(job: EnsembleJob, k: int, trajectory: np.ndarray) -> dict[str, np.ndarray]:
    """Every series model ``k`` records, by name (runs x months), with numpy (tests, and the
    appraisal-module path :func:`fiscal_metrics`)."""
    flows = np.diff(trajectory, axis=1)
    stocks = trajectory[:, 1:, :]
    out = {}
    for name, (kind, pos, coef) in job.terms[k].items():
        src = flows if kind == "flow" else stocks
        total = np.zeros(src.shape[:2])
        for p, c in zip(pos, coef):
            total = total + c * src[:, :, p]
        out[name] = total
    return out


def reduce_trajectories(job: EnsembleJob, traj: Sequence[np.ndarray]) -> BlockData:
    """Tracked series and fiscal metrics of a set of runs (fused numba kernels)."""
    n = traj[0].shape[0]
    tracked = np.empty((n, len(job.tracked), job.n_months))
    row = {entry: t for t, entry in enumerate(job.tracked)}
    for k in range(len(job.models)):
        mine = [(t, name) for t, (name, kk, diff) in enumerate(job.tracked) if kk == k and not diff]
        if not mine:
            continue
        terms = [job.terms[k][name] for _, name in mine]
        ptr = np.cumsum([0] + [len(pos) for _, pos, _ in terms]).astype(np.int64)
        _series_into(traj[k], ptr, np.concatenate([pos for _, pos, _ in terms]),
                     np.concatenate([coef for _, _, coef in terms]),
                     np.array([kind == "flow" for kind, _, _ in terms]),
                     np.array([t for t, _ in mine], dtype=np.int64), tracked)
    for t, (name, k, diff) in enumerate(job.tracked):
        if diff:  # every series is tracked for each model too: reuse them
            tracked[:, t, :] = tracked[:, row[(name, k, False)], :] - tracked[:, row[(name, 0, False)], :]
    metrics = np.empty((n, len(job.metric_labels)))
    payback = np.empty((n, len(job.models) - 1), dtype=np.int64)
    by_agency = []
    for s, k in enumerate(job.scenario_indices):
        f, st = job.fiscal[k], job.settings[k]
        df = discount_factors(job.n_months, st.discount_rate)
        weights = benefit_weights(job.n_months, st)
        parliament = min(st.parliament_months, job.n_months)
        out = {m: np.empty(n) for m in METRICS}
        pb = np.empty(n, dtype=np.int64)
        rows = np.empty((n, len(job.accounts[k].agencies) + 1))
        _fiscal(np.ascontiguousarray(traj[k]), np.ascontiguousarray(traj[0]), f.acc_s, f.acc_c,
                f.react_ptr, f.react_s, f.react_c, f.pool_s, f.pool_c, f.prog_s, f.prog_c,
                np.ascontiguousarray(f.share), df, weights, int(st.benefit_delay_months),
                st.optimism_bias, parliament,
                f.lin_pos, f.lin_coef, f.lin_flow, f.lin_weight, f.lin_group, f.lin_from_s,
                out["npv"], out["npv_parliament"], out["bcr"], pb, out["npsv"],
                out["economic_npv"], out["npsv_parliament"], out["economic_npv_parliament"],
                rows)
        for j, m in enumerate(METRICS):
            metrics[:, s * len(METRICS) + j] = out[m]
        payback[:, s] = pb
        by_agency.append(rows)
    return BlockData(tracked, metrics, payback, by_agency)


def evaluate(job: EnsembleJob, u: np.ndarray,
             params: list[tuple[np.ndarray, np.ndarray]] | None = None,
             buffers: list[Buffers] | None = None) -> BlockData:
    """Simulate every model at the points ``u`` (runs x factors, already correlated) and
    reduce each run to its tracked series and fiscal metrics."""
    return reduce_trajectories(job, trajectories(job, u, params, buffers))


def simulate_runs(job: EnsembleJob, start: int, stop: int) -> BlockData:
    """Simulate runs ``start .. stop - 1`` and keep only what the reduction needs."""
    return evaluate(job, job.plan.unit(job.sampler, job.seed, start, stop))


# ---------------------------------------------------------------------------------------------
# Histogram edges, partial reductions and their merge
# ---------------------------------------------------------------------------------------------


@dataclass
class Edges:
    """Regular bins: ``low`` and ``width`` per tracked series and month, and per metric."""

    low: np.ndarray           # tracked x months
    width: np.ndarray         # tracked x months
    metric_low: np.ndarray    # metrics
    metric_width: np.ndarray  # metrics

    def centre(self, bins: int, metric_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """Shift for the per-block sums (numerically stable variances)."""
        return self.low + 0.5 * bins * self.width, self.metric_low + 0.5 * metric_bins * self.metric_width


def _edges_for(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(low edge, bin width) over axis 0 from the pilot's finite range, widened by PAD."""
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isfinite(values), values, np.nan)
        if values.shape[0] == 0 or np.all(np.isnan(finite)):
            low = np.zeros(values.shape[1:])
            high = np.ones(values.shape[1:])
        else:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low = np.nanmin(finite, axis=0)
                high = np.nanmax(finite, axis=0)
            low = np.where(np.isnan(low), 0.0, low)
            high = np.where(np.isnan(high), 1.0, high)
    span = high - low
    floor = np.maximum(1e-9 * np.maximum(np.abs(low), np.abs(high)), 1e-9)
    pad = np.maximum(PAD * span, floor)
    low = low - pad
    return low, (span + 2.0 * pad) / bins


def pilot_edges(job: EnsembleJob) -> Edges:
    """Edges from the pilot: the runs of block 0 (the first ``min(runs, BLOCK)`` runs)."""
    data = simulate_runs(job, 0, min(job.n_runs, BLOCK))
    low, width = _edges_for(data.tracked, job.bins)
    m_low, m_width = _edges_for(data.metrics, job.metric_bins)
    return Edges(low, width, m_low, m_width)


@njit(cache=True, parallel=True)
def _accumulate(values, low, inv_width, nbins, hist, vmin, vmax, centre, count, total,
                squares):
    """Add runs x cells values into ``hist`` (cells x nbins+2: underflow, bins, overflow);
    track the exact min and max, and add the count, sum and sum of squares of
    ``value - centre``; non-finite values are skipped. Threads take disjoint ranges of cells
    and each cell adds its runs in run order, so the sums do not depend on the threads."""
    n = values.shape[0]
    cells = values.shape[1]
    groups = min(cells, 64)
    for g in prange(groups):
        c0 = g * cells // groups
        c1 = (g + 1) * cells // groups
        for i in range(n):
            for c in range(c0, c1):
                v = values[i, c]
                if not np.isfinite(v):
                    continue
                d = v - centre[c]
                count[c] += 1
                total[c] += d
                squares[c] += d * d
                x = (v - low[c]) * inv_width[c]
                if x < 0.0:
                    j = 0
                elif x >= nbins:
                    j = nbins + 1
                else:
                    j = int(x) + 1
                hist[c, j] += 1
                if v < vmin[c]:
                    vmin[c] = v
                if v > vmax[c]:
                    vmax[c] = v


@dataclass
class Partial:
    """A mergeable reduction of some blocks of runs.

    ``hist``: tracked x months x (bins + 2) counts; ``vmin``/``vmax``: exact extremes;
    ``metric_hist``/``metric_min``/``metric_max`` likewise per metric; ``sums[block]`` =
    (count, sum, sum of squares) of shifted values for the tracked cells and for the metrics;
    ``payback``: scenarios x (months + 2) counts of payback month 0..H, then "never";
    ``wins``: runs where each scenario's fiscal NPV > 0; ``wins_npsv``: runs where its NPSV
    > 0; ``best``: runs where each model (the counterfactual at NPV 0, then each scenario) has
    the highest fiscal NPV.
    """

    n_runs: int
    hist: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    metric_hist: np.ndarray
    metric_min: np.ndarray
    metric_max: np.ndarray
    payback: np.ndarray
    wins: np.ndarray
    best: np.ndarray
    wins_npsv: np.ndarray
    sums: dict[int, tuple] = field(default_factory=dict)

    @classmethod
    def empty(cls, job: EnsembleJob) -> Partial:
        T, M, S = len(job.tracked), job.n_months, len(job.metric_labels)
        n_scen = len(job.models) - 1
        return cls(0, np.zeros((T, M, job.bins + 2), np.int64), np.full((T, M), np.inf),
                   np.full((T, M), -np.inf), np.zeros((S, job.metric_bins + 2), np.int64),
                   np.full(S, np.inf), np.full(S, -np.inf),
                   np.zeros((n_scen, M + 2), np.int64), np.zeros(n_scen, np.int64),
                   np.zeros(n_scen + 1, np.int64), np.zeros(n_scen, np.int64))

    def add(self, job: EnsembleJob, block: int, data: BlockData) -> None:
        """Reduce the runs of ``data`` (block ``block``, or its next slice in run order)."""
        edges = job.edges
        n = data.tracked.shape[0]
        T, M = len(job.tracked), job.n_months
        flat = data.tracked.reshape(n, T * M)
        hist = self.hist.reshape(T * M, -1)
        vmin, vmax = self.vmin.reshape(-1), self.vmax.reshape(-1)
        centre, metric_centre = edges.centre(job.bins, job.metric_bins)
        S = data.metrics.shape[1]
        if block not in self.sums:  # a block may arrive in consecutive slices of runs
            self.sums[block] = ((np.zeros((T, M), np.int64), np.zeros((T, M)), np.zeros((T, M))),
                                (np.zeros(S, np.int64), np.zeros(S), np.zeros(S)))
        tracked_moments = tuple(a.reshape(-1) for a in self.sums[block][0])
        metric_moments = self.sums[block][1]
        _accumulate(flat, edges.low.reshape(-1), 1.0 / edges.width.reshape(-1), job.bins,
                    hist, vmin, vmax, centre.reshape(-1), *tracked_moments)
        _accumulate(data.metrics, edges.metric_low, 1.0 / edges.metric_width, job.metric_bins,
                    self.metric_hist, self.metric_min, self.metric_max, metric_centre,
                    *metric_moments)
        n_scen = len(job.models) - 1
        if n_scen:
            codes = np.where(data.payback == NEVER, M + 1, data.payback)
            for s in range(n_scen):
                self.payback[s] += np.bincount(codes[:, s], minlength=M + 2)
            npv = data.metrics[:, [METRICS.index("npv") + len(METRICS) * s for s in range(n_scen)]]
            self.wins += (npv > 0).sum(axis=0)
            npsv = data.metrics[:, [METRICS.index("npsv") + len(METRICS) * s for s in range(n_scen)]]
            self.wins_npsv += (npsv > 0).sum(axis=0)
            with_cf = np.column_stack([np.zeros(n), npv])
            self.best += np.bincount(np.argmax(with_cf, axis=1), minlength=n_scen + 1)
        self.n_runs += n


def merge(a: Partial, b: Partial) -> Partial:
    """The reduction of the runs of ``a`` and ``b`` (disjoint blocks); exact."""
    overlap = set(a.sums) & set(b.sums)
    if overlap:
        raise ValueError(f"partials overlap in blocks {sorted(overlap)[:5]}")
    return Partial(a.n_runs + b.n_runs, a.hist + b.hist, np.minimum(a.vmin, b.vmin),
                   np.maximum(a.vmax, b.vmax), a.metric_hist + b.metric_hist,
                   np.minimum(a.metric_min, b.metric_min), np.maximum(a.metric_max, b.metric_max),
                   a.payback + b.payback, a.wins + b.wins, a.best + b.best,
                   a.wins_npsv + b.wins_npsv, {**a.sums, **b.sums})


def run_chunk(job: EnsembleJob, first_block: int, stop_block: int,
              progress: Callable[[int], None] | None = None,
              observe: Callable[[int, np.ndarray, BlockData], None] | None = None) -> Partial:
    """Simulate and reduce blocks ``first_block .. stop_block - 1`` (one Dask task).
    ``observe(first run, unit points, BlockData)``, if given, sees each slice of runs before
    it is reduced (the per-run table of :mod:`tpsim.analysis.runs`)."""
    partial = Partial.empty(job)
    buffers = [Buffers() for _ in job.models]  # reused by every slice
    for block in range(first_block, stop_block):
        start = block * BLOCK
        stop = min(job.n_runs, start + BLOCK)
        u = job.plan.unit(job.sampler, job.seed, start, stop)
        params = parameters(job, u)  # once per block: scipy's ppf has a per-call cost
        # slices of runs, in order, keep each slice's snapshots in cache while reduced
        size = SLICE_PER_THREAD * numba.get_num_threads()
        for s0 in range(0, stop - start, size):
            part = slice(s0, s0 + size)
            data = evaluate(job, u[part], [(th[part], ev[part]) for th, ev in params], buffers)
            if observe is not None:
                observe(start + s0, u[part], data)
            partial.add(job, block, data)
        if progress is not None:
            progress(stop - start)
    return partial


# ---------------------------------------------------------------------------------------------
# Percentiles from histograms
# ---------------------------------------------------------------------------------------------


def histogram_percentiles(hist: np.ndarray, low: np.ndarray, width: np.ndarray,
                          vmin: np.ndarray, vmax: np.ndarray,
                          percentiles: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Percentile estimates and their error bounds from ``cells x (bins + 2)`` histograms.

    numpy's "linear" method interpolates between the order statistics of ranks
    ``k = floor(h)`` and ``k + 1``, ``h = p / 100 x (n - 1)``; each is replaced by the midpoint
    of its bin (clipped to the exact [min, max]), so ``|estimate - numpy.percentile|`` is at
    most ``(1 - f) r_k + f r_k+1`` (``f = h - k``, ``r`` the half-width of the bin): the
    returned bound. Cells with no values give NaN.
    """
    shape = hist.shape[:-1]
    nb = hist.shape[-1] - 2
    h2 = hist.reshape(-1, nb + 2)
    low, width = low.reshape(-1), width.reshape(-1)
    vmin, vmax = vmin.reshape(-1), vmax.reshape(-1)
    cum = np.cumsum(h2, axis=1)
    n = cum[:, -1]
    j = np.arange(nb + 2)
    # interval of each bin, intersected with [vmin, vmax]
    left = low[:, None] + (j[None, :] - 1) * width[:, None]
    right = left + width[:, None]
    left[:, 0] = vmin
    right[:, 0] = low
    left[:, -1] = low + nb * width
    right[:, -1] = vmax
    left = np.clip(left, vmin[:, None], vmax[:, None])
    right = np.clip(right, vmin[:, None], vmax[:, None])
    mid, half = 0.5 * (left + right), 0.5 * np.abs(right - left)
    est = np.full((h2.shape[0], len(percentiles)), np.nan)
    bound = np.full_like(est, np.nan)
    rows = np.arange(h2.shape[0])
    live = n > 0
    for q, p in enumerate(percentiles):
        h = p / 100.0 * np.maximum(n - 1, 0)
        k = np.floor(h).astype(np.int64)
        f = h - k
        k1 = np.minimum(k + 1, np.maximum(n - 1, 0))
        b0 = np.argmax(cum > k[:, None], axis=1)
        b1 = np.argmax(cum > k1[:, None], axis=1)
        e = (1 - f) * mid[rows, b0] + f * mid[rows, b1]
        r = (1 - f) * half[rows, b0] + f * half[rows, b1]
        est[:, q] = np.where(live, e, np.nan)
        bound[:, q] = np.where(live, r, np.nan)
    return est.reshape(*shape, len(percentiles)), bound.reshape(*shape, len(percentiles))


# ---------------------------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------------------------


def _chunks(job: EnsembleJob, chunk_runs: int) -> list[tuple[int, int]]:
    per = max(1, -(-int(chunk_runs) // BLOCK))
    return [(b, min(b + per, job.n_blocks)) for b in range(0, job.n_blocks, per)]


def run_local(job: EnsembleJob, chunk_runs: int = 4 * BLOCK,
              progress: Callable[[int], None] | None = None,
              observe: Callable[[int, np.ndarray, BlockData], None] | None = None) -> Partial:
    """Run every chunk in this process (numba threads parallelise over runs), in run order;
    ``observe`` as in :func:`run_chunk`."""
    total = Partial.empty(job)
    for b0, b1 in _chunks(job, chunk_runs):
        total = merge(total, run_chunk(job, b0, b1, progress, observe))
    return total


def _dask_task(job: EnsembleJob, first_block: int, stop_block: int, numba_threads: int) -> Partial:
    import numba
    numba.set_num_threads(max(1, min(numba_threads, numba.config.NUMBA_NUM_THREADS)))
    return run_chunk(job, first_block, stop_block)


def _worker_version() -> str:
    from tpsim import __version__ as version
    return version


def run_dask(job: EnsembleJob, chunk_runs: int = 4 * BLOCK, scheduler: str | None = None,
             workers: int | None = None, numba_threads: int = 1,
             progress: Callable[[int], None] | None = None, client: Any = None) -> Partial:
    """Run the chunks as Dask tasks and merge their partials on the client.

    ``client``: an existing ``dask.distributed.Client``; else connect to ``scheduler`` (or
    ``DASK_SCHEDULER_ADDRESS``), else start a ``LocalCluster`` of ``workers`` processes with
    one thread each (default: the number of cores). Each task sets numba to
    ``numba_threads`` threads.
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise TpsimError("the dask engine needs Dask: pip install 'tpsim[dask]'") from None
    own_client = own_cluster = None
    if client is None:
        address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
        try:
            if address:
                own_client = client = Client(address, timeout="30s")
            else:
                own_cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                           threads_per_worker=1, processes=True,
                                           dashboard_address=":0")
                own_client = client = Client(own_cluster)
        except OSError as exc:
            raise TpsimError(f"cannot reach the Dask scheduler {address}: {exc}") from None
    try:
        versions = set(client.run(_worker_version).values())
        if versions - {__version__}:
            raise TpsimError(f"Dask workers run tpsim {', '.join(sorted(versions))}, this "
                             f"client {__version__}: install the same version on every worker")
        job_future = client.scatter(job, broadcast=True)
        chunks = _chunks(job, chunk_runs)
        futures = {client.submit(_dask_task, job_future, b0, b1, numba_threads, pure=False):
                   (b0, b1) for b0, b1 in chunks}
        total = Partial.empty(job)
        for future in as_completed(futures):
            total = merge(total, future.result())
            b0, b1 = futures[future]
            if progress is not None:
                progress(min(job.n_runs, b1 * BLOCK) - b0 * BLOCK)
            future.release()
        return total
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def run_ensemble(job: EnsembleJob, engine: str = "local", chunk_runs: int = 4 * BLOCK,
                 progress: Callable[[int], None] | None = None,
                 observe: Callable[[int, np.ndarray, BlockData], None] | None = None,
                 **dask_options) -> Partial:
    """Pilot (histogram edges from block 0), then every chunk on ``engine``; ``observe``
    (local engine only) as in :func:`run_chunk`."""
    if job.edges is None:
        job.edges = pilot_edges(job)
    if observe is not None and engine != "local":
        raise TpsimError("per-run outputs need the local engine", key="engine")
    if engine == "local":
        return run_local(job, chunk_runs, progress, observe)
    if engine == "dask":
        return run_dask(job, chunk_runs, progress=progress, **dask_options)
    raise TpsimError(f"unknown engine {engine!r}; expected local or dask")


# ---------------------------------------------------------------------------------------------
# Summary (no files)
# ---------------------------------------------------------------------------------------------


def _block_totals(partial: Partial, which: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, sum, sumsq) summed over blocks in block order (deterministic)."""
    blocks = sorted(partial.sums)
    parts = [partial.sums[b][which] for b in blocks]
    return tuple(np.sum(np.stack([p[i] for p in parts]), axis=0) for i in range(3))


def _mean_sd(count, total, squares, centre):
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_shifted = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        var = np.where(count > 1, (squares - count * mean_shifted ** 2) / np.maximum(count - 1, 1),
                       np.nan)
    return mean_shifted + centre, np.sqrt(np.maximum(var, 0.0))


@dataclass
class Summary:
    """Reduced results: quantiles of tracked series (tracked x months x percentiles) with error
    bounds, means; metric statistics; payback distributions and probabilities."""

    percentiles: tuple[float, ...]
    tracked_labels: list[str]
    quantiles: np.ndarray
    quantile_bounds: np.ndarray
    means: np.ndarray
    metrics: dict
    n_runs: int
    bin_widths: np.ndarray


def central_case(job: EnsembleJob) -> BlockData:
    """One run of every model with each uncertain factor at the scenario's own value
    (:data:`tpsim.analysis.sampling.CENTRAL`): the deterministic central case, the same run
    as ``tpsim compare``'s headline, reported beside the ensemble's mean and median."""
    return evaluate(job, np.full((1, job.plan.d), CENTRAL))


def summarise(job: EnsembleJob, partial: Partial,
              percentiles: Sequence[float] = PERCENTILES) -> Summary:
    """Percentiles, means and the metric distributions from a merged :class:`Partial`."""
    if partial.n_runs != job.n_runs:
        raise ValueError(f"partial holds {partial.n_runs} runs, the job {job.n_runs}")
    edges = job.edges
    q, qb = histogram_percentiles(partial.hist, edges.low, edges.width, partial.vmin,
                                  partial.vmax, percentiles)
    centre, metric_centre = edges.centre(job.bins, job.metric_bins)
    means, _ = _mean_sd(*_block_totals(partial, 0), centre)
    mq, mqb = histogram_percentiles(partial.metric_hist, edges.metric_low, edges.metric_width,
                                    partial.metric_min, partial.metric_max, percentiles)
    m_count, m_sum, m_sq = _block_totals(partial, 1)
    m_mean, m_sd = _mean_sd(m_count, m_sum, m_sq, metric_centre)
    central = central_case(job)
    metrics: dict[str, dict] = {}
    labels = job.metric_labels
    M = job.n_months
    for s, k in enumerate(job.scenario_indices):
        name = job.names[k]
        out: dict[str, Any] = {}
        for m in METRICS:
            i = labels.index(f"{m}|{name}")
            n_def = int(m_count[i])
            out[m] = {
                "runs": n_def,
                "deterministic": None if np.isnan(central.metrics[0, i]) else float(central.metrics[0, i]),
                "mean": float(m_mean[i]) if n_def else None,
                "sd": float(m_sd[i]) if n_def > 1 else None,
                "standard_error_of_mean": float(m_sd[i] / np.sqrt(n_def)) if n_def > 1 else None,
                "min": float(partial.metric_min[i]) if n_def else None,
                "max": float(partial.metric_max[i]) if n_def else None,
                "median": (float(mq[i][list(percentiles).index(50.0)])
                           if n_def and 50.0 in percentiles else None),
                "percentiles": {f"p{p:g}": float(v) for p, v in zip(percentiles, mq[i])} if n_def else {},
                "percentile_error_bound": float(np.nanmax(mqb[i])) if n_def else None,
                "bin_width": float(edges.metric_width[i]),
                "histogram": {"low": float(edges.metric_low[i]),
                              "width": float(edges.metric_width[i]),
                              "counts": partial.metric_hist[i].tolist()},
            }
        out["bcr"]["undefined_runs"] = int(partial.n_runs - out["bcr"]["runs"])
        counts = partial.payback[s]
        cum = np.cumsum(counts[: M + 1])
        median = int(np.argmax(cum >= partial.n_runs / 2.0)) if cum[-1] >= partial.n_runs / 2.0 else None
        out["payback"] = {
            "probability_by_month": {str(m): float(c / partial.n_runs)
                                     for m, c in enumerate(counts[: M + 1]) if c},
            "probability_never": float(counts[M + 1] / partial.n_runs),
            "probability_within_parliament": float(cum[min(job.settings[k].parliament_months, M)]
                                                   / partial.n_runs),
            "median_month": median,
            "deterministic_month": None if central.payback[0, s] == NEVER else int(central.payback[0, s]),
        }
        out["probability_beats_counterfactual"] = float(partial.wins[s] / partial.n_runs)
        out["probability_npsv_positive"] = float(partial.wins_npsv[s] / partial.n_runs)
        out["probability_best"] = float(partial.best[s + 1] / partial.n_runs)
        metrics[name] = out
    return Summary(tuple(percentiles), job.tracked_labels, q, qb, means, metrics,
                   partial.n_runs, edges.width)


def timed(fn: Callable, *args, **kwargs) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def prepare(scenarios: Sequence[Any], counterfactual: Any, *, runs: int, seed: int,
            sampler: str = "random", series: Sequence[str] = DEFAULT_SERIES,
            bins: int = DEFAULT_BINS, metric_bins: int = DEFAULT_METRIC_BINS,
            optimism_bias: float | None = None) -> EnsembleJob:
    """A job comparing validated :class:`~tpsim.config.scenario.Scenario` objects with a
    counterfactual: the uncertainty section of the first scenario that declares one applies
    to every scenario (and the counterfactual) that does not declare its own
    (:func:`tpsim.config.uncertainty.effective_sections`); shared draws are paired."""
    from tpsim.models.structure import compile_scenario
    from tpsim.analysis.sampling import build_plan, effective_sections

    ordered = [counterfactual, *scenarios]
    sections = effective_sections([*scenarios, counterfactual])
    sections = [sections[-1], *sections[:-1]]
    models = [compile_scenario(s) for s in ordered]
    base_values = [{p: float(m.theta0[c]) for p, c in m.param_index.items()} for m in models]
    names = [s.name for s in ordered]
    if len(set(names)) != len(names):
        raise TpsimError(f"scenario names must differ (got {', '.join(names)})")
    plan = build_plan(names, sections, models, base_values)
    discount = [{"discount_rate": s.appraisal["discount_rate"],
                 "health_discount_rate": s.appraisal["health_discount_rate"]}
                for s in ordered]
    settings = [None] + [AppraisalSettings.from_appraisal(s.appraisal, optimism_bias)
                         for s in scenarios]
    return make_job(names, models, discount, plan, settings, runs=runs, seed=seed,
                    sampler=sampler, series=series, bins=bins, metric_bins=metric_bins,
                    scenario_data=[s.data for s in ordered])
