"""Drawing uncertain parameters: samplers of the unit hypercube, the Gaussian copula, plans.

Plain functions and small classes on numpy arrays (SALib's split: sampling here, analysis in
:mod:`tpsim.analysis.sensitivity`, the section's schema and marginal distributions in
:mod:`tpsim.config.uncertainty`, file handling only in the command layer).

A draw is a point ``u`` of the unit hypercube, one coordinate per *factor*; a factor is one
uncertain path (shared by every scenario in a comparison, so differences are paired), or one
path in one scenario when ``shared: false``. Values are ``dist.ppf(u)``, with ``u`` clipped
to ``[EPS, 1 - EPS]``.

Blocks: the points of runs ``k*BLOCK .. (k+1)*BLOCK - 1`` are drawn together with the seed
``SeedSequence(seed, spawn_key=(k,))``, so run ``i``'s parameters depend only on
``(seed, i)``, never on how runs are split into chunks or sent to workers. LHS and Sobol
stratify within each block (a scrambled Sobol block of 4096 = 2^12 points is balanced).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tpsim.config.scenario import scenario_from_dict
from tpsim.config.uncertainty import (DISTRIBUTIONS, EPS, Distribution, distribution_from_spec,
                                      positive_definite)
from tpsim.errors import ScenarioError

__all__ = [
    "BLOCK", "EPS", "DISTRIBUTIONS", "SAMPLERS", "Distribution", "distribution_from_spec",
    "block_seed", "unit_block", "unit_points", "correlate", "Factor", "Assignment",
    "UncertaintyPlan", "build_plan", "effective_sections", "with_posterior",
]

#: Runs drawn together from one seed (a power of two, so a Sobol block is balanced).
BLOCK = 4096
SAMPLERS = ("random", "lhs", "sobol")


# ---------------------------------------------------------------------------------------------
# Samplers (unit hypercube) and the Gaussian copula
# ---------------------------------------------------------------------------------------------


def block_seed(seed: int, block: int) -> np.random.SeedSequence:
    """The seed of block ``block``: ``SeedSequence(seed, spawn_key=(block,))``, which is also
    ``SeedSequence(seed).spawn(block + 1)[block]``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(block),))


def unit_block(sampler: str, d: int, seed: int, block: int) -> np.ndarray:
    """The ``BLOCK x d`` points of the unit hypercube for block ``block`` (runs
    ``block * BLOCK`` onwards): independent uniforms (``random``), a Latin hypercube (``lhs``)
    or a scrambled Sobol sequence (``sobol``), from ``scipy.stats.qmc`` seeded by
    :func:`block_seed`."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    rng = np.random.default_rng(block_seed(seed, block))
    if d == 0:
        return np.empty((BLOCK, 0))
    if sampler == "random":
        return rng.random((BLOCK, d))
    from scipy.stats import qmc
    if sampler == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(BLOCK)
    return qmc.Sobol(d, scramble=True, rng=rng).random(BLOCK)


def unit_points(sampler: str, d: int, seed: int, start: int, stop: int) -> np.ndarray:
    """Points for runs ``start .. stop - 1`` (``(stop - start) x d``), assembled from blocks."""
    if stop <= start:
        return np.empty((0, d))
    first, last = start // BLOCK, (stop - 1) // BLOCK
    points = np.concatenate([unit_block(sampler, d, seed, k) for k in range(first, last + 1)])
    offset = first * BLOCK
    return points[start - offset: stop - offset]


def correlate(u: np.ndarray, correlation: np.ndarray | None) -> np.ndarray:
    """Impose a Gaussian copula: ``Phi(Phi^-1(u) @ L.T)`` with ``L`` the Cholesky factor of
    ``correlation``, on the columns that are correlated with another (the rest are returned
    unchanged). Marginals stay uniform; the rank correlation of two columns is
    ``(6 / pi) asin(rho / 2)``, within 0.02 of ``rho``."""
    if correlation is None or u.shape[1] == 0:
        return u
    involved = np.flatnonzero((np.abs(correlation - np.eye(len(correlation))) > 0).any(axis=1))
    if involved.size == 0:
        return u
    sub = correlation[np.ix_(involved, involved)]
    chol = np.linalg.cholesky(sub)
    from scipy import stats
    z = stats.norm.ppf(np.clip(u[:, involved], EPS, 1.0 - EPS))
    out = u.copy()
    out[:, involved] = stats.norm.cdf(z @ chol.T)
    return out


# ---------------------------------------------------------------------------------------------
# A plan: factors shared across the scenarios of a comparison
# ---------------------------------------------------------------------------------------------


CENTRAL = float("nan")
"""A unit-hypercube coordinate meaning "the scenario's own value" (not a draw)."""


@dataclass(frozen=True)
class Factor:
    """One coordinate of the unit hypercube: an uncertain path, shared by every scenario that
    declares it (``scenario`` None) or the draw of one scenario (``shared: false``)."""

    path: str
    scenario: str | None = None

    @property
    def label(self) -> str:
        return self.path if self.scenario is None else f"{self.path}@{self.scenario}"


@dataclass(frozen=True)
class Assignment:
    """An uncertain parameter of one model: factor column -> theta column (and, for a relative
    draw, the time-keyed changes of that column, which are scaled by the same multiplier)."""

    factor: int
    path: str
    dist: Distribution
    relative: bool
    column: int
    events: tuple[int, ...]


@dataclass
class UncertaintyPlan:
    """How a point of the unit hypercube sets the parameters of each model of a comparison.

    ``names[k]`` / ``assignments[k]``: model ``k`` (any order; the ensemble puts the
    counterfactual first). ``correlation`` is the factor correlation matrix (None if none).
    """

    factors: list[Factor]
    correlation: np.ndarray | None
    names: list[str]
    assignments: list[list[Assignment]]
    warnings: list[str] = field(default_factory=list)

    @property
    def d(self) -> int:
        return len(self.factors)

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.factors]

    def unit(self, sampler: str, seed: int, start: int, stop: int) -> np.ndarray:
        """Correlated points for runs ``start .. stop - 1`` (depend only on seed and run)."""
        return correlate(unit_points(sampler, self.d, seed, start, stop), self.correlation)

    def parameters(self, k: int, theta0: np.ndarray, ev_value0: np.ndarray,
                   u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``theta`` (runs x nparam) and event values (runs x nevents) of model ``k``; a
        factor at :data:`CENTRAL` (NaN) keeps the scenario's own value, so a run with every
        factor there is the deterministic central case (the comparison's headline run)."""
        n = u.shape[0]
        theta = np.tile(theta0, (n, 1))
        ev = np.tile(ev_value0, (n, 1))
        for a in self.assignments[k]:
            ua = u[:, a.factor]
            central = np.isnan(ua)
            value = a.dist.ppf(np.where(central, 0.5, ua))
            value = np.where(central, 1.0 if a.relative else theta0[a.column], value)
            if a.relative:
                theta[:, a.column] *= value
                for e in a.events:
                    ev[:, e] *= value
            else:
                theta[:, a.column] = value
        return theta, ev


