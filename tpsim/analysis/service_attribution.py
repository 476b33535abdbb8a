"""Who pays / who gains by preventive service, with the interaction shared out by Shapley values.

A service's investment is its ``places``, ``community.places`` and ``pool.services.<v>`` (its
share of pool spending); an **investing service** is one whose investment (base value or
time-keyed changes) differs from the counterfactual's. For a coalition T of investing
services, ``value(T)`` is each agency's PV of savings (£, horizon) in the scenario run with
the services outside T following the counterfactual's investment (everything else as in the
scenario). ``value(all)`` is the scenario's savings; ``value(none)`` the savings of the
scenario's changes that are not service investment (e.g. the pool's overhead reduction).

* removal: ``value(all) - value(all without v)`` (each service removed alone), whose sum leaves
  an interaction remainder;
* Shapley: ``phi_v = Σ_T |T|! (n - |T| - 1)! / n! (value(T ∪ {v}) - value(T))`` over coalitions
  T without v, so ``Σ_v phi_v + value(none) = value(all)`` exactly (nothing left unallocated).
  Exact (every coalition a row of one batched kernel call) up to ``EXACT_MAX_SERVICES``
  services; otherwise the mean over ``SAMPLED_PERMUTATIONS`` random orderings (their prefixes
  one batched call), with its standard error (sd of the marginal contributions / √M); each
  ordering's contributions add up exactly, so the sampled values do too.

docs/appraisal.md, "Who pays / who gains by service", states the formulas.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations
from math import factorial

import numpy as np

from tpsim.analysis.appraisal import ATTRIBUTION_MEASURES, monthly_flows, savings_by_agency
from tpsim.analysis.comparison import (RunSpec, _has_pool, _path_of, base_spec, simulate_specs)
from tpsim.models.structure import Model

EXACT_MAX_SERVICES = 8
"""Up to this many investing services every coalition is run (2^n runs in one call)."""

SAMPLED_PERMUTATIONS = 64
"""Random orderings of the services when there are more than ``EXACT_MAX_SERVICES``."""

SAMPLING_SEED = 20260415
"""Seed of the sampled orderings (the answer is reproducible)."""

Value = Callable[[list[frozenset]], list[np.ndarray]]


def service_paths(v: str) -> tuple[str, ...]:
    """The parameter paths that make up preventive service ``v``'s investment."""
    return (f"services.{v}.places", f"services.{v}.community.places", f"pool.services.{v}")


def _investment(model: Model, path: str, pool: bool) -> tuple[float, list]:
    # a service's pool share means nothing without a pool: read it as 0 there
    return _path_of(model, path, path.startswith("pool.services.") and not pool)


def investing_services(scenario: Model, counterfactual: Model) -> list[str]:
    """Preventive services whose investment differs from the counterfactual's, in order."""
    own, cf = _has_pool(scenario), _has_pool(counterfactual)
    return [v for v in scenario.preventive
            if any(_investment(scenario, p, own) != _investment(counterfactual, p, cf)
                   for p in service_paths(v))]


def coalition_spec(scenario: Model, counterfactual: Model, keep: frozenset,
                   services: Sequence[str]) -> RunSpec:
    """The scenario with every investing service outside ``keep`` following the
    counterfactual's investment (its base values and time-keyed changes)."""
    spec = base_spec(scenario, f"{scenario.name} with {sorted(keep)}")
    cf_pool = _has_pool(counterfactual)
    for v in services:
        if v in keep:
            continue
        for path in service_paths(v):
            col = scenario.param_index[path]
            value, changes = _investment(counterfactual, path, cf_pool)
            spec.theta[col] = value
            spec.events = [e for e in spec.events if e[1] != col] + [(m, col, x) for m, x in changes]
    spec.events.sort(key=lambda e: e[0])
    return spec


def shapley_exact(players: Sequence[str], value: Mapping[frozenset, np.ndarray]) -> dict:
    """Exact Shapley values from ``value`` of every coalition (frozensets of players)."""
    n = len(players)
    out = {}
    for v in players:
        others = [p for p in players if p != v]
        phi = 0.0
        for k in range(n):
            w = factorial(k) * factorial(n - k - 1) / factorial(n)
            for t in combinations(others, k):
                t = frozenset(t)
                phi = phi + w * (value[t | {v}] - value[t])
        out[v] = np.asarray(phi, dtype=float)
    return out


