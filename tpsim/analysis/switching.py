"""Switching values: the value of a key assumption at which an option's NPSV (or fiscal NPV)
turns zero, and the break-even horizon (docs/appraisal.md, "Switching values").

Model parameters (a uniform multiplier on every preventive effect, each preventive service's
``effect``, each large ``unit_cost``) are properties of the place and the evidence, not of the
option, so each is set in the option and in the counterfactual alike (writing a child of each
with the parameter at the switching value and re-running ``tpsim compare`` reproduces a zero
NPSV; tests/test_switching.py does). Each is evaluated on a bracket grid of values, every grid point of
every parameter a row of one batched kernel call; a sign change nearest the central value is
then refined by vectorised regula falsi (Illinois), every open bracket a row of one kernel call
per iteration. The QALY value and optimism bias enter the appraisal linearly and are solved
exactly from two appraisals.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tpsim.analysis.appraisal import (Accounts, AppraisalSettings, appraise, monthly_flows,
                                      payback_month)
from tpsim.analysis.comparison import (RunSpec, base_spec, new_place_shares, simulate_specs,
                                       valued_series)
from tpsim.models.structure import Model, compile_scenario

GRID_POINTS = 9
"""Values per parameter in the first (bracketing) batched call."""

MAX_ITERATIONS = 40
"""Most refinement calls (each one batched kernel call for every open bracket)."""

RELATIVE_TOLERANCE = 1e-6
"""A root is accepted when |NPV| <= this x the option's PV of costs with optimism bias (£)."""

UNIT_COST_RANGE = 10.0
"""Unit costs are searched from 0 to this multiple of the central value."""

LARGE_UNIT_COSTS = 5
"""Reactive services, by the option's horizon cash spend, whose unit cost is searched (every
preventive service's unit cost is searched too)."""

BREAK_EVEN_MONTHS = 360
"""The break-even horizon is searched up to 30 years (the declining schedule applies)."""

CASES = ("npsv", "fiscal_npv")


@dataclass(frozen=True)
class Parameter:
    """A model parameter to switch: the parameters at ``paths`` set to ``value`` (a dotted
    path) or scaled by it (a named multiplier), in the option and the counterfactual."""

    name: str
    paths: tuple[str, ...]
    central: float
    low: float
    high: float
    multiplier: bool = False


def model_parameters(model: Model, series: dict[str, np.ndarray]) -> list[Parameter]:
    """The parameters searched: the uniform effect multiplier, each preventive effect, each
    preventive unit cost and the largest reactive unit costs (by horizon cash spend)."""
    theta = model.theta0
    effects = tuple(f"services.{v}.effect" for v in model.preventive)
    largest = max((theta[model.param_index[e]] for e in effects), default=0.0)
    out = []
    if effects and largest > 0.0:
        out.append(Parameter("preventive_effect_multiplier", effects, 1.0, 0.0,
                             min(5.0, 1.0 / largest), multiplier=True))
    for e in effects:
        out.append(Parameter(e, (e,), float(theta[model.param_index[e]]), 0.0, 1.0))
    spend = {r: float(np.sum(series[f"spend.service.{r}"])) for r in model.reactive}
    large = sorted(model.reactive, key=lambda r: -spend[r])[:LARGE_UNIT_COSTS]
    for v in [*model.preventive, *large]:
        path = f"services.{v}.unit_cost"
        central = float(theta[model.param_index[path]])
        if central > 0.0:
            out.append(Parameter(path, (path,), central, 0.0, UNIT_COST_RANGE * central))
    return out


