"""The best mix of preventive levers: differential evolution over whole candidate populations,
each generation one batched simulation, and the robust choice among mixes over many futures.

A *lever* is a numeric parameter path that is one column of the model's parameter vector
(``services.<s>.places``: places of a preventive service; ``pool.services.<s>``: the pool's
share of its spending on a service), searched between bounds. A *future* is one point of the
scenario's uncertainty section (the same futures for every candidate: common random numbers,
so candidates differ by their levers, not by luck); future 0 is the central case (every
uncertain parameter at the scenario's own value).

Constraints (a candidate that breaks one is infeasible; differential evolution sees its
objective plus a penalty that grows with the breach):

* **pool budget**: the monthly cost of the places levers, ``sum(places x unit cost)`` (£ a
  month at the price year), at most ``budget`` (default: today's mix's cost, so the search
  reallocates the same money); shares of the pool's spending (levers and the rest) sum to
  at most 1.
* **no section 114**: in the central case no council's reserves may fall below zero earlier
  than with today's mix (never, when they do not today).

Objectives (maximised): a metric the ensemble computes for each run
(:data:`tpsim.analysis.ensemble.METRICS`: ``npv``, ``npsv``, ``economic_npv`` and their
``_parliament`` values, ``bcr``), averaged over the futures; or ``payback``: the share of
futures that pay back within the Parliament.

Robust choice (:func:`robust_table`): for each candidate mix, over the same futures, the
expected objective metric, its 10th percentile and its maximum regret (in each future, the best
candidate's value minus this one's; the largest over the futures).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tpsim.analysis import ensemble as en
from tpsim.analysis.sampling import CENTRAL
from tpsim.errors import TpsimError

__all__ = ["Lever", "parse_lever", "make_levers", "MixProblem", "Optimum", "optimise",
           "robust_table", "frontier", "OBJECTIVES", "CRITERIA"]

#: Objectives besides the per-run fiscal metrics of the ensemble.
OBJECTIVES = ("payback",)
#: Robust criteria (docs/uncertainty.md, "Robust choice").
CRITERIA = ("expected", "p10", "regret")
_SLICE = 1024  # runs simulated together (memory: one slice of month-end snapshots)


@dataclass(frozen=True)
class Lever:
    """A searched parameter: ``path`` between ``low`` and ``high``; ``column`` of theta;
    ``kind`` ``places`` (``unit_cost``: £ per place-month) or ``share`` (of the pool's
    spending); ``today``: the scenario's own value."""

    path: str
    low: float
    high: float
    column: int
    kind: str
    unit_cost: float
    today: float


def parse_lever(text: str) -> tuple[str, float | None, float | None]:
    """``PATH`` or ``PATH=LOW:HIGH`` (bounds in the path's own units)."""
    path, _, bounds = text.partition("=")
    path = path.strip()
    if not bounds:
        return path, None, None
    low, sep, high = bounds.partition(":")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        raise TpsimError(f"cannot read the lever {text!r}: write PATH=LOW:HIGH, e.g. "
                         f"services.falls_prevention.places=0:2000", key="levers") from None
    if not sep or not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise TpsimError(f"cannot read the lever {text!r}: LOW and HIGH must be finite with "
                         f"LOW <= HIGH", key="levers")
    return path, lo, hi


def _kind(path: str) -> str:
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "services" and parts[2] == "places":
        return "places"
    if len(parts) == 3 and parts[:2] == ["pool", "services"]:
        return "share"
    raise TpsimError(f"{path}: a lever is services.<service>.places or pool.services.<service>",
                     key="levers")


