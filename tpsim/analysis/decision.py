"""What a posterior means for the choice between an option and its counterfactual.

No file I/O. calibration/bayes.md is the user's description, with every formula; in short:

Decision metric
    ``m_i``: the option's money metric against the counterfactual (``npsv``, the net present
    social value, by default; or ``economic_npv``, ``fiscal_npv`` (= ``npv``),
    ``npv_parliament``; £ at the scenario's price year, as :func:`tpsim.analysis.appraisal.
    appraise` defines them) in run ``i`` of an ensemble whose runs each take one posterior
    draw (resampled by weight; every model of the comparison gets the drawn values, as an
    ``uncertainty: posterior:`` section gives them) and a draw of any other uncertain
    parameter of the scenarios' ``uncertainty:`` sections. ``P(m > 0)`` is the share of runs
    with ``m_i > 0``.

Expected value of perfect information (EVPI), per place, £
    With the net benefit of the option ``m`` and of the counterfactual 0,
    ``EVPI = E[max(m, 0)] - max(E[m], 0)``: what knowing every parameter before choosing
    would be worth.

Expected value of partial perfect information (EVPPI) of parameter j, £
    ``EVPPI_j = E_j[max(E[m | x_j], 0)] - max(E[m], 0)``, with ``E[m | x_j]`` estimated by
    the mean of ``m`` within ``B = min(50, round(sqrt(runs)))`` equal-count bins of ``x_j``
    (the binned regression of Strong and Oakley's single-parameter method; tied values of
    ``x_j`` always share a bin). The bin means
    carry Monte Carlo noise, which biases the estimate upwards by at most about
    ``E|noise|``; it is clipped to ``[0, EVPI]``.

Months of pilot data until the decision is clear
    For each of ``futures`` simulated futures: a "true" draw ``i*`` is taken from the
    posterior, and new monthly observations ``y`` of every matched series are simulated from
    it with observation noise (:func:`tpsim.analysis.bayes.future_noise_sd`). Each posterior
    draw ``i`` is re-weighted by the likelihood of the new months up to month ``T + t``
    (the integrated-noise likelihood of :mod:`tpsim.analysis.bayes` over all months so
    far, divided by that of the months already fitted). ``P_t = sum_i w_i(t) 1[m_i > 0]``;
    the decision is clear at the first ``t`` with ``P_t >= 0.9`` (go) or ``<= 0.1`` (stop).
    Reported: the share of futures decided within each number of months, the median months,
    and the smallest importance effective sample size met (a small one says the re-weighted
    draws are too few to trust the tail of ``t``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tpsim.analysis.bayes import (Likelihood, Posterior, future_noise_sd, noise_scales,
                                  resample_indices)
from tpsim.analysis.calibration import CalibrationProblem

__all__ = ["DecisionDraws", "DECISION_METRICS", "METRIC_WORDS", "decision_draws", "probability_positive", "evpi", "evppi",
           "value_of_information", "months_until_decision", "summary_lines", "GO", "STOP"]

#: P(m > 0) at or above GO says go; at or below STOP says stop.
GO, STOP = 0.9, 0.1


@dataclass
class DecisionDraws:
    """Per run ``i``: the option's metric ``metric[i]`` (£), the posterior draw it used
    (``draw[i]``, a row of the posterior) and every uncertain parameter's value
    (``values[path]``, the option's own units)."""

    option: str
    counterfactual: str
    metric_name: str
    metric: np.ndarray
    draw: np.ndarray
    values: dict[str, np.ndarray]

    @property
    def runs(self) -> int:
        return int(self.metric.size)


#: The decision metrics, each with the ensemble metric (tpsim.analysis.ensemble.METRICS) it reads.
DECISION_METRICS = {"npsv": "npsv", "economic_npv": "economic_npv", "fiscal_npv": "npv",
                    "npv": "npv", "npv_parliament": "npv_parliament"}


#: Each decision metric in words, for the printed summary and the "what we learnt" page.
METRIC_WORDS = {"npsv": "NPSV", "economic_npv": "economic NPV", "fiscal_npv": "fiscal NPV",
                "npv": "fiscal NPV", "npv_parliament": "fiscal NPV within the Parliament"}


def decision_draws(posterior: Posterior, option, counterfactual, *, metric: str = "npsv",
                   runs: int = 4096, seed: int = 0) -> DecisionDraws:
    """Simulate ``runs`` runs of ``option`` against ``counterfactual`` (validated
    :class:`~tpsim.config.scenario.Scenario` objects) over the posterior (and the scenarios'
    own uncertainty sections): one kernel call per model. ``metric`` is one of
    :data:`DECISION_METRICS`."""
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.sampling import with_posterior
    from tpsim.config.posterior import PosteriorDraws

    if metric not in DECISION_METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of "
                         f"{', '.join(DECISION_METRICS)}")
    job = en.prepare([option], counterfactual, runs=runs, seed=seed)
    draws = PosteriorDraws(tuple(posterior.names), posterior.draws, posterior.log_posterior,
                           posterior.weights, "posterior")
    job.plan = with_posterior(job.plan, job.models, draws)
    u = job.plan.unit(job.sampler, seed, 0, runs)
    data = en.evaluate(job, u)
    column_name = DECISION_METRICS[metric]
    m = data.metrics[:, job.metric_labels.index(f"{column_name}|{option.name}")]
    post_factor = job.plan.d - 1
    column = next(a for a in job.plan.assignments[1] if a.factor == post_factor).dist
    values = {a.path: np.asarray(a.dist.ppf(u[:, a.factor]), dtype=float)
              for a in job.plan.assignments[1]}
    return DecisionDraws(option.name, counterfactual.name, metric, np.asarray(m, dtype=float),
                         column.index(u[:, post_factor]), values)