def build_plan(names: Sequence[str], sections: Sequence[Mapping], models: Sequence[Any],
               base_values: Sequence[Mapping[str, float]] | None = None) -> UncertaintyPlan:
    """The plan for models ``k`` with effective uncertainty sections ``sections[k]`` (resolved).

    A path declared in several sections is one shared factor (the same ``u`` for every model,
    mapped through each model's own distribution: the draws are paired by quantile) unless its
    spec says ``shared: false``, when each model gets its own factor. ``models[k]`` needs
    ``param_index``, ``ev_param``. ``base_values[k]`` (path -> value in model ``k``), if given,
    is used to warn when an absolute shared draw overrides values that differ between models.
    Raises :class:`ScenarioError` for a path missing from a model, conflicting ``shared``
    flags or correlations, or an inconsistent combined correlation matrix.
    """
    factors: list[Factor] = []
    index: dict[Factor, int] = {}
    shared_flag: dict[str, tuple[bool, str]] = {}
    assignments: list[list[Assignment]] = []
    for name, section, model in zip(names, sections, models):
        rows = []
        for path, spec in (section.get("parameters") or {}).items():
            if path in shared_flag and shared_flag[path][0] != spec["shared"]:
                raise ScenarioError(f"shared is {str(spec['shared']).lower()} here but "
                                    f"{str(shared_flag[path][0]).lower()} in "
                                    f"{shared_flag[path][1]}", file=f"<{name}>",
                                    key=f"uncertainty.parameters.{path}.shared")
            shared_flag.setdefault(path, (spec["shared"], name))
            if path not in model.param_index:
                raise ScenarioError(f"not a parameter of scenario {name!r}; give {name} its own "
                                    f"uncertainty section", file=f"<{name}>",
                                    key=f"uncertainty.parameters.{path}")
            factor = Factor(path, None if spec["shared"] else name)
            if factor not in index:
                index[factor] = len(factors)
                factors.append(factor)
            column = model.param_index[path]
            events = tuple(int(e) for e in np.flatnonzero(np.asarray(model.ev_param) == column))
            rows.append(Assignment(index[factor], path, distribution_from_spec(spec),
                                   spec["relative"], column, events))
        rows.extend(_posterior_assignments(section.get("posterior"), name, model, factors,
                                           index))
        assignments.append(rows)

    # correlations: between factors of the same model context
    rho: dict[tuple[int, int], tuple[float, str]] = {}
    for name, section, rows in zip(names, sections, assignments):
        by_path = {a.path: a.factor for a in rows}
        for c in section.get("correlations") or []:
            p, q = c["between"]
            i, j = sorted((by_path[p], by_path[q]))
            if (i, j) in rho and abs(rho[(i, j)][0] - c["rho"]) > 1e-12:
                raise ScenarioError(f"correlation of {p} and {q} is {c['rho']:g} here but "
                                    f"{rho[(i, j)][0]:g} in {rho[(i, j)][1]}", file=f"<{name}>",
                                    key="uncertainty.correlations")
            rho[(i, j)] = (c["rho"], name)
    correlation = None
    if rho:
        correlation = np.eye(len(factors))
        for (i, j), (r, _) in rho.items():
            correlation[i, j] = correlation[j, i] = r
        if not positive_definite(correlation):
            raise ScenarioError("the correlations of the compared scenarios' uncertainty "
                                "sections together are not positive definite",
                                file=f"<{', '.join(names)}>", key="uncertainty.correlations")

    warnings = []
    if base_values is not None:
        for f_i, factor in enumerate(factors):
            if factor.scenario is not None:
                continue
            users = [(names[k], base_values[k].get(factor.path)) for k, rows in enumerate(assignments)
                     if any(a.factor == f_i and not a.relative for a in rows)]
            values = {v for _, v in users if v is not None}
            if len(values) > 1:
                listing = ", ".join(f"{n} {v:g}" for n, v in users)
                warnings.append(f"{factor.path} differs between the scenarios ({listing}) but "
                                f"has an absolute shared draw, which gives every scenario the "
                                f"same value; use relative: true to keep the difference")
    return UncertaintyPlan(factors, correlation, list(names), assignments, warnings)


