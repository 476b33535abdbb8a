"""The steady-state (balanced) initial state of a scenario: people in every need state, the
inflows and escalation rates that hold them there, and the month-0 spend and budgets.

At month 0 the kernel starts every preventive delay at its month-0 coverage, every waiting list
empty, every capacity cost base at its activity and every perceived spend at its spend
(docs/model.md), so only the people need solving: a state is balanced when

    inflow_s + esc_(s-1) P_(s-1) + rec_(s+1) P_(s+1) = (esc_s + rec_s + exit_s) P_s

with the *effective* escalation ``esc_s = escalation_s x M0_s``, where
``M0_s = prod over preventive services v serving s of (1 - effect_v x cov0_v)`` and
``cov0_v = min(uptake_v, places_v / eligible_v)`` (the waiting and erosion factors are 1 at
month 0: no queue, no efficiency cut yet). Two ways to balance a cohort's chain:

* ``solve="rates"``: keep the stocks (``initial``), recovery, exit and the inflows into states
  above the first, and solve the escalation of every state but the last, top-down, and the
  first state's inflow (the arithmetic in scenarios/README.md, "Steady state");
* ``solve="stocks"``: keep every rate and inflow, and solve the stocks: a tridiagonal linear
  system per cohort, iterated because month-0 coverage (so ``M0``) depends on the stocks.
  ``totals`` (people per cohort) rescales a cohort's inflows so its stocks sum to the total.

Units: people, people a month, per person-month; money £ a month at the scenario's prices.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tpsim.config.scenario import Scenario
from tpsim.errors import ScenarioError

__all__ = ["InitialState", "initial_state", "month0_coverage", "month0_multipliers",
           "month0_recovery", "month0_keep", "month0_arrivals", "month0_spend",
           "derive_budgets"]

#: Stocks-mode iteration: stop when no stock moves by more than this share (relative).
_STOCKS_TOLERANCE = 1e-13
_STOCKS_MAX_ITERATIONS = 500


@dataclass
class InitialState:
    """A balanced month 0.

    ``initial``, ``inflow``, ``escalation`` (base rate, per person-month) by
    ``(cohort, state)``; ``multiplier`` is each state's ``M0`` and ``coverage`` each preventive
    service's month-0 coverage (fraction); ``spend`` each agency's month-0 modelled service
    spend and ``budgets`` that spend times ``1 + overhead`` (£ a month); ``residual`` the
    largest ``|dP/dt|`` at month 0 (people a month) with the solved values.
    """

    scenario: Scenario
    solve: str
    initial: dict[tuple[str, str], float]
    inflow: dict[tuple[str, str], float]
    escalation: dict[tuple[str, str], float]
    multiplier: dict[tuple[str, str], float]
    coverage: dict[str, float]
    spend: dict[str, float]
    budgets: dict[str, float]
    residual: float
    demand: dict[str, float] = field(default_factory=dict)

    def overrides(self, budgets: bool = False) -> dict[str, float]:
        """Dotted scenario paths -> solved values (``initial``, ``inflow`` and ``escalation``
        of every state; each agency's ``budget`` too when ``budgets``)."""
        out: dict[str, float] = {}
        for (c, s), value in self.initial.items():
            base = f"cohorts.{c}.states.{s}"
            out[f"{base}.initial"] = value
            out[f"{base}.inflow"] = self.inflow[(c, s)]
            out[f"{base}.escalation"] = self.escalation[(c, s)]
        if budgets:
            out.update({f"agencies.{a}.budget": b for a, b in self.budgets.items()})
        return out

    def apply(self, budgets: bool = False) -> Scenario:
        """The scenario with the solved values set (validated)."""
        return self.scenario.replace(overrides=self.overrides(budgets))


# ---------------------------------------------------------------------------------------------
# Month-0 quantities
# ---------------------------------------------------------------------------------------------


def _stocks(scenario: Scenario) -> dict[tuple[str, str], float]:
    return {(c, s): float(st["initial"]) for c, co in scenario.cohorts.items()
            for s, st in co["states"].items()}


def month0_coverage(scenario: Scenario,
                    stocks: Mapping[tuple[str, str], float] | None = None) -> dict[str, float]:
    """Month-0 coverage of every preventive service (fraction): ``min(uptake, places /
    eligible)``; with nobody eligible, ``uptake`` when it has places, else 0."""
    stocks = _stocks(scenario) if stocks is None else stocks
    out = {}
    for v, sv in scenario.services.items():
        if sv["kind"] != "preventive":
            continue
        eligible = sum(max(stocks[(sv["cohort"], s)], 0.0) for s in sv["states"])
        places = float(sv["places"])
        if eligible > 0.0:
            out[v] = min(float(sv["uptake"]), places / eligible)
        else:
            out[v] = float(sv["uptake"]) if places > 0.0 else 0.0
    return out


def _credit(sv: Mapping) -> float:
    """The GM CBA credit of a preventive service: (1 - deadweight) x (1 - displacement) x
    attribution (docs/model.md, prevention mechanisms)."""
    return ((1.0 - float(sv.get("deadweight", 0.0))) * (1.0 - float(sv.get("displacement", 0.0)))
            * float(sv.get("attribution", 1.0)))


def month0_multipliers(scenario: Scenario, coverage: Mapping[str, float]
                       ) -> dict[tuple[str, str], float]:
    """``M0`` of every need state: the product of ``1 - effect x credit x coverage`` over the
    preventive services that serve it (1 for a state no preventive service serves)."""
    out = {(c, s): 1.0 for c, co in scenario.cohorts.items() for s in co["states"]}
    for v, sv in scenario.services.items():
        if sv["kind"] == "preventive":
            for s in sv["states"]:
                out[(sv["cohort"], s)] *= 1.0 - float(sv["effect"]) * _credit(sv) * coverage[v]
    return out


def month0_recovery(scenario: Scenario, coverage: Mapping[str, float]
                    ) -> dict[tuple[str, str], float]:
    """``R0`` of every need state: the product of ``1 + recovery_effect x credit x coverage``
    over the preventive services that serve it (dimensionless)."""
    out = {(c, s): 1.0 for c, co in scenario.cohorts.items() for s in co["states"]}
    for v, sv in scenario.services.items():
        if sv["kind"] == "preventive" and float(sv.get("recovery_effect", 0.0)) > 0.0:
            for s in sv["states"]:
                out[(sv["cohort"], s)] *= (1.0 + float(sv["recovery_effect"]) * _credit(sv)
                                           * coverage[v])
    return out


def month0_keep(scenario: Scenario, coverage: Mapping[str, float]
                ) -> dict[tuple[str, str], float]:
    """``Keep0`` of every need state: the share of its escalation that is not substituted
    (``substitutes``: diverted to the state below when the state above uses the substituted
    reactive service), at month-0 coverage (dimensionless)."""
    out = {(c, s): 1.0 for c, co in scenario.cohorts.items() for s in co["states"]}
    for v, sv in scenario.services.items():
        if sv["kind"] != "preventive":
            continue
        states = list(scenario.cohorts[sv["cohort"]]["states"])
        for r, share in (sv.get("substitutes") or {}).items():
            used = scenario.services[r]["utilisation"]
            for s in sv["states"]:
                i = states.index(s)
                if i + 1 < len(states) and states[i + 1] in used:
                    out[(sv["cohort"], s)] *= 1.0 - float(share) * _credit(sv) * coverage[v]
    return out


def month0_arrivals(scenario: Scenario, stocks: Mapping[tuple[str, str], float]
                    ) -> dict[tuple[str, str], float]:
    """People a month entering each state by a cohort transition at month 0
    (``transition_share x exit x people`` of the states that feed it)."""
    out = {(c, s): 0.0 for c, co in scenario.cohorts.items() for s in co["states"]}
    for c, co in scenario.cohorts.items():
        t = co.get("transition")
        if not t:
            continue
        for s_from, s_to in t["states"].items():
            st = co["states"][s_from]
            out[(t["cohort"], s_to)] += (float(st["transition_share"]) * float(st["exit"])
                                         * max(stocks[(c, s_from)], 0.0))
    return out


def month0_spend(scenario: Scenario, stocks: Mapping[tuple[str, str], float] | None = None
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """Each agency's month-0 modelled service spend (£ a month) and each reactive service's
    month-0 demand (events a month).

    Preventive: ``unit_cost x places`` (funding level 1, no pool or community places yet);
    reactive: ``unit_cost x min(capacity, demand)`` with ``demand = sum of utilisation x
    H0 x people`` (``H0``: the utilisation effects of preventive services at month-0 coverage) (the capacity cost base starts at the activity, so fixed and variable parts are
    both paid on it).
    """
    stocks = _stocks(scenario) if stocks is None else stocks
    spend = {a: 0.0 for a in scenario.agencies}
    demand = {}
    coverage = month0_coverage(scenario, stocks)
    use = {}   # (reactive service, state) -> utilisation multiplier of preventive services
    for v, sv in scenario.services.items():
        if sv["kind"] == "preventive":
            for r, share in (sv.get("utilisation_effects") or {}).items():
                for s in sv["states"]:
                    use[(r, s)] = use.get((r, s), 1.0) * (1.0 - float(share) * _credit(sv)
                                                          * coverage[v])
    for v, sv in scenario.services.items():
        if sv["kind"] == "preventive":
            spend[sv["agency"]] += float(sv["unit_cost"]) * float(sv["places"])
            continue
        d = sum(float(u) * use.get((v, s), 1.0) * max(stocks[(sv["cohort"], s)], 0.0)
                for s, u in sv["utilisation"].items())
        demand[v] = d
        capacity = sv.get("capacity")
        activity = d if capacity is None else min(float(capacity), d)
        spend[sv["agency"]] += float(sv["unit_cost"]) * activity
    return spend, demand


def derive_budgets(scenario: Scenario) -> dict[str, float]:
    """Budgets consistent with the scenario's month 0 (£ a month): each agency's month-0
    modelled service spend times ``1 + overhead``, so perceived pressure is 1 at month 0
    (the rule of the shipped baseline, scenarios/README.md "Budgets")."""
    spend, _ = month0_spend(scenario)
    return {a: spend[a] * (1.0 + float(ag["overhead"])) for a, ag in scenario.agencies.items()}


# ---------------------------------------------------------------------------------------------
# Balancing
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Month0:
    """Month-0 factors of every state (dimensionless) and transition arrivals (people a
    month): escalation ``multiplier``, ``recovery`` multiplier, ``keep`` (the share of
    escalation not substituted) and ``arrivals`` from other cohorts."""

    multiplier: dict
    recovery: dict
    keep: dict
    arrivals: dict


def _month0(scenario: Scenario, stocks) -> _Month0:
    coverage = month0_coverage(scenario, stocks)
    return _Month0(month0_multipliers(scenario, coverage), month0_recovery(scenario, coverage),
                   month0_keep(scenario, coverage), month0_arrivals(scenario, stocks))


def _residual(scenario: Scenario, stocks, inflow, escalation, m0: _Month0) -> float:
    """Largest ``|dP/dt|`` at month 0 over every state (people a month)."""
    worst = 0.0
    for c, co in scenario.cohorts.items():
        states = list(co["states"])
        n = len(states)

        def esc(k):
            return escalation[(c, states[k])] * m0.multiplier[(c, states[k])]

        for i, s in enumerate(states):
            st = co["states"][s]
            p = stocks[(c, s)]
            leaving = esc(i) * (m0.keep[(c, s)] if i == 0 else 1.0)
            out = (leaving + st["recovery"] * m0.recovery[(c, s)] + st["exit"]) * p
            into = inflow[(c, s)] + m0.arrivals[(c, s)]
            if i > 0:
                lo = states[i - 1]
                into += esc(i - 1) * m0.keep[(c, lo)] * stocks[(c, lo)]
            if i < n - 1:
                hi = states[i + 1]
                into += (co["states"][hi]["recovery"] * m0.recovery[(c, hi)]
                         + esc(i + 1) * (1.0 - m0.keep[(c, hi)])) * stocks[(c, hi)]
            worst = max(worst, abs(into - out))
    return worst


def _where(scenario: Scenario) -> str:
    return str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"


def _solve_rates(scenario: Scenario, stocks, m0: _Month0):
    """Top-down: the escalation into each state balances it; the first state's inflow last.
    Recovery multipliers, substitution (escalation diverted to the state below) and
    transition arrivals at month 0 are counted (docs/model.md)."""
    inflow, escalation = {}, {}
    for c, co in scenario.cohorts.items():
        states = list(co["states"])
        n = len(states)
        eff = [0.0] * n          # effective escalation out of each state (substituted included)

        def above(i):
            """People a month coming down into state i from state i+1."""
            if i >= n - 1:
                return 0.0
            hi = states[i + 1]
            return (co["states"][hi]["recovery"] * m0.recovery[(c, hi)]
                    + eff[i + 1] * (1.0 - m0.keep[(c, hi)])) * stocks[(c, hi)]

        for i in range(n - 1, 0, -1):
            s, lo = states[i], states[i - 1]
            st = co["states"][s]
            p, p_lo = stocks[(c, s)], stocks[(c, lo)]
            need = ((eff[i] + st["recovery"] * m0.recovery[(c, s)] + st["exit"]) * p
                    - above(i) - float(st["inflow"]) - m0.arrivals[(c, s)])
            key = f"cohorts.{c}.states.{lo}.escalation"
            reach = p_lo * m0.keep[(c, lo)]
            if reach <= 0.0:
                if abs(need) > 1e-9 * max(1.0, p):
                    raise ScenarioError(f"cannot balance {p:g} people in '{s}': nobody is in "
                                        f"'{lo}' to escalate from", file=_where(scenario),
                                        key=f"cohorts.{c}.states.{lo}.initial")
                eff[i - 1] = 0.0
            elif need < -1e-9 * max(1.0, p):
                raise ScenarioError(f"no escalation rate balances month 0: recovery from "
                                    f"'{states[i + 1] if i < n - 1 else s}', transitions and "
                                    f"inflows bring more people into '{s}' than leave it "
                                    f"({-need:.4g} a month); lower its stock or raise its exit "
                                    f"or recovery", file=_where(scenario), key=key)
            else:
                eff[i - 1] = max(need, 0.0) / reach
            inflow[(c, s)] = float(st["inflow"])
        first = states[0]
        st0 = co["states"][first]
        p0 = stocks[(c, first)]
        inflow0 = ((eff[0] * m0.keep[(c, first)] + st0["exit"]) * p0 - above(0)
                   - m0.arrivals[(c, first)])
        if inflow0 < -1e-9 * max(1.0, p0):
            raise ScenarioError(f"the solved inflow into '{first}' is negative ({inflow0:.4g} "
                                f"people a month): recovery and transitions into it exceed its "
                                f"exits and escalation", file=_where(scenario),
                                key=f"cohorts.{c}.states.{first}.inflow")
        inflow[(c, first)] = max(inflow0, 0.0)
        for i, s in enumerate(states):
            mult = m0.multiplier[(c, s)]
            if eff[i] > 0.0 and mult <= 0.0:
                raise ScenarioError(f"prevention removes all escalation out of '{s}' at month 0 "
                                    f"(multiplier {mult:g}), so no escalation rate balances it",
                                    file=_where(scenario), key=f"cohorts.{c}.states.{s}")
            escalation[(c, s)] = eff[i] / mult if eff[i] > 0.0 else 0.0
    return inflow, escalation


def _solve_stocks(scenario: Scenario, totals: Mapping[str, float] | None):
    """Stocks that balance the given rates: per cohort a tridiagonal system, iterated on
    month-0 coverage; with ``totals``, inflows scaled so each cohort sums to its total."""
    stocks = _stocks(scenario)
    inflow = {(c, s): float(st["inflow"]) for c, co in scenario.cohorts.items()
              for s, st in co["states"].items()}
    escalation = {(c, s): float(st["escalation"]) for c, co in scenario.cohorts.items()
                  for s, st in co["states"].items()}
    for _ in range(_STOCKS_MAX_ITERATIONS):
        m0 = _month0(scenario, stocks)
        multiplier = m0.multiplier
        new = {}
        for c, co in scenario.cohorts.items():
            states = list(co["states"])
            n = len(states)
            a = np.zeros((n, n))
            b = np.zeros(n)
            for i, s in enumerate(states):
                st = co["states"][s]
                esc = escalation[(c, s)] * multiplier[(c, s)]
                a[i, i] -= (esc * (m0.keep[(c, s)] if i == 0 else 1.0)
                            + st["recovery"] * m0.recovery[(c, s)] + st["exit"])
                if i > 0:
                    lo = states[i - 1]
                    a[i, i - 1] += escalation[(c, lo)] * multiplier[(c, lo)] * m0.keep[(c, lo)]
                if i < n - 1:
                    hi = states[i + 1]
                    a[i, i + 1] += (co["states"][hi]["recovery"] * m0.recovery[(c, hi)]
                                    + escalation[(c, hi)] * multiplier[(c, hi)]
                                    * (1.0 - m0.keep[(c, hi)]))
                b[i] = -inflow[(c, s)] - m0.arrivals[(c, s)]
            try:
                p = np.linalg.solve(a, b)
            except np.linalg.LinAlgError:
                raise ScenarioError(f"cohort '{c}' has no steady state: some state has no way "
                                    f"out (zero exit, recovery and escalation)",
                                    file=_where(scenario), key=f"cohorts.{c}.states") from None
            if totals is not None and c in totals:
                total = float(p.sum())
                if total <= 0.0:
                    raise ScenarioError(f"cohort '{c}' has no inflow to scale to "
                                        f"{totals[c]:g} people", file=_where(scenario),
                                        key=f"cohorts.{c}.states.{states[0]}.inflow")
                scale = float(totals[c]) / total
                p = p * scale
                for s in states:
                    inflow[(c, s)] *= scale
            for i, s in enumerate(states):
                new[(c, s)] = float(p[i])
        moved = max(abs(new[k] - stocks[k]) / max(abs(new[k]), 1.0) for k in new)
        stocks = new
        if moved <= _STOCKS_TOLERANCE:
            break
    else:
        raise ScenarioError("the stocks did not settle: month-0 coverage keeps moving them",
                            file=_where(scenario), key="cohorts")
    if min(stocks.values()) < 0.0:
        c, s = min(stocks, key=stocks.get)
        raise ScenarioError(f"the balanced stock of '{s}' is negative ({stocks[(c, s)]:.4g})",
                            file=_where(scenario), key=f"cohorts.{c}.states.{s}")
    return stocks, inflow, escalation


def initial_state(scenario: Scenario, solve: str = "rates",
                  totals: Mapping[str, float] | None = None) -> InitialState:
    """Balance ``scenario`` at month 0 (see the module docstring): ``solve="rates"`` keeps the
    stocks and solves escalation and the first states' inflows; ``solve="stocks"`` keeps the
    rates and solves the stocks (``totals``: people per cohort, scaling its inflows).

    The budgets returned are the month-0 spend times ``1 + overhead`` with the solved stocks;
    :meth:`InitialState.apply` sets the solved values (and, if asked, the budgets).
    Raises :class:`~tpsim.errors.ScenarioError` naming the state that cannot be balanced.
    """
    if solve not in ("rates", "stocks"):
        raise ScenarioError(f"solve must be 'rates' or 'stocks' (got {solve!r})",
                            file=_where(scenario), key="solve")
    if solve == "rates":
        if totals is not None:
            raise ScenarioError("totals apply to solve='stocks' only (solve='rates' keeps "
                                "the stocks)", file=_where(scenario), key="totals")
        stocks = _stocks(scenario)
        inflow, escalation = _solve_rates(scenario, stocks, _month0(scenario, stocks))
    else:
        stocks, inflow, escalation = _solve_stocks(scenario, totals)
    coverage = month0_coverage(scenario, stocks)
    m0 = _month0(scenario, stocks)
    multiplier = m0.multiplier
    spend, demand = month0_spend(scenario, stocks)
    budgets = {a: spend[a] * (1.0 + float(ag["overhead"])) for a, ag in scenario.agencies.items()}
    residual = _residual(scenario, stocks, inflow, escalation, m0)
    return InitialState(scenario, solve, stocks, inflow, escalation, multiplier, coverage,
                        spend, budgets, residual, demand)
