"""Fit scenario parameters to local data by weighted least squares (no file I/O here).

The data flow, as ``tpsim calibrate`` uses it::

    config (tpsim.config.calibration.load_config) + scenario + local data (read_local_data)
      -> resolve_parameters, build_targets -> CalibrationProblem
      -> fit(problem, settings)            -> FitResult (estimates, covariance, per-series stats)
      -> fit_report(...) / calibrated_scenario_yaml(...)

Residuals
    For observation i of series k (model month m_i), with the simulated value ``S_i`` and the
    observed value ``A_i``::

        r_i = sqrt(W_k) x (S_i - A_i) / sigma_i

    ``W_k`` is the series weight from the config (default 1). ``sigma_i`` is the row's standard
    error when the data file has an ``se`` column; otherwise ``scale_k / sqrt(w_i)`` with
    ``w_i`` the row's ``weight`` (default 1) and ``scale_k`` the series' ``scale`` from the
    config, by default the mean absolute observed value of the series, so series in pounds
    and in people are matched on relative error. The fit minimises ``sum r_i^2``.

Optimisation
    Parameters are mapped to the unit cube, ``u = (x - lower) / (upper - lower)``. A scrambled
    Sobol sample (``scipy.stats.qmc``) of ``candidates`` points is screened in ONE batched
    kernel call; ``scipy.optimize.least_squares`` (trust-region reflective, bounds [0, 1]) is
    then run from the initial values and from the best ``starts - 1`` candidates. Its Jacobian
    is a callable that builds the rows ``u +- h e_j`` for every parameter (central differences;
    one-sided three-point formulas at a bound) and simulates them in ONE kernel call.

Uncertainty
    At the best fit, with ``J`` the Jacobian of the residuals in the parameters' own units and
    ``s^2 = sum r^2 / (n - p)`` (``standard_errors: scaled``; 1 with ``absolute``, for data
    whose ``se`` are real standard errors), ``cov = s^2 (J^T J)^-1`` (a pseudo-inverse through
    the SVD of the column-normalised J; a direction with no information gives an infinite
    standard error). The 95% interval is ``estimate +- t(0.975, n - p) x se``. Correlations
    above ``correlation_warning`` in absolute value flag pairs the data cannot separate.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from scipy.stats import qmc

from tpsim import __version__
from tpsim.errors import ScenarioError
from tpsim.analysis.fitstats import series_fit_statistics
from tpsim.config.calibration import CalibrationConfig, FitSettings, SeriesSpec
from tpsim.config.localdata import LocalData, month_label
from tpsim.models.structure import Model
from tpsim.models.results import build_results
from tpsim.models.series import columns as series_columns
from tpsim.config.scenario import Scenario
from tpsim.models.simulate import simulate

__all__ = [
    "FitParameter", "Target", "CalibrationProblem", "FitEvent", "StartResult", "FitResult",
    "series_names", "resolve_parameters", "build_targets", "Setup", "setup", "fit",
    "parameter_statistics",
    "nest_paths", "calibrated_scenario_yaml", "fit_report",
]

#: Residual substituted for a non-finite simulated value, so the optimiser steps back.
_NONFINITE_RESIDUAL = 1e6
#: Finite-difference step in the unit cube (central differences: truncation error ~ h^2).
_FD_STEP = 1e-4
#: A parameter closer than this (unit cube) to a bound is reported as at the bound.
_AT_BOUND = 1e-6


# ---------------------------------------------------------------------------------------------
# Parameters and targets
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitParameter:
    """A parameter being fitted: dotted path, theta column, bounds, start and scenario value
    (all in the parameter's own units)."""

    path: str
    column: int
    lower: float
    upper: float
    initial: float
    scenario_value: float


@dataclass(frozen=True)
class Target:
    """One observed series to match.

    ``months`` are model months (1-based); ``factor`` is ``sqrt(W_k) / sigma_i`` per
    observation (see the module docstring); ``scale`` is None when the data give standard
    errors.
    """

    name: str
    months: np.ndarray
    labels: tuple[str, ...]
    observed: np.ndarray
    factor: np.ndarray
    weight: float
    scale: float | None


def series_names(model: Model) -> list[str]:
    """Every output series of ``model`` (the columns of ``tpsim run``'s timeseries.csv)."""
    return [name for name, _, _ in series_columns(model)]


def _is_switch(path: str) -> bool:
    return path.startswith("loops.") or path == "pool.enabled"


def resolve_parameters(config: CalibrationConfig, scenario: Scenario,
                       model: Model) -> tuple[FitParameter, ...]:
    """Check each configured parameter against the scenario and return its theta column.

    Raises :class:`~tpsim.config.localdata.ConfigError` (config file, ``parameters.<path>``) for an
    unknown path, a switch, or a bound that is not a valid value of the parameter (for example
    an ``effect`` above 1, or a rate that makes ``time.dt`` too large).
    """
    known = scenario.parameter_paths()
    out = []
    for spec in config.parameters:
        key = ("parameters", spec.path)
        if spec.path not in known:
            match = difflib.get_close_matches(spec.path, known, n=1, cutoff=0.6)
            hint = f" (did you mean '{match[0]}'?)" if match else ""
            raise config.error(key, f"not a parameter of scenario {scenario.name}{hint}")
        if _is_switch(spec.path):
            raise config.error(key, "a switch (0 or 1) cannot be fitted; set it in the scenario")
        if spec.path not in model.param_index:
            raise config.error(key, "this parameter cannot be fitted")
        for bound, value in (("lower", spec.lower), ("upper", spec.upper)):
            try:
                scenario.replace(overrides={spec.path: value})
            except ScenarioError as err:
                what = err.message if err.key == spec.path else f"{err.key}: {err.message}"
                raise config.error(key + (bound,), f"{bound} = {value:g} is not a valid value "
                                                   f"of {spec.path}: {what}") from None
        value = float(scenario.get(spec.path))
        initial = spec.initial if spec.initial is not None else \
            min(max(value, spec.lower), spec.upper)
        out.append(FitParameter(spec.path, model.param_index[spec.path], spec.lower, spec.upper,
                                float(initial), value))
    return tuple(out)


def build_targets(config: CalibrationConfig, data: LocalData) -> tuple[tuple[Target, ...],
                                                                        list[str]]:
    """The series to match (config ``series``, default every series in the data) and the names
    of data series left unused. A configured series with no rows in the data is a config
    error."""
    if config.series is None:
        specs = [SeriesSpec(name) for name in data.series]
    else:
        specs = list(config.series)
        for i, spec in enumerate(specs):
            if spec.name not in data.series:
                key = ("series", spec.name) if config.located(("series", spec.name)) \
                    else ("series", i)
                raise config.error(key, f"no rows for series {spec.name} in {data.path}")
    targets = []
    for spec in specs:
        obs = data.series[spec.name]
        if obs.standard_errors is not None:
            factor = math.sqrt(spec.weight) / obs.standard_errors
            scale = None
        else:
            scale = spec.scale
            if scale is None:
                mean_abs = float(np.mean(np.abs(obs.values)))
                scale = mean_abs if mean_abs > 0 else 1.0
            factor = np.sqrt(spec.weight * obs.weights) / scale
        targets.append(Target(spec.name, obs.months, obs.labels, obs.values,
                              np.asarray(factor, dtype=float), spec.weight, scale))
    used = {t.name for t in targets}
    return tuple(targets), [name for name in data.series if name not in used]


# ---------------------------------------------------------------------------------------------
# The problem: parameters -> weighted residuals, many parameter sets per kernel call
# ---------------------------------------------------------------------------------------------


class CalibrationProblem:
    """Weighted residuals of many parameter sets, simulated in one batched kernel call.

    The model is simulated only up to the last observed month (``fit_model``); month ``m`` of
    the data is month ``m`` of the full scenario (the model is causal).
    """

    def __init__(self, model: Model, parameters: Sequence[FitParameter],
                 targets: Sequence[Target], discount_rate: float = 0.035,
                 health_discount_rate: float = 0.015) -> None:
        if not parameters:
            raise ValueError("no parameters to fit")
        if not targets:
            raise ValueError("no series to match")
        self.model = model
        self.parameters = tuple(parameters)
        self.targets = tuple(targets)
        last = max(int(t.months.max()) for t in self.targets)
        self.fit_model = dataclasses.replace(model, n_months=last)
        self.columns = np.array([p.column for p in self.parameters], dtype=np.int64)
        self.lower = np.array([p.lower for p in self.parameters])
        self.upper = np.array([p.upper for p in self.parameters])
        self.width = self.upper - self.lower
        self.factor = np.concatenate([t.factor for t in self.targets])
        self.observed = np.concatenate([t.observed for t in self.targets])
        self._discount = dict(discount_rate=discount_rate,
                              health_discount_rate=health_discount_rate)
        self.runs = 0          # kernel runs so far
        self.kernel_calls = 0  # batched kernel calls so far

    @property
    def n_parameters(self) -> int:
        return len(self.parameters)

    @property
    def n_observations(self) -> int:
        """Observations that count (positive weight)."""
        return int(np.count_nonzero(self.factor > 0))

    @property
    def names(self) -> list[str]:
        return [p.path for p in self.parameters]

    def to_natural(self, u: np.ndarray) -> np.ndarray:
        return self.lower + np.asarray(u, dtype=float) * self.width

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.lower) / self.width

    def theta(self, x: np.ndarray, model: Model | None = None) -> np.ndarray:
        """Parameter matrix (runs x nparam) with the fitted columns set from ``x`` (runs x p)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        model = model or self.fit_model
        theta = model.theta(x.shape[0])
        theta[:, self.columns] = x
        return theta

    def simulate_results(self, x: np.ndarray, full_horizon: bool = False):
        """Labelled :class:`~tpsim.models.results.Results` for the parameter sets ``x`` (runs x p)."""
        model = self.model if full_horizon else self.fit_model
        raw = simulate(model, self.theta(x, model), record=True, **self._discount)
        self.runs += raw.theta.shape[0]
        self.kernel_calls += 1
        return build_results(model, raw)

    def simulated(self, x: np.ndarray) -> np.ndarray:
        """Simulated values at the observations, runs x n_obs (targets concatenated)."""
        results = self.simulate_results(x)
        return np.concatenate([results[t.name][:, t.months - 1] for t in self.targets], axis=1)

    def residuals_unit(self, u: np.ndarray) -> np.ndarray:
        """Weighted residuals (runs x n_obs) for points ``u`` of the unit cube (runs x p)."""
        sim = self.simulated(self.to_natural(np.atleast_2d(u)))
        r = (sim - self.observed) * self.factor
        return np.where(np.isfinite(r), r, _NONFINITE_RESIDUAL)


# ---------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitEvent:
    """Progress of a fit, passed to the ``progress`` callback after each kernel call.

    ``stage`` is ``"screen"`` (the Sobol candidates), ``"residuals"``, ``"jacobian"``,
    ``"start_done"`` or ``"statistics"``; ``start`` is 1-based (0 while screening);
    ``cost`` is the weighted sum of squares at the latest point, ``best_cost`` the best so far.
    """

    stage: str
    start: int
    starts: int
    evaluations: int
    cost: float
    best_cost: float
    runs: int
    elapsed: float


@dataclass
class StartResult:
    """One local least-squares fit. Costs are weighted sums of squares (sum r^2)."""

    index: int
    origin: str              # "initial" (the configured or scenario values) or "sobol"
    x0: np.ndarray
    x: np.ndarray
    cost: float
    initial_cost: float
    evaluations: int         # residual evaluations (least_squares nfev)
    jacobians: int           # Jacobian evaluations (one batched kernel call each)
    status: int
    message: str
    success: bool


@dataclass
class FitResult:
    problem: CalibrationProblem
    best: StartResult
    starts: list[StartResult]
    candidates: int
    residuals: np.ndarray            # weighted residuals at the best fit
    jacobian: np.ndarray             # d residual / d parameter, parameters' own units
    statistics: dict                 # parameter_statistics(...)
    series: dict[str, dict]          # name -> {"initial": stats, "fitted": stats}
    trajectories: dict[str, np.ndarray]  # name -> 2 x full horizon (initial, fitted)
    settings: FitSettings
    elapsed: float
    runs: int
    kernel_calls: int

    @property
    def estimates(self) -> dict[str, float]:
        return {p.path: float(v) for p, v in zip(self.problem.parameters, self.best.x)}


class _Objective:
    """Residuals and a batched finite-difference Jacobian in the unit cube, with a one-point
    cache so the Jacobian reuses the residuals least_squares has just computed."""

    def __init__(self, problem: CalibrationProblem, report: Callable[[str, float], None]):
        self.problem = problem
        self.report = report
        self._key: bytes | None = None
        self._value: np.ndarray | None = None
        self.n_fun = 0
        self.n_jac = 0

    def fun(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        key = u.tobytes()
        if key != self._key:
            self._value = self.problem.residuals_unit(u[None, :])[0]
            self._key = key
        self.n_fun += 1
        self.report("residuals", float(self._value @ self._value))
        return self._value

    def jac(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        p = u.size
        h = _FD_STEP
        rows, plan = [], []
        need_base = False
        for j in range(p):
            e = np.zeros(p)
            e[j] = h
            if u[j] - h >= 0.0 and u[j] + h <= 1.0:
                plan.append(("central", len(rows)))
                rows += [u + e, u - e]
            elif u[j] + 2 * h <= 1.0:
                plan.append(("forward", len(rows)))
                rows += [u + e, u + 2 * e]
                need_base = True
            else:
                plan.append(("backward", len(rows)))
                rows += [u - e, u - 2 * e]
                need_base = True
        cached = self._key == u.tobytes()
        if need_base and not cached:
            rows.append(u.copy())
        R = self.problem.residuals_unit(np.array(rows))
        if need_base:
            base = self._value if cached else R[-1]
        J = np.empty((R.shape[1], p))
        for j, (kind, k) in enumerate(plan):
            if kind == "central":
                J[:, j] = (R[k] - R[k + 1]) / (2 * h)
            elif kind == "forward":
                J[:, j] = (-3 * base + 4 * R[k] - R[k + 1]) / (2 * h)
            else:
                J[:, j] = (3 * base - 4 * R[k] + R[k + 1]) / (2 * h)
        self.n_jac += 1
        cost = float(self._value @ self._value) if cached else math.nan
        self.report("jacobian", cost)
        return J


@dataclass
class Setup:
    """What a calibration config resolves to: its scenario and compiled model, the local data,
    the parameters to fit, the series to match and the data series left unused."""

    scenario: Scenario
    model: Model
    data: LocalData
    parameters: tuple[FitParameter, ...]
    targets: tuple[Target, ...]
    unused: list[str]

    def problem(self) -> CalibrationProblem:
        """A fresh problem, discounting at the scenario's rates."""
        ap = self.scenario.appraisal
        return CalibrationProblem(self.model, self.parameters, self.targets,
                                  discount_rate=ap["discount_rate"],
                                  health_discount_rate=ap["health_discount_rate"])