def probability_positive(metric: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``P(m > 0)``: the (weighted) share of runs with a positive metric."""
    m = np.asarray(metric, dtype=float)
    w = np.full(m.size, 1.0 / m.size) if weights is None else weights / np.sum(weights)
    return float(np.sum(w * (m > 0)))


def evpi(metric: np.ndarray) -> float:
    """``E[max(m, 0)] - max(E[m], 0)`` (£; the choice is option against counterfactual)."""
    m = np.asarray(metric, dtype=float)
    return float(np.mean(np.maximum(m, 0.0)) - max(float(np.mean(m)), 0.0))


def evppi(metric: np.ndarray, values: np.ndarray, bins: int | None = None) -> float:
    """The EVPPI of one parameter (module docstring), clipped to ``[0, EVPI]``."""
    m = np.asarray(metric, dtype=float)
    x = np.asarray(values, dtype=float)
    n = m.size
    b = bins or max(2, min(50, int(round(math.sqrt(n)))))
    if np.ptp(x) == 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    # equal-count bins of the sorted values; tied values share the bin of their first
    # occurrence, so a bin never splits one value of x (which would let it see other
    # parameters through the order of the ties)
    position_bin = np.arange(n) * b // n
    _, first, inverse = np.unique(x[order], return_index=True, return_inverse=True)
    bin_of = np.empty(n, dtype=np.int64)
    bin_of[order] = position_bin[first][inverse]
    sums = np.bincount(bin_of, weights=m, minlength=b)
    counts = np.bincount(bin_of, minlength=b)
    live = counts > 0
    inner = float(np.sum(np.maximum(sums[live] / counts[live], 0.0) * counts[live])) / n
    value = inner - max(float(np.mean(m)), 0.0)
    return float(min(max(value, 0.0), evpi(m)))


def value_of_information(d: DecisionDraws) -> dict:
    """EVPI and each uncertain parameter's EVPPI (£ per place), largest first, with the
    expected value of the best choice now."""
    m = d.metric
    total = evpi(m)
    partial = {path: evppi(m, v) for path, v in d.values.items() if np.ptp(v) > 0}
    return {
        "metric": d.metric_name,
        "runs": d.runs,
        "expected_metric": float(np.mean(m)),
        "probability_positive": probability_positive(m),
        "choice_now": "option" if np.mean(m) > 0 else "counterfactual",
        "evpi": total,
        "evppi": dict(sorted(partial.items(), key=lambda kv: -kv[1])),
        "method": "EVPI = E[max(m, 0)] - max(E[m], 0); EVPPI_j by binned regression of m on "
                  "x_j (min(50, sqrt(runs)) equal-count bins), clipped to [0, EVPI]",
    }


def months_until_decision(problem: CalibrationProblem, posterior: Posterior, d: DecisionDraws,
                          *, months: int = 24, futures: int = 200, seed: int = 0) -> dict:
    """Simulate future pilot data from the posterior predictive and find, for each future,
    the month at which ``P(m > 0)`` first leaves (0.1, 0.9) (module docstring). ``d`` must be
    the decision draws of ``posterior``. One kernel call."""
    rng = np.random.default_rng(seed)
    last = problem.fit_model.n_months
    months = int(max(0, min(months, problem.model.n_months - last)))
    w0 = posterior.normalised_weights
    p_now = probability_positive(d.metric)
    out = {"months_fitted": last, "months_ahead": months, "futures": futures,
           "probability_positive_now": p_now, "go": GO, "stop": STOP}
    if p_now >= GO or p_now <= STOP:
        out.update(already_decided=True, decided_by_month={str(t): 1.0 for t in
                                                           range(months + 1)},
                   median_months=0, share_go=float(p_now >= GO), share_stop=float(p_now <= STOP),
                   smallest_importance_ess=float(posterior.n))
        return out
    if months == 0:
        out.update(already_decided=False, decided_by_month={"0": 0.0}, median_months=None,
                   share_go=0.0, share_stop=0.0, smallest_importance_ess=float(posterior.n))
        return out
    # every draw's metric: the mean over the decision runs that used it (the other
    # uncertainties averaged); a draw no run used has no information on the metric
    count = np.bincount(d.draw, minlength=posterior.n).astype(float)
    positive = np.bincount(d.draw, weights=(d.metric > 0).astype(float), minlength=posterior.n)
    used = count > 0
    p_pos = np.where(used, positive / np.maximum(count, 1.0), 0.0)
    base_w = np.where(used, w0, 0.0)
    base_w = base_w / base_w.sum()

    # every draw simulated over the whole horizon (one kernel call)
    results = problem.simulate_results(posterior.draws, full_horizon=True)
    future = slice(last, last + months)
    like = Likelihood(problem)
    sim_obs = np.concatenate([results[t.name][:, t.months - 1] for t in problem.targets],
                             axis=1)
    r_old = (sim_obs - problem.observed) * problem.factor
    paths = {t.name: np.asarray(results[t.name], dtype=float) for t in problem.targets}
    sigma = noise_scales(problem, sim_obs, rng)
    sd = future_noise_sd(problem, sigma, paths)

    truths = resample_indices(w0, futures, rng)
    decided_at = np.full(futures, -1)
    verdict = np.zeros(futures, dtype=int)       # +1 go, -1 stop
    smallest_ess = math.inf
    for f, i_true in enumerate(truths):
        log_w = np.log(np.where(base_w > 0, base_w, 1e-300))
        log_w = np.broadcast_to(log_w[:, None], (posterior.n, months)).copy()
        for k, (t, (sl, known_se, n_k)) in enumerate(zip(problem.targets, like.slices)):
            sim_f = paths[t.name][:, future]                     # draws x months
            noise = sd[t.name][i_true, future]
            y = sim_f[i_true] + rng.standard_normal(months) * noise
            if known_se:
                se = np.where(noise > 0, noise, np.inf)
                log_w += -0.5 * np.cumsum(((sim_f - y) / se) ** 2, axis=1)
            else:
                factor = math.sqrt(t.weight) / t.scale
                ss_old = np.sum(r_old[:, sl] ** 2, axis=1)
                ss_new = np.cumsum(((sim_f - y) * factor) ** 2, axis=1)
                n_new = np.arange(1, months + 1)
                log_w += (-0.5 * (n_k + n_new) * np.log(ss_old[:, None] + ss_new)
                          + 0.5 * n_k * np.log(ss_old)[:, None])
        log_w -= log_w.max(axis=0, keepdims=True)
        w = np.exp(log_w)
        w /= w.sum(axis=0, keepdims=True)
        ess = 1.0 / np.sum(w ** 2, axis=0)
        p_t = p_pos @ w
        hit = np.flatnonzero((p_t >= GO) | (p_t <= STOP))
        upto = hit[0] + 1 if hit.size else months
        smallest_ess = min(smallest_ess, float(ess[:upto].min()))
        if hit.size:
            decided_at[f] = hit[0] + 1
            verdict[f] = 1 if p_t[hit[0]] >= GO else -1
    decided = decided_at > 0
    by_month = {str(t): float(np.mean(decided & (decided_at <= t))) for t in range(months + 1)}
    median = None
    if np.mean(decided) >= 0.5:
        median = int(np.sort(np.where(decided, decided_at, months + 1))[(futures - 1) // 2])
    out.update(already_decided=False, decided_by_month=by_month, median_months=median,
               share_go=float(np.mean(verdict == 1)), share_stop=float(np.mean(verdict == -1)),
               share_undecided=float(np.mean(~decided)),
               smallest_importance_ess=smallest_ess)
    if smallest_ess < 50:
        out["warning"] = (f"the re-weighted posterior fell to an effective {smallest_ess:.0f} "
                          f"draws in some futures: later months are rough; sample more draws")
    return out


def summary_lines(voi: Mapping, months: Mapping | None, money) -> list[str]:
    """Plain-text lines of the value of information (``money`` formats £)."""
    words = METRIC_WORDS.get(voi["metric"], voi["metric"])
    lines = [f"P({words} > 0) = {voi['probability_positive']:.2f}; expected "
             f"{words} {money(voi['expected_metric'])}; the best choice now: "
             f"{voi['choice_now']}",
             f"expected value of perfect information: {money(voi['evpi'])} per place"]
    for path, v in list(voi["evppi"].items())[:6]:
        lines.append(f"  EVPPI {path}: {money(v)}")
    if months:
        if months.get("already_decided"):
            lines.append("the decision is already clear (P outside 0.1-0.9)")
        else:
            med = months.get("median_months")
            ahead = months["months_ahead"]
            share = months["decided_by_month"].get(str(ahead), 0.0)
            median = str(med) if med is not None else f"more than {ahead}"
            lines.append(f"months of further pilot data until P leaves 0.1-0.9: median "
                         f"{median}; decided within {ahead} months in {100 * share:.0f}% of "
                         f"{months['futures']} simulated futures")
    return lines
