"""The Python API: load scenarios, run them, compare, ensemble, sensitivity and calibrate, with
labelled results (docs/python.md). The one place that orchestrates the library's steps; the
commands write these objects to files.

Money is £ at the scenario's price year, months count from 1 (the scenario's ``time.start``).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tpsim.config.scenario import Scenario, load_scenario
from tpsim.errors import ScenarioError, TpsimError

__all__ = ["load", "run", "compare", "ensemble", "sensitivity", "calibrate", "Comparison",
           "Option", "EnsembleResult", "SensitivityResult", "Calibration", "place_init",
           "places_compare", "initial_state", "BayesCalibration", "LearningResult", "learn",
           "evidence", "discover", "DiscoveryResult", "optimise", "OptimisationResult"]

PathLike = str | os.PathLike


def load(path: PathLike) -> Scenario:
    """A validated scenario from a YAML file (``extends`` resolved, defaults filled)."""
    return load_scenario(path)


def _scenario(scenario: Scenario | PathLike, method=None, dt=None, horizon=None) -> Scenario:
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return sc.replace(dt=dt, method=method, horizon=horizon)


def _scenarios(scenarios) -> list:
    if isinstance(scenarios, (Scenario, str, os.PathLike)):
        return [scenarios]
    return list(scenarios)


def _vary_rows(scenario: Scenario, vary: Mapping[str, Sequence[float]]) -> tuple[int, dict]:
    """The number of runs and each path's values as a float array, checked for shape."""
    arrays, n = {}, None
    for path, values in vary.items():
        a = np.asarray(values, dtype=float)
        if a.ndim == 0:
            a = a.reshape(1)
        if a.ndim != 1 or a.size == 0:
            raise ScenarioError(f"vary[{path!r}] must be a non-empty 1-D array of values, one "
                                f"per run (got shape {a.shape})", file=f"<vary of {scenario.name}>",
                                key=path)
        if n is not None and a.size != n:
            raise ScenarioError(f"vary[{path!r}] has {a.size} values but the paths before it "
                                f"have {n}: give every path one value per run",
                                file=f"<vary of {scenario.name}>", key=path)
        n = a.size
        arrays[path] = a
    return n, arrays


def run(scenario: Scenario | PathLike, vary: Mapping[str, Sequence[float]] | None = None,
        seed=None, method: str | None = None, dt: float | None = None,
        horizon: int | None = None):
    """Simulate a scenario (a path or a loaded :class:`~tpsim.config.scenario.Scenario`) and
    return :class:`~tpsim.models.results.Results`.

    ``vary`` maps dotted parameter paths (``services.falls_prevention.places``) to arrays of
    values, one run per row: run ``i`` is the scenario with every path set to its ``i``-th
    value, validated as :meth:`Scenario.replace` validates overrides (an unknown path or an
    invalid value raises :class:`~tpsim.errors.ScenarioError` naming the path). All runs are
    simulated in one kernel call. ``seed`` (int, SeedSequence or Generator) is stored on the
    results (``results.seed``); the model itself is deterministic. ``method``, ``dt`` and
    ``horizon`` replace the scenario's ``time`` settings.
    """
    from tpsim.models.results import build_results
    from tpsim.models.runner import discount_rates
    from tpsim.models.simulate import simulate
    from tpsim.models.structure import compile_scenario

    sc = _scenario(scenario, method, dt, horizon)
    if not vary:
        model = compile_scenario(sc)
        raw = simulate(model, record=True, **discount_rates(sc))
        return build_results(model, raw, seed=seed)
    n, arrays = _vary_rows(sc, vary)
    base = compile_scenario(sc)
    theta, events = base.theta(n), base.event_values(n)
    for i in range(n):
        model_i = compile_scenario(sc.replace(overrides={p: a[i] for p, a in arrays.items()}))
        if not (np.array_equal(model_i.ev_param, base.ev_param)
                and np.array_equal(model_i.ev_month, base.ev_month)):
            raise ScenarioError("these vary values change which parameters have time-keyed "
                                "changes; run them one by one", file=f"<vary of {sc.name}>",
                                key=next(iter(arrays)))
        theta[i], events[i] = model_i.theta0, model_i.ev_value0
    raw = simulate(base, theta, events, record=True, **discount_rates(sc))
    results = build_results(base, raw, seed=seed)
    results.varied = arrays
    return results


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------


