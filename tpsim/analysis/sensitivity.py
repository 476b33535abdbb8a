"""Sensitivity analysis: one-at-a-time swings (a tornado) and Sobol variance indices.

Both methods work on a function ``evaluate(u) -> {output name: values}`` of points ``u``
(runs x factors) of the unit hypercube, so they apply to the model (:func:`model_evaluator`)
and to any test function alike. Factors are the uncertain parameters of
:mod:`tpsim.config.uncertainty` (one per shared path); a factor's value is its distribution's
``ppf(u)``.

* :func:`one_at_a_time`: every factor at its centre, then each factor alone at
  ``u = swing`` and ``u = 1 - swing`` (default the 5th and 95th percentiles): 1 + 2d runs.
  On the model the centre is :data:`tpsim.analysis.sampling.CENTRAL`, the scenario's own
  values, so the tornado's centre is the deterministic run the comparison's headline comes
  from (not the distributions' medians). Correlations are ignored (each factor moves alone).
* :func:`sobol`: first-order ``S1`` and total ``ST`` indices by ``scipy.stats.sobol_indices``
  (Saltelli 2010 estimators on a scrambled Sobol design, ``n (d + 2)`` runs, ``n`` a power of
  two), with bootstrap 95% confidence intervals. Sobol indices assume independent factors, so
  correlations are ignored here too.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from tpsim.analysis.sampling import BLOCK, CENTRAL

__all__ = ["one_at_a_time", "sobol", "model_evaluator", "OUTPUTS", "CENTRAL",
           "ComparisonUncertainty", "comparison_uncertainty"]

Evaluator = Callable[[np.ndarray], Mapping[str, np.ndarray]]

#: The model outputs analysed: fiscal NPV over the horizon (£) and the scenario's reactive
#: spend in month ``month`` (£ in the month).
OUTPUTS = ("npv", "reactive_spend")


def one_at_a_time(evaluate: Evaluator, d: int, swing: float = 0.05,
                  centre: float = 0.5) -> dict:
    """Swings of each output as each factor moves alone from ``u = swing`` to ``1 - swing``,
    the others at ``centre`` (a probability, or :data:`~tpsim.analysis.sampling.CENTRAL` for
    the scenario's own values when ``evaluate`` is :func:`model_evaluator`'s).

    Returns ``{"base": {out: value}, "low": {out: array d}, "high": {out: array d},
    "swing": swing}``; ``low[out][j]`` is the output with factor j at ``u = swing``.
    """
    if not 0.0 <= swing < 0.5:
        raise ValueError("swing must be in [0, 0.5)")
    u = np.full((1 + 2 * d, d), centre)
    for j in range(d):
        u[1 + 2 * j, j] = swing
        u[2 + 2 * j, j] = 1.0 - swing
    out = evaluate(u)
    return {"base": {k: float(v[0]) for k, v in out.items()},
            "low": {k: np.asarray(v[1::2], float) for k, v in out.items()},
            "high": {k: np.asarray(v[2::2], float) for k, v in out.items()},
            "swing": swing}


def sobol(evaluate: Evaluator, d: int, outputs: Sequence[str], n: int = 512, seed: int = 0,
          confidence_level: float = 0.95, n_resamples: int = 200) -> dict:
    """First-order and total Sobol indices of each output over ``d`` independent factors.

    ``n`` (a power of two) is the base sample; the model runs ``n (d + 2)`` times. Returns
    ``{out: {"first_order": array d, "total_order": array d, "first_order_ci": (low, high),
    "total_order_ci": (low, high), "variance": float}}`` plus ``"runs"``.
    """
    if n < 2 or n & (n - 1):
        raise ValueError("n must be a power of two (2, 4, ..., 512, 1024, ...)")
    if d < 1:
        raise ValueError("Sobol indices need at least one uncertain factor")
    calls = {"runs": 0}

    def func(x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        calls["runs"] += x.shape[1]
        result = evaluate(np.ascontiguousarray(x.T))
        return np.vstack([np.asarray(result[o], float) for o in outputs])

    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    res = stats.sobol_indices(func=func, n=n, dists=[stats.uniform(0.0, 1.0)] * d, rng=rng)
    with warnings.catch_warnings():  # BCa is undefined for a factor with no effect (NaN CI)
        warnings.simplefilter("ignore")
        boot = res.bootstrap(confidence_level=confidence_level, n_resamples=n_resamples)
    first = np.atleast_2d(res.first_order)
    total = np.atleast_2d(res.total_order)
    f_low = np.atleast_2d(boot.first_order.confidence_interval.low)
    f_high = np.atleast_2d(boot.first_order.confidence_interval.high)
    t_low = np.atleast_2d(boot.total_order.confidence_interval.low)
    t_high = np.atleast_2d(boot.total_order.confidence_interval.high)
    out: dict = {"runs": calls["runs"]}
    for i, name in enumerate(outputs):
        out[name] = {"first_order": first[i], "total_order": total[i],
                     "first_order_ci": (f_low[i], f_high[i]),
                     "total_order_ci": (t_low[i], t_high[i])}
    return out


def model_evaluator(job, month: int) -> Evaluator:
    """``evaluate(u)`` for a two-model :class:`tpsim.analysis.ensemble.EnsembleJob` (counterfactual,
    scenario) tracking ``spend.kind.reactive``: fiscal NPV and the scenario's reactive spend in
    ``month`` (1-based), run by run, in slices of ``BLOCK`` runs."""
    from tpsim.analysis.ensemble import evaluate as run_points

    t_reactive = job.tracked.index(("spend.kind.reactive", 1, False))
    i_npv = job.metric_labels.index(f"npv|{job.names[1]}")

    def evaluate(u: np.ndarray) -> dict[str, np.ndarray]:
        npv, reactive = [], []
        for start in range(0, u.shape[0], BLOCK):
            data = run_points(job, u[start: start + BLOCK])
            npv.append(data.metrics[:, i_npv])
            reactive.append(data.tracked[:, t_reactive, month - 1])
        return {"npv": np.concatenate(npv), "reactive_spend": np.concatenate(reactive)}

    return evaluate


@dataclass
class ComparisonUncertainty:
    """The uncertainty of a comparison: an ensemble of every scenario against the
    counterfactual (paired draws) and a one-at-a-time sensitivity of each scenario's fiscal NPV.

    ``job``/``summary``: the :class:`tpsim.analysis.ensemble.EnsembleJob` (tracking total
    public spend, £ a month) and its Summary, ``summary`` None when no scenario declares an
    uncertainty section; ``tornados``: scenario name -> (factor labels, :func:`one_at_a_time`
    result, NPV in £), for each scenario with uncertain factors.
    """

    job: object
    summary: object | None
    tornados: dict
    runs: int
    seed: int
    swing: float

    @property
    def has_factors(self) -> bool:
        return self.summary is not None


def comparison_uncertainty(scenarios: Sequence, counterfactual, runs: int, seed: int = 0,
                           optimism_bias: float | None = None,
                           swing: float = 0.05) -> ComparisonUncertainty:
    """Monte Carlo runs (``runs`` of them, seeded) of every scenario against the counterfactual
    under the scenarios' ``uncertainty`` sections (:mod:`tpsim.analysis.ensemble`, on this
    process), and each scenario's one-at-a-time NPV sensitivity with factors moved from
    quantile ``swing`` to ``1 - swing``. ``optimism_bias`` (a fraction) overrides the
    scenarios'."""
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.appraisal import PARLIAMENT_MONTHS

    scenarios = list(scenarios)
    job = en.prepare(scenarios, counterfactual, runs=runs, seed=seed, series=("spend.total",),
                     optimism_bias=optimism_bias)
    if job.plan.d == 0:
        return ComparisonUncertainty(job, None, {}, runs, seed, swing)
    job.edges = en.pilot_edges(job)
    summary = en.summarise(job, en.run_ensemble(job, "local"))
    tornados = {}
    for sc in scenarios:
        one = en.prepare([sc], counterfactual, runs=1, seed=seed,
                         series=("spend.kind.reactive",), optimism_bias=optimism_bias)
        if one.plan.d == 0:
            continue
        result = one_at_a_time(model_evaluator(one, min(PARLIAMENT_MONTHS, one.n_months)),
                               one.plan.d, swing, CENTRAL)
        tornados[sc.name] = (list(one.plan.labels), result)
    return ComparisonUncertainty(job, summary, tornados, runs, seed, swing)