def setup(config: CalibrationConfig) -> Setup:
    """Load the config's scenario and local data and resolve parameters and targets (errors
    name the file, line and key)."""
    import os

    from tpsim.config.localdata import read_local_data
    from tpsim.models.structure import compile_scenario
    from tpsim.config.scenario import load_scenario

    scenario = load_scenario(config.scenario_path)
    model = compile_scenario(scenario)
    parameters = resolve_parameters(config, scenario, model)
    t = scenario.time
    data = read_local_data(config.data_path, t.start, int(t.horizon), series_names(model),
                           scenario_file=os.fspath(config.scenario_path))
    targets, unused = build_targets(config, data)
    return Setup(scenario, model, data, tuple(parameters), targets, unused)


def prepare(config: CalibrationConfig, starts: int | None = None,
            seed: int | None = None) -> tuple[CalibrationConfig, Setup, CalibrationProblem]:
    """The config with ``starts`` and ``seed`` (an int) replacing its ``fit`` settings (more
    candidates when the starts need them), its :class:`Setup` and a problem, refused with the
    config's error when it has no more observations than parameters."""
    import dataclasses

    overrides = {k: v for k, v in (("starts", starts), ("seed", seed)) if v is not None}
    if overrides:
        settings = dataclasses.replace(config.fit, **overrides)
        if settings.candidates < settings.starts - 1:
            settings = dataclasses.replace(settings, candidates=settings.starts - 1)
        config = dataclasses.replace(config, fit=settings)
    prepared = setup(config)
    problem = prepared.problem()
    if problem.n_observations <= problem.n_parameters:
        raise config.error(("parameters",), f"{problem.n_observations} observations with "
                                            f"positive weight cannot determine "
                                            f"{problem.n_parameters} parameters: fit fewer "
                                            f"parameters or add data")
    return config, prepared, problem