def make_levers(scenario, model, specs: Sequence[tuple[str, float | None, float | None]]) -> list[Lever]:
    """Levers of ``scenario`` (compiled as ``model``); default bounds: 0 to 4x today's places,
    0 to 1 for a share. Raises :class:`TpsimError` (key ``levers``) for an unknown path or one
    that is not a single parameter column (its value would change other compiled values)."""
    from tpsim.models.structure import compile_scenario

    if not specs:
        raise TpsimError("name at least one lever", key="levers")
    levers, seen = [], set()
    for path, low, high in specs:
        kind = _kind(path)
        if path in seen:
            raise TpsimError(f"{path} is named twice", key="levers")
        seen.add(path)
        if path not in model.param_index:
            raise TpsimError(f"{path} is not a parameter of scenario {scenario.name!r}",
                             key="levers")
        column = model.param_index[path]
        today = float(model.theta0[column])
        if low is None:
            low, high = (0.0, max(4.0 * today, 1.0)) if kind == "places" else (0.0, 1.0)
        if kind == "share" and not 0.0 <= low <= high <= 1.0:
            raise TpsimError(f"{path}: a share's bounds must lie in [0, 1]", key="levers")
        if kind == "places" and low < 0.0:
            raise TpsimError(f"{path}: places cannot be negative", key="levers")
        probe = high if high != today else low
        if kind == "share":
            probe = min(probe, today)  # keep the shares' sum valid for the check
            probe = probe if probe != today else 0.5 * today
        changed = compile_scenario(scenario.replace(overrides={path: probe}))
        moved = np.flatnonzero(changed.theta0 != model.theta0)
        if probe != today and (set(moved) - {column} or not np.array_equal(
                changed.ev_value0, model.ev_value0)):
            raise TpsimError(f"{path} changes other compiled values of the scenario; it cannot "
                             f"be searched in one batched call", key="levers")
        unit_cost = 0.0
        if kind == "places":
            unit_cost = float(scenario.services[path.split(".")[1]]["unit_cost"])
        levers.append(Lever(path, float(low), float(high), int(column), kind, unit_cost, today))
    return levers