class _Evaluator:
    """NPSV and fiscal NPV of the option with parameters changed, many values per call."""

    def __init__(self, model: Model, cf_model: Model, accounts: Accounts,
                 settings: AppraisalSettings):
        self.model, self.cf_model = model, cf_model
        self.accounts, self.settings = accounts, settings
        self.calls = 0
        self.runs = 0

    @staticmethod
    def spec(model: Model, p: Parameter, value: float) -> RunSpec:
        """The model's run with parameter ``p`` at ``value``: a dotted path's base value set
        (its time-keyed changes, as in a child scenario, kept), a multiplier's base values and
        changes scaled."""
        spec = base_spec(model, f"{model.name} {p.name}={value:g}")
        cols = {model.param_index[path] for path in p.paths}
        for c in cols:
            spec.theta[c] = spec.theta[c] * value if p.multiplier else value
        if p.multiplier:
            spec.events = [(m, c, v * value if c in cols else v) for m, c, v in spec.events]
        return spec

    def __call__(self, points: list[tuple[Parameter, float]]) -> np.ndarray:
        """points -> array len(points) x 2: (npsv, fiscal_npv) over the horizon, £."""
        if not points:
            return np.zeros((0, 2))
        specs = [self.spec(self.model, p, v) for p, v in points]
        specs += [self.spec(self.cf_model, p, v) for p, v in points]
        batch = simulate_specs(specs, self.settings.discount_rate,
                               self.settings.health_discount_rate)
        self.calls += batch.kernel_calls
        self.runs += len(specs)
        n = len(points)
        out = np.empty((n, 2))
        for i in range(n):
            shares = new_place_shares(dataclasses.replace(self.model, theta0=specs[i].theta),
                                      dataclasses.replace(self.cf_model, theta0=specs[n + i].theta))
            flows = monthly_flows(batch.series(i), batch.series(n + i), self.accounts, shares,
                                  valued_series(self.settings))
            total = appraise(flows, self.settings).total
            out[i] = (total["npsv_horizon"], total["fiscal_npv_horizon"])
        return out


def _entry(parameter: str, central: float, value: float | None, case: str, low: float,
           high: float, method: str, applies_to: str) -> dict:
    return {"parameter": parameter, "central": central, "value": value, "case": case,
            "none_in_range": value is None, "range": [low, high], "method": method,
            "applies_to": applies_to}


def _nearest_bracket(grid: np.ndarray, f: np.ndarray, central: float) -> tuple[int, int] | None:
    """Indices (i, i+1) of the sign change of f on grid nearest ``central``, or None."""
    best, where = None, None
    for i in range(len(grid) - 1):
        if f[i] == 0.0 or np.sign(f[i]) != np.sign(f[i + 1]):
            d = min(abs(grid[i] - central), abs(grid[i + 1] - central))
            if best is None or d < best:
                best, where = d, (i, i + 1)
    return where


def solve_model_parameters(evaluate: _Evaluator, parameters: list[Parameter],
                           tolerance: float) -> list[dict]:
    """Switching values of model parameters for both cases (see the module docstring)."""
    grids = [np.linspace(p.low, p.high, GRID_POINTS) for p in parameters]
    # the central value is a grid point too, so a bracket is never missed next to it
    grids = [np.unique(np.append(g, p.central)) for g, p in zip(grids, parameters)]
    values = evaluate([(p, float(v)) for p, g in zip(parameters, grids) for v in g])
    brackets = []  # (parameter index, case index, a, b, fa, fb)
    k = 0
    found: dict[tuple[int, int], float | None] = {}
    for i, (p, g) in enumerate(zip(parameters, grids)):
        f = values[k:k + len(g)]
        k += len(g)
        for c in range(len(CASES)):
            br = _nearest_bracket(g, f[:, c], p.central)
            if br is None:
                found[(i, c)] = None
            elif f[br[0], c] == 0.0:
                found[(i, c)] = float(g[br[0]])
            else:
                brackets.append([i, c, float(g[br[0]]), float(g[br[1]]), float(f[br[0], c]),
                                 float(f[br[1], c]), 0])
    for _ in range(MAX_ITERATIONS):
        open_ = [b for b in brackets if (b[0], b[1]) not in found]
        if not open_:
            break
        xs = []
        for b in open_:
            _, _, a, bb, fa, fb = b[:6]
            xs.append(bb - fb * (bb - a) / (fb - fa) if fb != fa else 0.5 * (a + bb))
        f_new = evaluate([(parameters[b[0]], x) for b, x in zip(open_, xs)])
        for b, x, fx in zip(open_, xs, f_new[np.arange(len(open_)), [b[1] for b in open_]]):
            if abs(fx) <= tolerance or abs(b[3] - b[2]) <= 1e-12 * max(1.0, abs(x)):
                found[(b[0], b[1])] = float(x)
                continue
            # Illinois: keep the bracket; halve the stale end's value when it is kept twice
            if np.sign(fx) == np.sign(b[5]):
                b[3], b[5] = x, fx
                if b[6] == -1:
                    b[4] *= 0.5
                b[6] = -1
            else:
                b[2], b[4] = x, fx
                if b[6] == 1:
                    b[5] *= 0.5
                b[6] = 1
    for b in brackets:  # not converged within the iterations: the last estimate
        found.setdefault((b[0], b[1]), float(0.5 * (b[2] + b[3])))
    out = []
    for i, p in enumerate(parameters):
        for c, case in enumerate(CASES):
            out.append(_entry(p.name, p.central, found[(i, c)], case, p.low, p.high,
                              "batched bracket grid, then vectorised regula falsi",
                              "option and counterfactual"))
    return out