@dataclass
class Option:
    """One scenario appraised against the counterfactual (the figures ``tpsim compare``
    prints, docs/appraisal.md): ``npsv`` (net present social value over the horizon, £: the
    headline), ``economic_npv`` (resource costs and savings, no transfers), ``fiscal_npv``
    (cash, transfers included; ``npv`` is its alias) and ``fiscal_npv_by_agency``; ``bcr``
    (fiscal), ``economic_bcr``, ``social_bcr``; ``payback_month`` (None: not within the
    horizon); per-agency rows, the pool and total rows, outcomes, who pays / who gains by
    investing agency (``attribution``) and by preventive service with Shapley values
    (``attribution_by_service``);
    ``switching_values`` (entries ``parameter``, ``central``, ``value``, ``case``,
    ``none_in_range``), ``break_even`` and ``section_114`` (council -> month).
    :meth:`to_dict` is this scenario's entry of comparison.json."""

    name: str
    npv: float
    npv_parliament: float
    economic_npv: float
    bcr: float | None
    economic_bcr: float | None
    payback_month: int | None
    pays_back_in_parliament: bool | None
    agencies: dict
    pool: dict
    total: dict
    outcomes: dict
    attribution: dict
    record: dict = field(repr=False)
    npsv: float = 0.0
    npsv_parliament: float = 0.0
    fiscal_npv: float = 0.0
    fiscal_npv_by_agency: dict = field(default_factory=dict)
    social_bcr: float | None = None
    switching_values: list = field(default_factory=list)
    break_even: dict | None = None
    section_114: dict = field(default_factory=dict)
    attribution_by_service: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return self.record


@dataclass
class Comparison:
    """Every option of a comparison by name (``comparison["pooled_prevention"].npv``)."""

    counterfactual: str
    options: dict[str, Option]
    runs: object = field(repr=False)  # tpsim.analysis.comparison.ComparisonRuns
    comparison: object = field(default=None, repr=False)  # tpsim.analysis.comparison.Comparison

    def __getitem__(self, name: str) -> Option:
        return self.options[name]

    def __iter__(self):
        return iter(self.options.values())

    def to_dict(self) -> dict:
        """``{scenario name: its comparison.json entry}``."""
        return {name: o.to_dict() for name, o in self.options.items()}

    def cashflow(self):
        """The financial case as a ``pandas.DataFrame`` (cashflow.csv: one row per option,
        agency / ``pool`` / ``total`` and April-March financial year; £ undiscounted)."""
        import pandas as pd

        from tpsim.analysis.cashflow import COLUMNS, comparison_cashflow

        rows = comparison_cashflow(self.comparison)
        return pd.DataFrame(rows, columns=list(COLUMNS)).replace("", None)

    def table(self):
        """A ``pandas.DataFrame``: one row per option and appraisal row (each agency, ``pool``,
        ``total``), one column per figure of the row."""
        import pandas as pd

        rows = []
        for o in self.options.values():
            for row, figures in [*o.agencies.items(), ("pool", o.pool), ("total", o.total)]:
                rows.append({"option": o.name, "row": row, **figures})
        return pd.DataFrame(rows).set_index(["option", "row"])


def compare(scenarios, against, horizon: int | None = None, optimism_bias: float | None = None,
            method: str | None = None, dt: float | None = None) -> Comparison:
    """Appraise each scenario (paths or Scenarios; one or a list) against the counterfactual
    ``against``, as ``tpsim compare`` does: ``optimism_bias`` overrides each scenario's
    ``appraisal.optimism_bias``; ``horizon``, ``method``, ``dt`` replace the time settings."""
    from tpsim.analysis.comparison import compare_scenarios
    from tpsim.present.documents import run_folders, scenario_entry

    cf = _scenario(against, method, dt, horizon)
    scs = [_scenario(s, method, dt, horizon) for s in _scenarios(scenarios)]
    comparison = compare_scenarios(scs, cf, optimism_bias)
    folders = run_folders(scs, cf)
    options = {}
    for case in comparison.cases:
        name = case.scenario.name
        rec = scenario_entry(case, folders.get(name))
        options[name] = Option(
            name, rec["npv"], rec["npv_parliament"], rec["economic_npv"], rec["bcr"],
            rec["economic_bcr"], rec["payback_month"], rec["pays_back_in_parliament"],
            rec["agencies"], rec["pool"], rec["total"], rec["outcomes"], rec["attribution"], rec,
            rec["npsv"], rec["npsv_parliament"], rec["fiscal_npv"], rec["fiscal_npv_by_agency"],
            rec["social_bcr"], rec.get("switching_values", []), rec.get("break_even"),
            rec.get("section_114", {}), rec.get("attribution_by_service", {}))
    return Comparison(cf.name, options, comparison.runs, comparison)


# ---------------------------------------------------------------------------------------------
# Ensembles and sensitivity
# ---------------------------------------------------------------------------------------------


