"""A Bayesian calibration of a config, and its update as new months of pilot data arrive.

The steps :mod:`tpsim.analysis.bayes` (posterior) and :mod:`tpsim.analysis.decision` (what it
means for the choice) provide, put together for ``tpsim calibrate --method bayes``,
``tpsim learn`` and :func:`tpsim.learn`. No file I/O: the commands write the results through
:mod:`tpsim.present.documents`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tpsim.analysis import bayes, decision
from tpsim.analysis.calibration import CalibrationProblem, Setup, build_targets
from tpsim.config.calibration import BayesSettings, CalibrationConfig
from tpsim.config.localdata import LocalData, combine_local_data

__all__ = ["BayesFit", "Learning", "prior_set", "bayes_fit", "decision_figures", "learn"]


@dataclass
class BayesFit:
    """A Bayesian fit: the config's ``setup`` and ``problem``, the ``priors``, the
    ``posterior`` draws, the posterior ``predictive`` over the horizon, and, when the config
    names a ``decision``, ``decision`` (P(metric > 0), EVPI, EVPPI, months until clear)."""

    config: CalibrationConfig = field(repr=False)
    setup: Setup = field(repr=False)
    problem: CalibrationProblem = field(repr=False)
    priors: tuple[bayes.Prior, ...]
    posterior: bayes.Posterior = field(repr=False)
    predictive: bayes.Predictive = field(repr=False)
    settings: BayesSettings
    decision: dict | None = None

    @property
    def summary(self) -> dict[str, dict]:
        return bayes.summarise(self.posterior)


def prior_set(config: CalibrationConfig, setup: Setup,
              problem: CalibrationProblem) -> tuple[bayes.Prior, ...]:
    """The priors of the config (``parameters.<path>.prior``), from the scenario's uncertainty
    section where a prior says ``uncertainty``; a problem is a ConfigError at that key."""
    try:
        return bayes.priors_for(problem, config.priors, setup.scenario.uncertainty)
    except ValueError as err:
        path = str(err).split(":")[0]
        raise config.error(("parameters", path, "prior"), str(err).split(": ", 1)[-1]) from None


def with_decision_metric(config: CalibrationConfig, metric: str | None) -> CalibrationConfig:
    """``config`` with its decision judged on ``metric`` (one of
    :data:`tpsim.analysis.decision.DECISION_METRICS`; None keeps the config's). A metric for a
    config without a ``decision`` section raises :class:`tpsim.errors.TpsimError`."""
    from tpsim.errors import TpsimError

    if metric is None:
        return config
    if metric not in decision.DECISION_METRICS:
        raise TpsimError(f"unknown decision metric {metric!r}; expected one of "
                         f"{', '.join(decision.DECISION_METRICS)}", key="metric")
    if config.decision is None:
        raise TpsimError(f"--metric {metric}: the config has no decision section to judge "
                         f"(add decision: option, against)", key="metric")
    return dataclasses.replace(config, decision=dataclasses.replace(config.decision,
                                                                    metric=metric))


def decision_figures(config: CalibrationConfig, problem: CalibrationProblem,
                     posterior: bayes.Posterior, seed: int, *, runs: int = 4096,
                     months: int = 24, futures: int = 200) -> dict | None:
    """P(metric > 0), the value of information and the months until the decision is clear,
    for the config's ``decision`` (None when it has none)."""
    if config.decision is None:
        return None
    from tpsim.config.scenario import load_scenario

    option = load_scenario(config.decision.option)
    against = load_scenario(config.decision.against)
    draws = decision.decision_draws(posterior, option, against, metric=config.decision.metric,
                                    runs=runs, seed=seed)
    voi = decision.value_of_information(draws)
    until = decision.months_until_decision(problem, posterior, draws, months=months,
                                           futures=futures, seed=seed)
    return {"option": option.name, "counterfactual": against.name,
            "option_file": str(config.decision.option),
            "counterfactual_file": str(config.decision.against),
            "value_of_information": voi, "months_until_decision": until,
            "metric_percentiles": {f"p{q:g}": float(np.percentile(draws.metric, q))
                                   for q in (5, 25, 50, 75, 95)}}


def _check_observations(config: CalibrationConfig, problem: CalibrationProblem) -> None:
    if problem.n_observations <= problem.n_parameters:
        raise config.error(("parameters",), f"{problem.n_observations} observations with "
                                            f"positive weight cannot determine "
                                            f"{problem.n_parameters} parameters: fit fewer "
                                            f"parameters or add data")


def bayes_fit(config: CalibrationConfig, setup: Setup, *, seed: int | None = None,
              settings: BayesSettings | None = None,
              progress: Callable[[int, int, float], None] | None = None,
              with_decision: bool = True, predictive_draws: int = 200) -> BayesFit:
    """Sample the posterior of the config's parameters given its data (``settings`` default to
    the config's ``fit.bayes``; ``seed`` replaces their seed)."""
    settings = settings or config.bayes
    if seed is not None:
        settings = dataclasses.replace(settings, seed=int(seed))
    problem = setup.problem()
    _check_observations(config, problem)
    priors = prior_set(config, setup, problem)
    posterior = bayes.sample_posterior(problem, settings, priors=priors, progress=progress)
    pred = bayes.predictive(problem, posterior, setup.scenario.time.start, n=predictive_draws,
                            seed=settings.seed)
    figures = decision_figures(config, problem, posterior, settings.seed) \
        if with_decision else None
    return BayesFit(config, setup, problem, priors, posterior, pred, settings, figures)


@dataclass
class Learning:
    """One update: the fit ``before`` (the saved posterior with the data so far) and
    ``after`` (with the new months), what the update did (``update``: re-weighting or a
    re-run), and how each parameter's posterior moved (``moves``)."""

    before: BayesFit
    after: BayesFit
    update: dict
    new_data: LocalData = field(repr=False)

    @property
    def moves(self) -> dict[str, dict]:
        """Per parameter: the mean, sd and 90% interval before and after, the shift of the
        mean in units of the sd before, and the ratio of the 90% interval widths (after /
        before; below 1: the new months narrowed it)."""
        b, a = self.before.summary, self.after.summary
        out = {}
        for name in b:
            wb = b[name]["interval_90"][1] - b[name]["interval_90"][0]
            wa = a[name]["interval_90"][1] - a[name]["interval_90"][0]
            out[name] = {"before": b[name], "after": a[name],
                         "shift_in_sd": ((a[name]["mean"] - b[name]["mean"]) / b[name]["sd"]
                                         if b[name]["sd"] > 0 else None),
                         "interval_90_width_ratio": wa / wb if wb > 0 else None}
        return out


def learn(config: CalibrationConfig, setup: Setup, posterior: bayes.Posterior,
          new_data: LocalData, *, seed: int | None = None,
          settings: BayesSettings | None = None, with_decision: bool = True) -> Learning:
    """Update ``posterior`` (drawn for ``setup``'s data, the data so far) with ``new_data``
    (later months): re-weight, or re-run MCMC from the re-weighted draws when the importance
    ESS falls below ``ess_threshold`` (:func:`tpsim.analysis.bayes.update`)."""
    settings = settings or config.bayes
    if seed is not None:
        settings = dataclasses.replace(settings, seed=int(seed))
    if list(posterior.names) != setup.problem().names:
        missing = sorted(set(setup.problem().names) ^ set(posterior.names))
        raise config.error(("parameters",), f"the saved posterior's parameters differ from the "
                                            f"config's ({', '.join(missing)}): calibrate again "
                                            f"with --method bayes")
    old_problem = setup.problem()
    priors = prior_set(config, setup, old_problem)
    start = setup.scenario.time.start
    combined = combine_local_data(setup.data, new_data, start)
    targets, unused = build_targets(config, combined)
    new_setup = dataclasses.replace(setup, data=combined, targets=targets, unused=unused)
    new_problem = new_setup.problem()
    _check_observations(config, new_problem)
    # the saved draws' log posterior is recomputed: the file may come from elsewhere
    before_post = dataclasses.replace(
        posterior, log_posterior=bayes.LogPosterior(old_problem, priors)(posterior.draws))
    updated, info = bayes.update(before_post, old_problem, new_problem, settings, priors,
                                 seed=settings.seed)
    before = BayesFit(config, setup, old_problem, priors, before_post,
                      bayes.predictive(old_problem, before_post, start, seed=settings.seed),
                      settings,
                      decision_figures(config, old_problem, before_post, settings.seed)
                      if with_decision else None)
    after = BayesFit(config, new_setup, new_problem, priors, updated,
                     bayes.predictive(new_problem, updated, start, seed=settings.seed),
                     settings,
                     decision_figures(config, new_problem, updated, settings.seed)
                     if with_decision else None)
    info["months_before"] = old_problem.fit_model.n_months
    info["months_after"] = new_problem.fit_model.n_months
    if not math.isfinite(info.get("importance_ess", math.nan)):
        info["importance_ess"] = None
    return Learning(before, after, info, new_data)