def fit(problem: CalibrationProblem, settings: FitSettings = FitSettings(),
        progress: Callable[[FitEvent], None] | None = None) -> FitResult:
    """Fit ``problem`` by multi-start weighted least squares; see the module docstring."""
    t0 = time.perf_counter()
    p = problem.n_parameters
    n = problem.n_observations
    if n <= p:
        raise ValueError(f"{n} observations cannot determine {p} parameters")
    state = {"stage": "screen", "start": 0, "evals": 0, "best": math.inf}

    def report(stage: str, cost: float) -> None:
        if math.isfinite(cost):
            state["best"] = min(state["best"], cost)
        state["evals"] += 1
        if progress is not None:
            progress(FitEvent(stage, state["start"], settings.starts, state["evals"], cost,
                              state["best"], problem.runs, time.perf_counter() - t0))

    # 1. screen the initial values and a scrambled Sobol sample in one kernel call
    u_initial = problem.to_unit([q.initial for q in problem.parameters])
    n_sobol = max(settings.candidates, settings.starts - 1)
    sampler = qmc.Sobol(d=p, scramble=True, seed=settings.seed)
    m = max(0, math.ceil(math.log2(n_sobol))) if n_sobol > 0 else 0
    candidates = sampler.random_base2(m)[:n_sobol] if n_sobol > 0 else np.zeros((0, p))
    points = np.vstack([u_initial[None, :], candidates])
    r = problem.residuals_unit(points)
    costs = np.einsum("ij,ij->i", r, r)
    report("screen", float(costs.min()))
    order = 1 + np.argsort(costs[1:], kind="stable")
    chosen = [(0, "initial")] + [(int(k), "sobol") for k in order[: settings.starts - 1]]

    # 2. local least-squares fits
    results: list[StartResult] = []
    for index, (k, origin) in enumerate(chosen, start=1):
        state.update(start=index, evals=0)
        objective = _Objective(problem, report)
        u0 = np.clip(points[k], 0.0, 1.0)
        sol = optimize.least_squares(
            objective.fun, u0, jac=objective.jac, bounds=(0.0, 1.0), method="trf",
            x_scale=1.0, ftol=settings.tolerance, xtol=settings.tolerance,
            gtol=settings.tolerance, max_nfev=settings.max_evaluations)
        u = np.clip(sol.x, 0.0, 1.0)
        results.append(StartResult(
            index=index, origin=origin, x0=problem.to_natural(u0), x=problem.to_natural(u),
            cost=float(2.0 * sol.cost), initial_cost=float(costs[k]), evaluations=int(sol.nfev),
            jacobians=int(objective.n_jac), status=int(sol.status), message=str(sol.message),
            success=bool(sol.success)))
        report("start_done", float(2.0 * sol.cost))
    best = min(results, key=lambda s: (s.cost, s.index))

    # 3. uncertainty at the best fit: one batched Jacobian call
    state.update(stage="statistics", start=len(results))
    objective = _Objective(problem, report)
    u_best = problem.to_unit(best.x)
    residuals = objective.fun(u_best)
    jac_unit = objective.jac(u_best)
    jacobian = jac_unit / problem.width
    stats_ = parameter_statistics(
        jac_unit, residuals, problem.names, best.x, problem.width, problem.lower, problem.upper,
        scaled=settings.standard_errors == "scaled",
        correlation_warning=settings.correlation_warning, n_observations=n)

    # 4. per-series fit statistics and full-horizon trajectories: initial vs fitted
    x_initial = np.array([q.initial for q in problem.parameters])
    full = problem.simulate_results(np.vstack([x_initial, best.x]), full_horizon=True)
    series, trajectories = {}, {}
    for t in problem.targets:
        traj = full[t.name]
        trajectories[t.name] = traj
        series[t.name] = {
            "initial": series_fit_statistics(t.observed, traj[0, t.months - 1]),
            "fitted": series_fit_statistics(t.observed, traj[1, t.months - 1]),
        }
    stats_["distinct_optima"] = _distinct_optima(problem, results, best)
    if stats_["distinct_optima"]:
        stats_["warnings"].append(
            f"{len(stats_['distinct_optima']) + 1} starts reached different parameter values "
            f"with the same cost (within 0.1%): the data do not pin the parameters down "
            f"uniquely")
    return FitResult(problem=problem, best=best, starts=results, candidates=int(n_sobol),
                     residuals=residuals, jacobian=jacobian, statistics=stats_, series=series,
                     trajectories=trajectories, settings=settings,
                     elapsed=time.perf_counter() - t0, runs=problem.runs,
                     kernel_calls=problem.kernel_calls)