@dataclass
class EnsembleResult:
    """An ensemble's reduced results. :attr:`metrics` (and :meth:`to_dict`) is ensemble.json's
    ``results``: per scenario, the distribution of ``npv``, ``npv_parliament``, ``bcr``,
    ``payback`` and the probability it beats the counterfactual. :meth:`to_xarray` holds the
    tracked series' monthly percentiles, labelled."""

    job: object = field(repr=False)        # tpsim.analysis.ensemble.EnsembleJob
    summary: object = field(repr=False)    # tpsim.analysis.ensemble.Summary
    seed: int = 0

    @property
    def metrics(self) -> dict:
        return self.summary.metrics

    def to_dict(self) -> dict:
        return self.summary.metrics

    def npv(self, scenario: str, statistic: str = "mean") -> float:
        """A statistic of a scenario's fiscal NPV (£): ``mean``, ``sd``, ``p50``, ``p5``, ..."""
        npv = self.metrics[scenario]["npv"]
        return npv[statistic] if statistic in npv else npv["percentiles"][statistic]

    def to_xarray(self):
        """``xarray.Dataset`` with ``quantile`` (series, scenario, month, percentile) and
        ``mean`` (series, scenario, month) of every tracked series for every scenario and the
        counterfactual, and ``difference_quantile`` / ``difference_mean`` (series, option,
        month[, percentile]) of each scenario minus the counterfactual (paired runs);
        ``error_bound`` bounds each percentile's distance from the exact one. Series units
        are the ``unit`` coordinate."""
        import xarray as xr

        from tpsim.models.series import parse

        job, s = self.job, self.summary
        series = list(dict.fromkeys(name for name, _, _ in job.tracked))
        names, options = job.names, job.names[1:]
        months = np.arange(1, job.n_months + 1)
        P = len(s.percentiles)
        level = np.full((len(series), len(names), job.n_months, P), np.nan)
        level_mean = np.full(level.shape[:3], np.nan)
        level_bound = np.full(level.shape, np.nan)
        diff = np.full((len(series), len(options), job.n_months, P), np.nan)
        diff_mean = np.full(diff.shape[:3], np.nan)
        diff_bound = np.full(diff.shape, np.nan)
        for t, (name, k, is_diff) in enumerate(job.tracked):
            i = series.index(name)
            if is_diff:
                diff[i, k - 1], diff_mean[i, k - 1] = s.quantiles[t], s.means[t]
                diff_bound[i, k - 1] = s.quantile_bounds[t]
            else:
                level[i, k], level_mean[i, k] = s.quantiles[t], s.means[t]
                level_bound[i, k] = s.quantile_bounds[t]
        units = [parse(job.models[0], n)[0].unit for n in series]
        return xr.Dataset(
            {"quantile": (("series", "scenario", "month", "percentile"), level),
             "mean": (("series", "scenario", "month"), level_mean),
             "error_bound": (("series", "scenario", "month", "percentile"), level_bound),
             "difference_quantile": (("series", "option", "month", "percentile"), diff),
             "difference_mean": (("series", "option", "month"), diff_mean),
             "difference_error_bound": (("series", "option", "month", "percentile"), diff_bound)},
            coords={"series": series, "unit": ("series", units), "scenario": names,
                    "option": options, "month": months,
                    "percentile": np.array(s.percentiles, dtype=float)},
            attrs={"counterfactual": names[0], "runs": job.n_runs, "seed": job.seed,
                   "sampler": job.sampler})


def ensemble(scenarios, against, runs: int = 1000, seed=0, sampler: str = "random",
             series: Sequence[str] | None = None, bins: int | None = None,
             optimism_bias: float | None = None, horizon: int | None = None,
             dt: float | None = None, method: str | None = None, engine: str = "local",
             chunk_runs: int | None = None, **engine_options) -> EnsembleResult:
    """Monte Carlo runs of each scenario against ``against`` under the uncertainty section
    (docs/uncertainty.md), as ``tpsim ensemble``. ``seed``: int, SeedSequence or Generator
    (:func:`tpsim.analysis.seeds.seed_entropy`; an int gives exactly ``--seed`` that int)."""
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.seeds import seed_entropy
    from tpsim.analysis.sampling import BLOCK

    cf = _scenario(against, method, dt, horizon)
    scs = [_scenario(s, method, dt, horizon) for s in _scenarios(scenarios)]
    entropy = seed_entropy(seed)
    job = en.prepare(scs, cf, runs=runs, seed=entropy, sampler=sampler,
                     series=tuple(series) if series else en.DEFAULT_SERIES,
                     bins=bins or en.DEFAULT_BINS, optimism_bias=optimism_bias)
    job.edges = en.pilot_edges(job)
    partial = en.run_ensemble(job, engine, chunk_runs or 4 * BLOCK, **engine_options)
    return EnsembleResult(job, en.summarise(job, partial), entropy)


@dataclass
class SensitivityResult:
    """Which uncertain factors drive ``npv`` (fiscal, £) and ``reactive_spend`` (the
    scenario's, £ in ``month``): ``result`` is :func:`tpsim.analysis.sensitivity.one_at_a_time`
    or :func:`~tpsim.analysis.sensitivity.sobol`'s answer, ``factors`` their labels."""

    method: str
    factors: list[str]
    month: int
    result: dict = field(repr=False)

    def to_xarray(self):
        """oat: ``low``, ``high`` (output, factor) and ``base`` (output); sobol:
        ``first_order``, ``total_order`` (output, factor)."""
        import xarray as xr

        from tpsim.analysis.sensitivity import OUTPUTS

        coords = {"output": list(OUTPUTS), "factor": self.factors}
        r = self.result
        if self.method == "oat":
            return xr.Dataset({"low": (("output", "factor"), np.stack([r["low"][o] for o in OUTPUTS])),
                               "high": (("output", "factor"), np.stack([r["high"][o] for o in OUTPUTS])),
                               "base": (("output",), np.array([r["base"][o] for o in OUTPUTS]))},
                              coords=coords, attrs={"swing": r["swing"], "month": self.month})
        return xr.Dataset({k: (("output", "factor"), np.stack([r[o][k] for o in OUTPUTS]))
                           for k in ("first_order", "total_order")},
                          coords=coords, attrs={"runs": r["runs"], "month": self.month})