@dataclass
class MixProblem:
    """Candidates (mixes of the levers) evaluated over ``futures`` (unit points, row 0 the
    central case) of an ensemble job for ``[counterfactual, scenario]``."""

    job: en.EnsembleJob
    levers: list[Lever]
    futures: np.ndarray
    objective: str = "npv"
    budget: float | None = None
    other_shares: float = 0.0
    councils: tuple[str, ...] = ()
    allow_section_114: bool = False
    today_section_114: np.ndarray | None = None
    scenario_data: Mapping | None = None  # the scenario's resolved data (transfer services)
    history: list = field(default_factory=list)  # (x, money figure, central payback, feasible)
    evaluations: int = 0

    def __post_init__(self) -> None:
        known = [*en.METRICS, *OBJECTIVES]
        if self.objective not in known:
            raise TpsimError(f"unknown objective {self.objective!r} (known: {', '.join(known)})",
                             key="objective")
        self._base = en.parameters(self.job, self.futures)
        cf = self.job.models[0]
        from tpsim.models.simulate import simulate
        theta, ev = self._base[0]
        self._cf = simulate(cf, theta, ev, record=self.job.record[0],
                            **self.job.discount[0]).trajectory
        if self.budget is None:
            self.budget = self.cost(self.today[None, :])[0]
        if self.today_section_114 is None:
            self.today_section_114 = self.evaluate(self.today[None, :])["section_114"][0]

    @property
    def today(self) -> np.ndarray:
        return np.array([lv.today for lv in self.levers])

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return [(lv.low, lv.high) for lv in self.levers]

    @property
    def n_futures(self) -> int:
        return self.futures.shape[0]

    def cost(self, x: np.ndarray) -> np.ndarray:
        """Monthly cost of the places levers of candidates ``x`` (candidates x levers), £."""
        c = np.array([lv.unit_cost for lv in self.levers])
        return np.atleast_2d(x) @ c

    def _job_for(self, theta: np.ndarray) -> en.EnsembleJob:
        """The job with the optimism-bias base (each agency's new-place share of its
        preventive spend) of a candidate whose central parameters are ``theta``."""
        import dataclasses

        from tpsim.analysis.comparison import new_place_shares

        model, cf = self.job.models[1], self.job.models[0]
        shares = new_place_shares(dataclasses.replace(model, theta0=theta), cf)
        fiscal = dataclasses.replace(self.job.fiscal[1], share=np.array(
            [shares[a] for a in self.job.accounts[1].agencies], dtype=float))
        return dataclasses.replace(self.job, fiscal=[None, fiscal])

    def evaluate(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Candidates x futures figures: every metric, ``payback`` (month, -1 never) and, per
        candidate, the central case's section 114 month per council (inf: none)."""
        from tpsim.analysis.runs import _first_negative_month
        from tpsim.models.simulate import simulate

        x = np.atleast_2d(np.asarray(x, dtype=float))
        S, F = x.shape[0], self.n_futures
        job, model = self.job, self.job.models[1]
        theta_f, ev_f = self._base[1]
        out = {m: np.empty((S, F)) for m in en.METRICS}
        out["payback"] = np.empty((S, F), dtype=np.int64)
        out["section_114"] = np.full((S, max(len(self.councils), 1)), math.inf)
        row_of = {e: t for t, e in enumerate(job.tracked)}
        per_slice = max(1, _SLICE // F)
        for c0 in range(0, S, per_slice):
            cand = np.arange(c0, min(S, c0 + per_slice))
            theta = np.concatenate([theta_f] * cand.size)
            theta[:, [lv.column for lv in self.levers]] = np.repeat(x[cand], F, axis=0)
            ev = np.concatenate([ev_f] * cand.size)
            traj = simulate(model, theta, ev, record=job.record[1],
                            **job.discount[1]).trajectory
            for n, i in enumerate(cand):
                central = model.theta0.copy()
                central[[lv.column for lv in self.levers]] = x[i]
                rows = slice(n * F, (n + 1) * F)
                data = en.reduce_trajectories(self._job_for(central), [self._cf, traj[rows]])
                for j, m in enumerate(en.METRICS):
                    out[m][i] = data.metrics[:, j]
                out["payback"][i] = data.payback[:, 0]
                for c_i, c in enumerate(self.councils):
                    series = data.tracked[:1, row_of[(f"reserves.agency.{c}", 1, False)], :]
                    out["section_114"][i, c_i] = _first_negative_month(series)[0]
        return out

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """(objective per candidate, feasible per candidate, the figures)."""
        x = np.atleast_2d(x)
        self.evaluations += x.shape[0]
        figures = self.evaluate(x)
        if self.objective == "payback":
            months = min(self.job.settings[1].parliament_months, self.job.n_months)
            pb = figures["payback"]
            value = ((pb >= 0) & (pb <= months)).mean(axis=1)
        else:
            value = figures[self.objective].mean(axis=1)
        feasible = self.violation(x, figures) <= 0.0
        # the frontier's money figure: the objective itself, or the central fiscal NPV
        money = figures["npv"][:, 0] if self.objective == "payback" else value
        for i in range(x.shape[0]):
            if len(self.history) < 50000:
                self.history.append((x[i].copy(), float(money[i]),
                                     int(figures["payback"][i, 0]), bool(feasible[i])))
        return value, feasible, figures

    def violation(self, x: np.ndarray, figures: Mapping) -> np.ndarray:
        """How far each candidate breaks the constraints (0: feasible), in relative units."""
        v = np.zeros(x.shape[0])
        if any(lv.kind == "places" for lv in self.levers) and self.budget is not None:
            v += np.maximum(self.cost(x) - self.budget, 0.0) / max(abs(self.budget), 1.0)
        share = np.array([lv.kind == "share" for lv in self.levers])
        if share.any():
            v += np.maximum(x[:, share].sum(axis=1) + self.other_shares - 1.0, 0.0)
        if self.councils and not self.allow_section_114:
            # months earlier than today's mix (never = the month after the horizon)
            never = self.job.n_months + 1.0
            today = np.minimum(self.today_section_114, never)[None, :]
            earlier = np.maximum(today - np.minimum(figures["section_114"], never), 0.0)
            v += earlier.sum(axis=1) / self.job.n_months
        return v


@dataclass
class Optimum:
    """The best mix found: ``x`` (per lever), its objective and figures, today's, the number
    of candidates evaluated and generations, and whether the best is feasible."""

    x: np.ndarray
    value: float
    today_value: float
    feasible: bool
    today_feasible: bool
    evaluations: int
    generations: int
    message: str

    @property
    def improves(self) -> bool:
        return self.feasible and self.value > self.today_value + 1e-9 * max(1.0, abs(self.today_value))


def optimise(problem: MixProblem, seed: int = 0, generations: int = 40, popsize: int = 10,
             tol: float = 1e-3) -> Optimum:
    """Differential evolution (scipy, ``vectorized=True``: each generation's candidates are
    one batched evaluation) maximising the objective; infeasible candidates score below every
    feasible one. Today's mix is seeded into the first population."""
    from scipy.optimize import differential_evolution

    today_value, today_ok, _ = problem.score(problem.today)
    scale = [max(abs(float(today_value[0])), 1.0)]

    def penalised(xt: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(xt.T)
        value, feasible, figures = problem.score(x)
        breach = problem.violation(x, figures)
        return np.where(feasible, -value, scale[0] * (1e6 + 1e3 * breach) - value)

    bounds = problem.bounds
    lows = np.array([b[0] for b in bounds])
    highs = np.array([b[1] for b in bounds])
    rng = np.random.default_rng(seed)
    n = max(5, popsize * len(bounds))
    init = lows + rng.random((n, len(bounds))) * (highs - lows)
    init[0] = np.clip(problem.today, lows, highs)
    fixed = highs == lows
    if fixed.all():
        raise TpsimError("every lever has LOW == HIGH: nothing to search", key="levers")
    init[:, fixed] = lows[fixed]
    result = differential_evolution(penalised, bounds=[(lo, hi if hi > lo else lo + 1e-12)
                                                       for lo, hi in bounds],
                                    init=init, maxiter=generations, tol=tol, seed=seed,
                                    polish=False, vectorized=True, updating="deferred")
    best = np.clip(result.x, lows, highs)
    value, ok, _ = problem.score(best)
    return Optimum(best, float(value[0]), float(today_value[0]), bool(ok[0]), bool(today_ok[0]),
                   problem.evaluations, int(result.nit), str(result.message))


def robust_table(problem: MixProblem, candidates: Mapping[str, np.ndarray],
                 metric: str = "npv") -> dict[str, dict]:
    """Per candidate, over the problem's futures (the central case left out when there are
    others): ``expected`` (mean of ``metric``), ``p10`` (its 10th percentile), ``regret``
    (maximum over futures of the best candidate's value minus this one's), ``feasible``."""
    names = list(candidates)
    x = np.array([candidates[n] for n in names], dtype=float)
    figures = problem.evaluate(x)
    values = figures[metric]
    if values.shape[1] > 1:
        values = values[:, 1:]
    regret = values.max(axis=0, keepdims=True) - values
    feasible = problem.violation(x, figures) <= 0.0
    return {n: {"mix": {lv.path: float(x[i, j]) for j, lv in enumerate(problem.levers)},
                "expected": float(values[i].mean()), "p10": float(np.percentile(values[i], 10)),
                "regret": float(regret[i].max()), "feasible": bool(feasible[i])}
            for i, n in enumerate(names)}


def pick(table: Mapping[str, Mapping], criterion: str) -> str:
    """The feasible candidate best by ``criterion``: the highest ``expected`` or ``p10``, or
    the lowest maximum ``regret``."""
    if criterion not in CRITERIA:
        raise TpsimError(f"unknown criterion {criterion!r} (known: {', '.join(CRITERIA)})",
                         key="criterion")
    ok = [n for n, row in table.items() if row["feasible"]] or list(table)
    if criterion == "regret":
        return min(ok, key=lambda n: table[n]["regret"])
    return max(ok, key=lambda n: table[n][criterion])


def frontier(npv: np.ndarray, payback: np.ndarray, horizon: int) -> np.ndarray:
    """Indices of the candidates no other beats on both NPV (higher) and payback month
    (earlier; never paying back counts as ``horizon + 1``), by increasing payback."""
    pb = np.where(np.asarray(payback) < 0, horizon + 1, payback).astype(float)
    order = np.lexsort((-np.asarray(npv), pb))
    keep, best = [], -math.inf
    for i in order:
        if npv[i] > best:
            keep.append(i)
            best = npv[i]
    return np.array(keep, dtype=np.int64)


def central_and_futures(job: en.EnsembleJob, futures: int) -> np.ndarray:
    """Unit points: the central case, then ``futures`` points of the job's sampler and seed."""
    central = np.full((1, job.plan.d), CENTRAL)
    if futures <= 0 or job.plan.d == 0:
        return central
    return np.vstack([central, job.plan.unit(job.sampler, job.seed, 0, futures)])