def _distinct_optima(problem: CalibrationProblem, results: list[StartResult],
                     best: StartResult) -> list[int]:
    """Starts whose cost is within 0.1% of the best but whose estimates differ by more than
    1% of a parameter's range."""
    tol = 1e-3 * best.cost + 1e-12
    u_best = problem.to_unit(best.x)
    out = []
    for s in results:
        if s is best or s.cost > best.cost + tol:
            continue
        if np.max(np.abs(problem.to_unit(s.x) - u_best)) > 1e-2:
            out.append(s.index)
    return out


def parameter_statistics(jac_unit: np.ndarray, residuals: np.ndarray, names: Sequence[str],
                         estimates: np.ndarray, width: np.ndarray, lower: np.ndarray,
                         upper: np.ndarray, scaled: bool = True, level: float = 0.95,
                         correlation_warning: float = 0.9,
                         n_observations: int | None = None) -> dict:
    """Standard errors, confidence intervals and correlations from the Jacobian.

    ``jac_unit`` is d residual / d u (u = the unit-cube coordinate; x = lower + u x width).
    ``n_observations`` counts the observations with positive weight (default: every row of
    the Jacobian). Returns a dict with ``dof``, ``residual_variance``, ``t_value``, per-parameter
    ``standard_error``, ``interval`` (natural units), ``identifiable``, ``at_bound``, the
    ``correlation`` matrix, and human-readable ``warnings``.
    """
    jac_unit = np.asarray(jac_unit, dtype=float)
    residuals = np.asarray(residuals, dtype=float)
    estimates = np.asarray(estimates, dtype=float)
    p = jac_unit.shape[1]
    n = jac_unit.shape[0] if n_observations is None else int(n_observations)
    dof = n - p
    rss = float(residuals @ residuals)
    s2 = rss / dof if (scaled and dof > 0) else 1.0

    # covariance in the unit cube through the SVD of the column-normalised Jacobian
    norms = np.linalg.norm(jac_unit, axis=0)
    identifiable = norms > 0.0
    cov_u = np.full((p, p), np.nan)
    if identifiable.any():
        Jn = jac_unit[:, identifiable] / norms[identifiable]
        _, sv, vt = np.linalg.svd(Jn, full_matrices=False)
        keep = sv > sv.max() * max(Jn.shape) * np.finfo(float).eps * 1e3
        v_keep, v_drop = vt[keep].T, vt[~keep].T
        cov_n = (v_keep / sv[keep] ** 2) @ v_keep.T
        sub = np.flatnonzero(identifiable)
        if v_drop.size:
            loads = np.max(np.abs(v_drop), axis=1) > 1e-8
            identifiable[sub[loads]] = False
        cov_sub = cov_n / np.outer(norms[sub], norms[sub])
        cov_u[np.ix_(sub, sub)] = cov_sub
    cov_u[~identifiable, :] = np.nan
    cov_u[:, ~identifiable] = np.nan
    cov_x = s2 * cov_u * np.outer(width, width)
    se = np.where(identifiable, np.sqrt(np.abs(np.diag(cov_x))), np.inf)
    t_value = float(stats.t.ppf(0.5 + level / 2.0, dof)) if dof > 0 else math.inf
    lo_ci = np.where(identifiable, estimates - t_value * se, -np.inf)
    hi_ci = np.where(identifiable, estimates + t_value * se, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov_x / np.outer(se, se)
    np.fill_diagonal(corr, np.where(identifiable, 1.0, np.nan))
    u = (estimates - lower) / width
    at_bound = [("lower" if ui <= _AT_BOUND else "upper" if ui >= 1 - _AT_BOUND else None)
                for ui in u]

    warnings = []
    for j, name in enumerate(names):
        if not identifiable[j]:
            warnings.append(f"{name}: not identifiable: the matched series carry no information "
                            f"on it (or only in combination with other parameters); fix it in "
                            f"the scenario or match a series it affects")
        elif at_bound[j]:
            warnings.append(f"{name}: the estimate is at its {at_bound[j]} bound; the data may "
                            f"want a value outside the bounds, and the interval (which assumes "
                            f"an interior optimum) is unreliable")
        elif abs(estimates[j]) > 0 and se[j] > 0.5 * abs(estimates[j]):
            warnings.append(f"{name}: poorly determined (standard error {se[j]:.3g} is more "
                            f"than half the estimate {estimates[j]:.4g})")
    pairs = []
    for i in range(p):
        for j in range(i + 1, p):
            c = corr[i, j]
            if np.isfinite(c) and abs(c) >= correlation_warning:
                pairs.append({"parameters": [names[i], names[j]], "correlation": float(c)})
                warnings.append(f"{names[i]} and {names[j]} are strongly correlated "
                                f"(r = {c:+.3f}): the data barely separate them; fix one of "
                                f"them or match a series that tells them apart")
    return {
        "n_observations": n,
        "n_parameters": p,
        "dof": dof,
        "weighted_sum_of_squares": rss,
        "residual_variance": s2,
        "standard_errors": "scaled" if scaled else "absolute",
        "level": level,
        "t_value": t_value,
        "names": list(names),
        "estimate": estimates,
        "standard_error": se,
        "interval": np.column_stack([lo_ci, hi_ci]),
        "identifiable": identifiable,
        "at_bound": at_bound,
        "covariance": cov_x,
        "correlation": corr,
        "correlated_pairs": pairs,
        "warnings": warnings,
    }


# ---------------------------------------------------------------------------------------------
# Outputs: the calibrated scenario and the fit report (text and dicts; the CLI writes them)
# ---------------------------------------------------------------------------------------------


def nest_paths(values: Mapping[str, float]) -> dict:
    """``{"a.b.c": 1.0}`` -> ``{"a": {"b": {"c": 1.0}}}`` (document order kept)."""
    out: dict = {}
    for path, value in values.items():
        node = out
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _yaml_scalar(value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(float(value))
    return str(value)


def calibrated_scenario_yaml(name: str, extends: str, values: Mapping[str, float],
                             comments: Mapping[str, str] | None = None,
                             header: Sequence[str] = (), title: str | None = None,
                             description: str | None = None,
                             source_note: str | None = None) -> str:
    """The text of a scenario that ``extends`` the original and sets only ``values``.

    ``values`` maps dotted parameter paths to numbers (written with full precision);
    ``comments`` maps the same paths to a trailing comment. ``header`` lines become ``#``
    comments at the top. A ``sources`` entry ``local_calibration`` cites the fit.
    """
    comments = comments or {}
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append(f"name: {_yaml_scalar(name)}")
    if title:
        lines.append(f"title: {_yaml_scalar(title)}")
    if description:
        lines.append(f"description: {_yaml_scalar(description)}")
    lines.append(f"extends: {_yaml_scalar(extends)}")
    if source_note:
        lines.append("sources:")
        lines.append(f"  local_calibration: {_yaml_scalar(source_note)}")

    def emit(node: Mapping, depth: int, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            pad = "  " * depth
            if isinstance(value, Mapping):
                lines.append(f"{pad}{key}:")
                emit(value, depth + 1, path)
            else:
                comment = f"  # {comments[path]}" if path in comments else ""
                lines.append(f"{pad}{key}: {_yaml_scalar(float(value))}{comment}")

    emit(nest_paths(values), 0, "")
    return "\n".join(lines) + "\n"


def fit_report(result: FitResult, *, config_file: str, scenario: Scenario, data: LocalData,
               calibrated_file: str, unused_series: Sequence[str] = ()) -> dict:
    """The content of ``fit_report.json`` (plain Python types; NaN/inf become null on write)."""
    problem = result.problem
    st = result.statistics
    start = scenario.time.start
    parameters = {}
    for j, q in enumerate(problem.parameters):
        parameters[q.path] = {
            "estimate": float(st["estimate"][j]),
            "standard_error": float(st["standard_error"][j]),
            "interval_95": [float(st["interval"][j, 0]), float(st["interval"][j, 1])],
            "relative_standard_error": (float(st["standard_error"][j] / abs(st["estimate"][j]))
                                        if st["estimate"][j] != 0 else None),
            "initial": q.initial,
            "scenario_value": q.scenario_value,
            "lower": q.lower,
            "upper": q.upper,
            "identifiable": bool(st["identifiable"][j]),
            "at_bound": st["at_bound"][j],
        }
    series = {}
    for t in problem.targets:
        fitted = result.trajectories[t.name][1, t.months - 1]
        series[t.name] = {
            "months": [t.labels[0], t.labels[-1]],
            "n": int(t.months.size),
            "weight": t.weight,
            "scale": t.scale,
            "statistics": result.series[t.name]["fitted"],
            "statistics_before_calibration": result.series[t.name]["initial"],
            "weighted_sum_of_squares": float(np.sum(((fitted - t.observed) * t.factor) ** 2)),
        }
    return {
        "tpsim_version": __version__,
        "config": config_file,
        "scenario": {"name": scenario.name, "file": str(scenario.path),
                     "hash": scenario.hash, "time_start": start,
                     "horizon_months": scenario.time.horizon},
        "data": {"file": data.path, "rows": data.n_rows, "series_used": len(problem.targets),
                 "series_unused": list(unused_series),
                 "months_fitted": [month_label(start, 1),
                                   month_label(start, problem.fit_model.n_months)]},
        "calibrated_scenario": calibrated_file,
        "units": "each series in its own units (see docs/outputs.md); parameters in their "
                 "scenario units (docs/scenario-format.md); MAPE in percent",
        "objective": {
            "definition": "sum over observations of (sqrt(series weight) x (simulated - "
                          "observed) / sigma)^2, sigma = se, or scale / sqrt(row weight)",
            "weighted_sum_of_squares": st["weighted_sum_of_squares"],
            "n_observations": st["n_observations"],
            "n_parameters": st["n_parameters"],
            "degrees_of_freedom": st["dof"],
            "residual_variance": st["residual_variance"],
            "standard_errors": st["standard_errors"],
            "t_value_95": st["t_value"],
        },
        "parameters": parameters,
        "correlation": {"parameters": list(st["names"]), "matrix": st["correlation"]},
        "strongly_correlated_pairs": st["correlated_pairs"],
        "warnings": list(st["warnings"]),
        "series": series,
        "starts": [{
            "start": s.index, "origin": s.origin,
            "from": dict(zip(problem.names, map(float, s.x0))),
            "to": dict(zip(problem.names, map(float, s.x))),
            "initial_cost": s.initial_cost, "cost": s.cost, "evaluations": s.evaluations,
            "jacobians": s.jacobians, "status": s.status, "message": s.message,
            "best": s is result.best,
        } for s in result.starts],
        "distinct_optima_starts": st["distinct_optima"],
        "fit_settings": dataclasses.asdict(result.settings),
        "performance": {"seconds": result.elapsed, "kernel_runs": result.runs,
                        "kernel_calls": result.kernel_calls,
                        "candidates_screened": result.candidates + 1},
    }