def sensitivity(scenario, against, method: str = "oat", swing: float = 0.05, n: int = 512,
                seed=0, month: int = 60, optimism_bias: float | None = None,
                horizon: int | None = None, dt: float | None = None) -> SensitivityResult:
    """Sensitivity of a scenario's NPV against ``against``, and of its reactive spend in
    ``month``, to each uncertain parameter (as ``tpsim sensitivity``): ``method="oat"``
    one-at-a-time swings from quantile ``swing`` to ``1 - swing``; ``"sobol"`` Sobol indices
    on a base sample of ``n`` (a power of two)."""
    import warnings

    from tpsim.analysis import ensemble as en
    from tpsim.analysis import sensitivity as sa
    from tpsim.analysis.seeds import seed_entropy

    if method not in ("oat", "sobol"):
        raise TpsimError(f"method must be 'oat' or 'sobol' (got {method!r})")
    if method == "sobol" and n & (n - 1):
        raise TpsimError(f"n must be a power of two (got {n})")
    cf = _scenario(against, None, dt, horizon)
    sc = _scenario(scenario, None, dt, horizon)
    entropy = seed_entropy(seed)
    job = en.prepare([sc], cf, runs=1, seed=entropy, series=("spend.kind.reactive",),
                     optimism_bias=optimism_bias)
    if month > job.n_months:
        raise TpsimError(f"month {month} is beyond the horizon of {job.n_months} months")
    if job.plan.d == 0:
        raise TpsimError(f"{sc.name}: no uncertainty section: nothing to analyse "
                         f"(see docs/uncertainty.md)")
    evaluate = sa.model_evaluator(job, month)
    if method == "oat":
        result = sa.one_at_a_time(evaluate, job.plan.d, swing, sa.CENTRAL)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = sa.sobol(evaluate, job.plan.d, sa.OUTPUTS, n=n, seed=entropy)
    return SensitivityResult(method, list(job.plan.labels), month, result)


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------


@dataclass
class Calibration:
    """A fit: ``setup`` (scenario, model, data, parameters, targets) and ``result``
    (:class:`tpsim.analysis.calibration.FitResult`); ``estimates`` maps each fitted path to
    its value."""

    setup: object = field(repr=False)
    result: object = field(repr=False)

    @property
    def estimates(self) -> dict[str, float]:
        return dict(self.result.estimates)

    def scenario(self) -> Scenario:
        """The scenario with the fitted values set (validated)."""
        return self.setup.scenario.replace(overrides=self.estimates)


def calibrate(config, starts: int | None = None, seed=None, method: str = "wls",
              sampler: Mapping | None = None, data: PathLike | None = None):
    """Fit a calibration config (a path to its YAML or a loaded
    :class:`~tpsim.config.calibration.CalibrationConfig`) to its local data, as
    ``tpsim calibrate``: ``starts`` and ``seed`` replace the config's ``fit`` settings.

    ``method="bayes"`` samples the posterior instead (``tpsim calibrate --method bayes``;
    calibration/bayes.md) and returns a :class:`BayesCalibration`; ``sampler`` replaces keys
    of the config's ``fit.bayes`` (``walkers``, ``steps``, ``burn_in``, ``chains``, ``draws``,
    ...) and ``seed`` its seed. ``data`` replaces the config's ``data:`` file."""
    from tpsim.analysis.calibration import fit, prepare
    from tpsim.analysis.seeds import seed_entropy
    from tpsim.config.calibration import CalibrationConfig, load_config

    if method not in ("wls", "bayes"):
        raise TpsimError(f"method must be 'wls' or 'bayes', got {method!r}")
    cfg = config if isinstance(config, CalibrationConfig) else load_config(config)
    if data is not None:
        import dataclasses
        from pathlib import Path

        cfg = dataclasses.replace(cfg, data_path=Path(data))
    if method == "bayes":
        from tpsim.analysis.learning import bayes_fit

        cfg = _with_sampler(cfg, sampler)
        cfg, prepared, _ = prepare(cfg)
        return BayesCalibration(bayes_fit(cfg, prepared, seed=None if seed is None
                                          else seed_entropy(seed)))
    cfg, prepared, problem = prepare(cfg, starts, None if seed is None else seed_entropy(seed))
    return Calibration(prepared, fit(problem, cfg.fit))