def solve_linear(flows, settings: AppraisalSettings) -> list[dict]:
    """Switching values of the QALY value (NPSV) and of optimism bias (both cases), exact:
    both enter the appraisal linearly."""
    out = []
    q0 = settings.qaly_value
    zero_q = appraise(flows, dataclasses.replace(settings, qaly_value=0.0)).total["npsv_horizon"]
    one_q = appraise(flows, dataclasses.replace(settings, qaly_value=1.0)).total["npsv_horizon"]
    slope = one_q - zero_q
    high = 10.0 * max(q0, 1.0)
    value = -zero_q / slope if slope != 0.0 and settings.value_qalys else None
    if value is not None and not 0.0 <= value <= high:
        value = None
    out.append(_entry("appraisal.qaly_value", q0, value, "npsv", 0.0, high, "exact (linear)",
                      "appraisal"))
    for case in CASES:
        key = f"{case}_horizon"
        f0 = appraise(flows, dataclasses.replace(settings, optimism_bias=0.0)).total[key]
        f1 = appraise(flows, dataclasses.replace(settings, optimism_bias=1.0)).total[key]
        value = -f0 / (f1 - f0) if f1 != f0 else None
        if value is not None and not 0.0 <= value <= 2.0:
            value = None
        out.append(_entry("appraisal.optimism_bias", settings.optimism_bias, value, case, 0.0,
                          2.0, "exact (linear)", "appraisal"))
    return out


def break_even(scenario, counterfactual, settings: AppraisalSettings,
               months: int = BREAK_EVEN_MONTHS) -> dict:
    """The month cumulative discounted NPSV (and fiscal NPV) turns non-negative after being
    negative, over ``months`` (the option and the counterfactual re-run that long; parameters
    after their own horizon stay as last set). 0: never negative; None: not within ``months``."""
    sc = scenario.replace(horizon=months)
    cf = counterfactual.replace(horizon=months)
    model, cf_model = compile_scenario(sc), compile_scenario(cf)
    batch = simulate_specs([base_spec(cf_model), base_spec(model)], settings.discount_rate,
                           settings.health_discount_rate)
    flows = monthly_flows(batch.series(1), batch.series(0), Accounts.from_model(model, sc.data),
                          new_place_shares(model, cf_model), valued_series(settings))
    ap = appraise(flows, settings)
    return {"months_searched": months, "npsv_month": payback_month(ap.discounted_npsv),
            "fiscal_npv_month": payback_month(ap.discounted_net),
            "npsv_at_months_searched": ap.total["npsv_horizon"],
            "kernel_calls": batch.kernel_calls}


def switching_analysis(runs, appraised, counterfactual) -> dict[str, dict]:
    """Switching values and break-even horizon of every appraised option, by scenario name:
    ``{"switching_values": [...], "break_even": {...}, "kernel_calls": n, "runs": n}``."""
    out = {}
    for a in appraised:
        model = runs.models[a.index]
        series = runs.batch.series(runs.scenarios[a.index])
        accounts = Accounts.from_model(model, a.scenario.data)
        evaluate = _Evaluator(model, runs.counterfactual_model, accounts, a.settings)
        tolerance = RELATIVE_TOLERANCE * max(1.0, abs(a.appraisal.total["pv_uplifted_costs_horizon"]))
        entries = solve_model_parameters(evaluate, model_parameters(model, series), tolerance)
        entries += solve_linear(a.flows, a.settings)
        out[a.scenario.name] = {"switching_values": entries,
                                "break_even": break_even(a.scenario, counterfactual, a.settings),
                                "kernel_calls": evaluate.calls, "runs": evaluate.runs}
    return out