def shapley_sampled(players: Sequence[str], value: Value, permutations: int,
                    seed: int = SAMPLING_SEED) -> tuple[dict, dict]:
    """Shapley values by random orderings: ``(mean, standard error)`` per player; ``value``
    maps a list of coalitions to their values (called once, for every prefix needed)."""
    rng = np.random.default_rng(seed)
    orders = [list(rng.permutation(len(players))) for _ in range(permutations)]
    needed = list(dict.fromkeys(frozenset(players[i] for i in order[:k])
                                for order in orders for k in range(len(players) + 1)))
    values = dict(zip(needed, value(needed)))
    marginal = {p: [] for p in players}
    for order in orders:
        before = frozenset()
        for i in order:
            after = before | {players[i]}
            marginal[players[i]].append(values[after] - values[before])
            before = after
    mean = {p: np.mean(marginal[p], axis=0) for p in players}
    se = {p: np.std(marginal[p], axis=0, ddof=1) / np.sqrt(permutations) for p in players}
    return mean, se


def _block(agencies: Sequence[str], services: Sequence[str], funded_by: Mapping[str, str],
           values: Mapping[frozenset, np.ndarray], phi: Mapping[str, np.ndarray],
           se: Mapping[str, np.ndarray] | None, method: str, runs: int, measure: str) -> dict:
    full, none = values[frozenset(services)], values[frozenset()]
    removal = {v: full - values[frozenset(services) - {v}] for v in services}
    d = lambda row: dict(zip(agencies, map(float, row)))  # noqa: E731
    share = {}
    for v in services:
        row_sum = float(phi[v].sum())
        own = float(phi[v][list(agencies).index(funded_by[v])]) if funded_by[v] in agencies else 0.0
        share[v] = (row_sum - own) / row_sum if row_sum > 1e-6 else None
    return {
        "measure": ATTRIBUTION_MEASURES[measure],
        "services": list(services),
        "funded_by": dict(funded_by),
        "method": method,
        "runs": runs,
        "shapley": {v: d(phi[v]) for v in services},
        "shapley_standard_error": None if se is None else {v: d(se[v]) for v in services},
        "row_totals": {v: float(phi[v].sum()) for v in services},
        "wrong_pocket_share": share,
        "removal": {v: d(removal[v]) for v in services},
        "removal_remainder": d(full - none - sum(removal.values(), np.zeros_like(full))),
        "not_attributed": d(none),
        "total": d(full),
    }


def by_service(scenario: Model, counterfactual: Model, scenario_data: Mapping,
               cf_series: Mapping[str, np.ndarray], accounts, settings) -> dict:
    """Both measures (``cashable``, ``economic``) of who pays / who gains by service for one
    scenario; ``cf_series`` is the counterfactual's run, ``accounts``/``settings`` the
    scenario's (:class:`~tpsim.analysis.appraisal.Accounts`, AppraisalSettings)."""
    services = investing_services(scenario, counterfactual)
    agencies = list(accounts.agencies)
    funded_by = {v: ("pool" if scenario_data["pool"]["services"].get(v, 0.0) > 0.0
                     and scenario_data["pool"]["enabled"] else scenario.service_agency[v])
                 for v in services}
    calls = {"runs": 0, "kernel_calls": 0}

    def evaluate(coalitions: list[frozenset]) -> list[np.ndarray]:
        """Each coalition's savings, cashable and economic side by side (2 x agencies)."""
        if not coalitions:
            return []
        specs = [coalition_spec(scenario, counterfactual, t, services) for t in coalitions]
        batch = simulate_specs(specs, settings.discount_rate, settings.health_discount_rate)
        calls["runs"] += len(specs)
        calls["kernel_calls"] += batch.kernel_calls
        out = []
        for i in range(len(specs)):
            flows = monthly_flows(batch.series(i), cf_series, accounts)
            out.append(np.stack([savings_by_agency(flows, settings, False),
                                 savings_by_agency(flows, settings, True)]))
        return out

    if len(services) <= EXACT_MAX_SERVICES:
        coalitions = [frozenset(t) for k in range(len(services) + 1)
                      for t in combinations(services, k)]
        values = dict(zip(coalitions, evaluate(coalitions)))
        phi, se, method = shapley_exact(services, values), None, "exact"
    else:
        phi, se = shapley_sampled(services, evaluate, SAMPLED_PERMUTATIONS)
        ends = [frozenset(services), frozenset()] + [frozenset(services) - {v} for v in services]
        values = dict(zip(ends, evaluate(ends)))
        method = f"sampled ({SAMPLED_PERMUTATIONS} random orderings)"
    out = {}
    for j, measure in enumerate(("cashable", "economic")):
        out[measure] = _block(agencies, services, funded_by,
                              {t: x[j] for t, x in values.items()},
                              {v: p[j] for v, p in phi.items()},
                              None if se is None else {v: s[j] for v, s in se.items()},
                              method, calls["runs"], measure)
    out["kernel_calls"] = calls["kernel_calls"]
    return out