def _with_sampler(cfg, sampler: Mapping | None):
    """The config with ``sampler`` replacing keys of its ``fit.bayes`` (checked as the config
    file's keys are)."""
    import dataclasses

    if not sampler:
        return cfg
    known = tuple(f.name for f in dataclasses.fields(cfg.bayes))
    for key in sampler:
        if key not in known:
            raise TpsimError(f"sampler[{key!r}] is not a setting of fit.bayes (one of "
                             f"{', '.join(known)})", file=cfg.file, key=f"fit.bayes.{key}")
    settings = dataclasses.replace(cfg.bayes, **dict(sampler))
    if settings.burn_in >= settings.steps:
        raise TpsimError(f"burn_in {settings.burn_in} must be below steps {settings.steps}",
                         file=cfg.file, key="fit.bayes.burn_in")
    if settings.walkers < 2 * len(cfg.parameters):
        raise TpsimError(f"walkers must be at least twice the number of parameters "
                         f"({2 * len(cfg.parameters)})", file=cfg.file, key="fit.bayes.walkers")
    return dataclasses.replace(cfg, bayes=settings)


@dataclass
class BayesCalibration:
    """A Bayesian fit (:class:`tpsim.analysis.learning.BayesFit` as ``fit``), labelled:
    :attr:`summary` (per parameter: mean, sd, median, 90% and 95% intervals, own units),
    :attr:`diagnostics` (R-hat, acceptance, autocorrelation time, ESS), :attr:`decision`
    (P(metric > 0), EVPI, EVPPI and the months until the decision is clear, when the config
    names a ``decision``), :meth:`to_dataframe` / :meth:`to_xarray` (the draws) and
    :meth:`write_draws` (a posterior.csv a scenario's ``uncertainty: posterior:`` reads)."""

    fit: object = field(repr=False)

    @property
    def names(self) -> list[str]:
        return list(self.fit.posterior.names)

    @property
    def summary(self) -> dict[str, dict]:
        return self.fit.summary

    @property
    def diagnostics(self) -> dict:
        return self.fit.posterior.diagnostics

    @property
    def decision(self) -> dict | None:
        return self.fit.decision

    @property
    def mean(self) -> dict[str, float]:
        return {k: v["mean"] for k, v in self.summary.items()}

    def to_dataframe(self):
        """``pandas.DataFrame``: a row per draw, a column per parameter path (own units),
        and ``weight`` (summing to 1)."""
        import pandas as pd

        post = self.fit.posterior
        frame = pd.DataFrame(post.draws, columns=self.names)
        frame["weight"] = post.normalised_weights
        frame.index.name = "draw"
        return frame

    def to_xarray(self):
        """``xarray.Dataset`` with ``value`` (draw, parameter) and ``weight`` (draw)."""
        import xarray as xr

        post = self.fit.posterior
        return xr.Dataset({"value": (("draw", "parameter"), post.draws),
                           "weight": (("draw",), post.normalised_weights)},
                          coords={"draw": np.arange(post.n), "parameter": self.names},
                          attrs={"scenario": self.fit.setup.scenario.name,
                                 "data": self.fit.setup.data.path})

    def write_draws(self, path: PathLike) -> str:
        """Write the draws as a posterior.csv (returns the path)."""
        from tpsim.analysis.bayes import to_csv_text
        from tpsim.output import atomic_write_text
        from tpsim.present.bayes_documents import posterior_comments

        atomic_write_text(path, to_csv_text(self.fit.posterior,
                                            posterior_comments(self.fit, "tpsim.calibrate")))
        return os.fspath(path)

    def scenario(self) -> Scenario:
        """The scenario with every fitted parameter at its posterior mean (validated)."""
        return self.fit.setup.scenario.replace(overrides=self.mean)


@dataclass
class LearningResult:
    """An update with new months (:class:`tpsim.analysis.learning.Learning` as ``learning``):
    ``before`` and ``after`` (:class:`BayesCalibration`), ``moves`` (per parameter, the
    summary before and after, the shift of the mean in sds before and the ratio of the 90%
    interval widths) and ``update`` (re-weighting or re-run, importance ESS)."""

    learning: object = field(repr=False)

    @property
    def before(self) -> BayesCalibration:
        return BayesCalibration(self.learning.before)

    @property
    def after(self) -> BayesCalibration:
        return BayesCalibration(self.learning.after)

    @property
    def moves(self) -> dict[str, dict]:
        return self.learning.moves

    @property
    def update(self) -> dict:
        return self.learning.update


def learn(config, posterior, data: PathLike, data_so_far: PathLike | None = None,
          seed=None) -> LearningResult:
    """Update a posterior with new months of data, as ``tpsim learn``: ``posterior`` is a
    :class:`BayesCalibration` of ``config`` or a posterior.csv; ``data`` the new months;
    ``data_so_far`` the data the posterior was fitted to (default: the config's ``data:``)."""
    import dataclasses
    from pathlib import Path

    from tpsim.analysis import learning as ln
    from tpsim.analysis.bayes import from_draws
    from tpsim.analysis.calibration import series_names, setup
    from tpsim.analysis.seeds import seed_entropy
    from tpsim.config.calibration import CalibrationConfig, load_config
    from tpsim.config.localdata import read_local_data
    from tpsim.config.posterior import read_posterior_draws

    cfg = config if isinstance(config, CalibrationConfig) else load_config(config)
    if data_so_far is not None:
        cfg = dataclasses.replace(cfg, data_path=Path(data_so_far))
    prepared = setup(cfg)
    t = prepared.scenario.time
    new = read_local_data(data, t.start, int(t.horizon), series_names(prepared.model),
                          scenario_file=os.fspath(cfg.scenario_path))
    post = (posterior.fit.posterior if isinstance(posterior, BayesCalibration)
            else from_draws(read_posterior_draws(posterior)))
    return LearningResult(ln.learn(cfg, prepared, post, new,
                                   seed=None if seed is None else seed_entropy(seed)))