def with_posterior(plan: UncertaintyPlan, models: Sequence[Any], draws: Any,
                   label: str = "posterior") -> UncertaintyPlan:
    """``plan`` with one more factor: the posterior ``draws``
    (:class:`tpsim.config.posterior.PosteriorDraws`) set in every model ``models[k]`` (in the
    plan's order), as an ``uncertainty: posterior:`` section would."""
    factors, index = list(plan.factors), {f: i for i, f in enumerate(plan.factors)}
    assignments = [list(rows) + _posterior_assignments({"file": label}, name, model, factors,
                                                       index, draws)
                   for name, model, rows in zip(plan.names, models, plan.assignments)]
    correlation = None
    if plan.correlation is not None:
        correlation = np.eye(len(factors))
        correlation[:plan.d, :plan.d] = plan.correlation
    return UncertaintyPlan(factors, correlation, list(plan.names), assignments,
                           list(plan.warnings))


def _posterior_assignments(posterior: Mapping | None, name: str, model: Any,
                           factors: list[Factor], index: dict[Factor, int],
                           draws: Any = None) -> list[Assignment]:
    """The assignments of a section's posterior draws file: ONE factor per file (shared by
    every scenario that names it, so their runs take the same draw), one assignment per
    column, each an absolute value (:class:`tpsim.config.posterior.PosteriorColumn`)."""
    if not posterior:
        return []
    from tpsim.config.posterior import PosteriorColumn, read_posterior_draws

    if draws is None:
        draws = read_posterior_draws(posterior["file"])
    factor = Factor(f"posterior:{posterior['file']}")
    if factor not in index:
        index[factor] = len(factors)
        factors.append(factor)
    rows = []
    for j, path in enumerate(draws.names):
        if path not in model.param_index:
            raise ScenarioError(f"column {path} of the posterior draws is not a parameter of "
                                f"scenario {name!r}", file=f"<{name}>",
                                key="uncertainty.posterior")
        column = model.param_index[path]
        events = tuple(int(e) for e in np.flatnonzero(np.asarray(model.ev_param) == column))
        rows.append(Assignment(index[factor], path, PosteriorColumn(
            draws, j, {"source": f"posterior draws {posterior['file']}"}), False, column,
            events))
    return rows


def effective_sections(scenarios: Sequence[Any], names: Sequence[str] | None = None) -> list[dict]:
    """The uncertainty section each scenario uses in a comparison: its own when it declares
    one, else the section of ``scenarios[source]`` where ``source`` is the first scenario that
    declares one (the ensemble passes the compared scenarios first, the counterfactual last).

    A borrowed section is re-validated against the borrowing scenario (every draw must give a
    valid scenario there too); a problem raises :class:`ScenarioError` naming both.
    """
    donor = next((s for s in scenarios if s.uncertainty), None)
    out = []
    for s in scenarios:
        own = s.as_dict()["uncertainty"]
        if own or donor is None:
            out.append(own)
            continue
        data = s.as_dict()
        data["uncertainty"] = donor.as_dict()["uncertainty"]
        where = s.path if s.path is not None else f"<{s.name}>"
        donor_where = donor.path if donor.path is not None else f"<{donor.name}>"
        checked = scenario_from_dict(data, source=f"{where} (with the uncertainty section of "
                                                  f"{donor_where})")
        out.append(checked.as_dict()["uncertainty"])
    return out