# ---------------------------------------------------------------------------------------------
# Places (docs/place-profile.md)
# ---------------------------------------------------------------------------------------------


def initial_state(scenario: Scenario | PathLike, solve: str = "rates", totals=None):
    """The balanced month 0 of a scenario (:func:`tpsim.place.initial_state.initial_state`):
    ``solve="rates"`` keeps the stocks and solves escalation and inflows, ``"stocks"`` keeps
    the rates and solves the stocks; ``.apply(budgets=True)`` gives the balanced scenario."""
    from tpsim.place.initial_state import initial_state as solve_initial_state

    return solve_initial_state(_scenario(scenario), solve=solve, totals=totals)


def evidence(scenario: Scenario | PathLike, against: Scenario | PathLike | None = None,
             library: PathLike | None = None, services: Sequence[str] | None = None,
             horizon: int | None = None, method: str | None = None, dt: float | None = None):
    """Each preventive service's return per £1 in the model beside the published range of the
    evidence library, as ``tpsim evidence`` (docs/sources.md): a ``pandas.DataFrame`` with a
    row per service and the columns of evidence.csv
    (:data:`tpsim.analysis.evidence.EVIDENCE_COLUMNS`) then the Parliament returns, the
    present values behind them (£) and the library's reason for a return outside its range.

    Without ``against`` each service is taken out of ``scenario`` (places to zero); with it,
    set to the counterfactual's provision. All services are simulated in one batched kernel
    call. ``library`` defaults to the shipped scenarios/evidence.yaml."""
    import pandas as pd

    from tpsim.analysis.evidence import (EVIDENCE_COLUMNS, EVIDENCE_DETAIL_COLUMNS,
                                         compare_with_library, service_returns)
    from tpsim.config.evidence import load_evidence

    sc = _scenario(scenario, method, dt, horizon)
    cf = None if against is None else _scenario(against, method, dt, horizon)
    rows = compare_with_library(service_returns(sc, cf, services=services),
                                load_evidence(library))
    return pd.DataFrame([row.as_dict() for row in rows],
                        columns=list(EVIDENCE_COLUMNS + EVIDENCE_DETAIL_COLUMNS))


def place_init(profile, template: Scenario | PathLike | None = None, reference=None,
               keep_budgets: bool = True, bands: bool = True):
    """A place's scenario from its profile, as ``tpsim place init``: a
    :class:`tpsim.place.build.Place` whose ``scenario`` is solved and validated, ``origin``
    names where each value came from and ``warnings`` lists problems (a budget below month-0
    spend, reserves below zero in the first year). ``template`` defaults to the shipped
    baseline, ``reference`` (the template's own profile) to its profile; ``bands`` splits
    cohorts and services by the profile's deprivation bands when it gives them."""
    from tpsim.place.api import init_place

    return init_place(profile, template=template, reference=reference,
                      keep_budgets=keep_budgets, bands=bands)


def places_compare(table, scenario, against, reference=None, optimism_bias: float | None = None,
                   uncertainty: int = 0, seed: int = 0, engine: str = "local",
                   **options):
    """``scenario`` against ``against`` in every place of ``table`` (a places CSV or a list of
    profiles), in one batched kernel call, as ``tpsim places compare``: a
    :class:`tpsim.place.compare.PlacesComparison` whose ``rows`` are places.csv's and whose
    :meth:`table` is a ``pandas.DataFrame`` of them."""
    from tpsim.place.api import places_compare as compare_places

    return compare_places(table, scenario, against, reference=reference,
                          optimism_bias=optimism_bias, uncertainty=uncertainty, seed=seed,
                          engine=engine, **options)


# ---------------------------------------------------------------------------------------------
# Scenario discovery and the best mix of levers (docs/discovery.md)
# ---------------------------------------------------------------------------------------------


@dataclass
class DiscoveryResult:
    """Scenario discovery of one condition over an ensemble of one scenario against its
    counterfactual: ``discovery`` (:class:`tpsim.analysis.discovery.Discovery`: the PRIM
    trajectory, the chosen pasted box, quasi-p-values, CART leaves), the sampled inputs ``x``
    (runs x inputs), the outcome columns and ``interest`` (bool per run). :meth:`to_dict` is
    discovery.json; :meth:`box` the chosen box in words."""

    discovery: object = field(repr=False)
    x: np.ndarray = field(repr=False)
    outcomes: dict = field(repr=False)
    interest: np.ndarray = field(repr=False)
    settings: dict = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.discovery.box.coverage

    @property
    def density(self) -> float:
        return self.discovery.box.density

    def box(self) -> list[str]:
        from tpsim.present.discovery import box_words

        return box_words(self.discovery)

    def to_dict(self) -> dict:
        from tpsim.present.discovery import discovery_document

        return discovery_document(self.discovery, self.settings)

    def runs(self):
        """The runs as a ``pandas.DataFrame``: inputs, outcomes and ``of_interest``."""
        import pandas as pd

        frame = pd.DataFrame(self.x, columns=self.discovery.labels)
        for name, values in self.outcomes.items():
            frame[name] = values
        frame["of_interest"] = self.interest
        return frame


WITHIN = ("horizon", "parliament")


#: Per-run money figures the ensemble gives over the horizon only (no ``*_parliament`` column):
#: a ``--within parliament`` condition cannot name them.
_HORIZON_ONLY = ("fiscal_npv",)


def where_columns(outcomes: Mapping[str, np.ndarray], within: str = "horizon") -> dict:
    """The names a ``where`` condition may use: every outcome column; with
    ``within="parliament"`` a money figure (``npv``, ``npsv``, ...) is its value over the
    Parliament (its ``*_parliament`` column), and ``payback`` stays the payback month."""
    if within not in WITHIN:
        raise TpsimError(f"within must be one of {', '.join(WITHIN)} (got {within!r})",
                         key="within")
    columns = dict(outcomes)
    if within == "parliament":
        for name in list(columns):
            if f"{name}_parliament" in columns:
                columns[name] = columns[f"{name}_parliament"]
            elif name.split(".", 1)[0] in _HORIZON_ONLY:
                del columns[name]  # a money figure the ensemble has over the horizon only
    return columns


def discover(scenario, against, where: str = "npv > 0", runs: int = 4096, seed=0,
             sampler: str = "random", within: str = "horizon", box: int | None = None,
             threshold: float | None = None, peel_alpha: float | None = None,
             mass_min: float | None = None, cart_depth: int = 3,
             optimism_bias: float | None = None, horizon: int | None = None,
             dt: float | None = None, method: str | None = None,
             progress=None) -> DiscoveryResult:
    """Which sampled futures make ``where`` true, as ``tpsim discover``: ``runs`` runs of the
    scenario and ``against`` under the scenario's uncertainty section (the ensemble's runs for
    the same seed and sampler), then PRIM (the box ``box`` on the peeling trajectory, or the
    default choice of :func:`tpsim.analysis.discovery.choose_box`) and a CART tree.

    ``where``: ``NAME OP NUMBER`` joined by ``and``/``or`` over the outcome columns
    (:mod:`tpsim.analysis.runs`: ``npv``, ``npv_parliament``, ``bcr``, ``payback``,
    ``section_114``...); ``within="parliament"`` reads money figures over the Parliament."""
    from tpsim.analysis import discovery as ds
    from tpsim.analysis import ensemble as en
    from tpsim.analysis.runs import (RunsCollector, outcome_names, reserve_series,
                                     shared_councils, stream_runs)
    from tpsim.analysis.seeds import seed_entropy
    from tpsim.analysis.where import parse_where

    if within not in WITHIN:
        raise TpsimError(f"within must be one of {', '.join(WITHIN)} (got {within!r})",
                         key="within")
    cf = _scenario(against, method, dt, horizon)
    sc = _scenario(scenario, method, dt, horizon)
    councils = shared_councils([sc], cf)
    entropy = seed_entropy(seed)
    job = en.prepare([sc], cf, runs=runs, seed=entropy, sampler=sampler,
                     series=reserve_series(councils), optimism_bias=optimism_bias)
    if job.plan.d == 0:
        raise TpsimError(f"{sc.name}: no uncertainty section: nothing to discover "
                         f"(see docs/uncertainty.md)")
    names = outcome_names(job, councils)
    condition = parse_where(where, list(where_columns({n: None for n in names}, within)))
    collector = RunsCollector(job, 0, councils)
    stream_runs(job, collector, progress)
    interest = condition.evaluate(where_columns(collector.y, within))
    found = ds.analyse(
        collector.x, interest, [c.label for c in collector.inputs],
        [c.relative for c in collector.inputs], box=box,
        threshold=ds.DENSITY_THRESHOLD if threshold is None else threshold,
        peel_alpha=peel_alpha or ds.PEEL_ALPHA, mass_min=mass_min or ds.MASS_MIN,
        cart_depth=cart_depth)
    settings = {"scenario": sc.name, "counterfactual": cf.name, "where": condition.text,
                "within": within, "runs": runs, "seed": seed if isinstance(seed, int) else None,
                "sampler": sampler}
    return DiscoveryResult(found, collector.x, collector.y, interest, settings)


@dataclass
class OptimisationResult:
    """The best mix of levers found by :func:`optimise`: ``levers`` (paths, bounds, today's
    values), ``optimum`` (:class:`tpsim.analysis.optimise.Optimum`), ``best``/``today`` the
    comparison.json entries of the scenario with the best mix and with today's mix (NPSV,
    fiscal NPV, payback...), ``frontier`` the candidates no other beats on both NPV and
    payback month, ``robust`` (with futures) each candidate's expected NPV, 10th percentile and
    maximum regret with the pick by ``criterion``. :meth:`to_dict` is optimisation.json."""

    levers: list = field(repr=False)
    optimum: object = field(repr=False)
    best: dict = field(repr=False)
    today: dict = field(repr=False)
    frontier: list = field(default_factory=list, repr=False)
    evaluated: list = field(default_factory=list, repr=False)
    robust: dict = field(default_factory=dict, repr=False)
    settings: dict = field(default_factory=dict)

    @property
    def mix(self) -> dict[str, float]:
        return {lv.path: float(v) for lv, v in zip(self.levers, self.optimum.x)}

    @property
    def today_mix(self) -> dict[str, float]:
        return {lv.path: lv.today for lv in self.levers}

    def to_dict(self) -> dict:
        from tpsim.present.optimisation import optimisation_document

        return optimisation_document(self)


def optimise(scenario, against, levers: Sequence[str], budget: float | None = None,
             objective: str = "npsv", futures: int = 0, seed=0, sampler: str = "random",
             generations: int = 40, popsize: int = 10, allow_section_114: bool = False,
             criterion: str = "expected", optimism_bias: float | None = None,
             horizon: int | None = None, dt: float | None = None,
             method: str | None = None) -> OptimisationResult:
    """The mix of ``levers`` (``"services.falls_prevention.places=0:2000"``, ...) that
    maximises ``objective`` for ``scenario`` against ``against``, as ``tpsim optimise``:
    differential evolution with each generation one batched simulation, under the pool
    budget (``budget``: £ a month for the places levers; default today's cost) and no earlier
    section 114 than today's mix (unless ``allow_section_114``). ``futures`` > 0 evaluates
    every candidate over that many futures of the uncertainty section (plus the central case)
    and adds the robust table (:func:`tpsim.analysis.optimise.robust_table`)."""
    from tpsim.analysis import ensemble as en
    from tpsim.analysis import optimise as op
    from tpsim.analysis.runs import reserve_series, shared_councils
    from tpsim.analysis.seeds import seed_entropy

    cf = _scenario(against, method, dt, horizon)
    sc = _scenario(scenario, method, dt, horizon)
    councils = shared_councils([sc], cf)
    entropy = seed_entropy(seed)
    job = en.prepare([sc], cf, runs=max(futures, 1), seed=entropy, sampler=sampler,
                     series=reserve_series(councils), optimism_bias=optimism_bias)
    specs = [op.parse_lever(t) for t in levers]
    lever_list = op.make_levers(sc, job.models[1], specs)
    pool_shares = sc.pool.get("services") or {}
    named = {lv.path.split(".")[2] for lv in lever_list if lv.kind == "share"}
    other = float(sum(v for s, v in pool_shares.items() if s not in named))
    problem = op.MixProblem(job, lever_list, op.central_and_futures(job, futures), objective,
                            budget, other, councils, allow_section_114,
                            scenario_data=sc.data)
    optimum = op.optimise(problem, seed=seed if isinstance(seed, int) else 0,
                          generations=generations, popsize=popsize)
    evaluated = problem.history
    npv = np.array([h[1] for h in evaluated])
    payback = np.array([h[2] for h in evaluated])
    feasible = np.array([h[3] for h in evaluated])
    ids = np.flatnonzero(feasible)
    front = ids[op.frontier(npv[ids], payback[ids], job.n_months)] if ids.size else ids
    money = "npv" if objective == "payback" else objective
    frontier = [{"mix": {lv.path: float(v) for lv, v in zip(lever_list, evaluated[i][0])},
                 money: float(npv[i]),
                 "payback_month": None if payback[i] < 0 else int(payback[i])}
                for i in front]
    robust: dict = {}
    if futures > 0:
        candidates = {"today": problem.today, "best": optimum.x}
        step = max(1, len(front) // 6)
        for n, i in enumerate(front[::step]):
            candidates[f"frontier_{n}"] = evaluated[i][0]
        metric = objective if objective in en.METRICS else "npv"
        table = op.robust_table(problem, candidates, metric)
        robust = {"criterion": criterion, "metric": metric, "pick": op.pick(table, criterion),
                  "candidates": table, "futures": futures}
    # the figures tpsim compare reports for today's mix and for the best mix
    best_sc = sc.replace(overrides={lv.path: float(v) for lv, v in zip(lever_list, optimum.x)})
    today_entry = compare(sc, cf, optimism_bias=optimism_bias)[sc.name].to_dict()
    best_entry = compare(best_sc, cf, optimism_bias=optimism_bias)[best_sc.name].to_dict()
    settings = {"scenario": sc.name, "counterfactual": cf.name, "objective": objective,
                "budget": problem.budget, "futures": futures, "generations": generations,
                "popsize": popsize, "allow_section_114": allow_section_114,
                "frontier_figure": money, "horizon_months": job.n_months,
                "seed": seed if isinstance(seed, int) else None}
    return OptimisationResult(lever_list, optimum, best_entry, today_entry, frontier,
                              [(h[0].tolist(), h[1], h[2], h[3]) for h in evaluated], robust,
                              settings)
