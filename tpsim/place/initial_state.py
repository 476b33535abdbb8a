"""The steady-state (balanced) initial state of a scenario: people in every need state, the
inflows and escalation rates that hold them there, and the month-0 spend and budgets.

At month 0 the kernel starts every preventive delay (and its persistence memory) at its
month-0 coverage, every waiting list empty, every capacity cost base at its activity and every
perceived spend at its spend (docs/model.md), so only the people need solving. With the
month-0 factors of each state i

* ``M_i = prod (1 - effect_v c_v)`` over the preventive services v serving i (escalation),
* ``K_i = prod (1 - substitution_(v,r) c_v)`` over v's substitution links whose reactive
  service r is used in state i+1 (the share of escalation not diverted to i-1),
* ``R_i = prod (1 + recovery_effect_v c_v)`` (recovery),

where ``c_v = credit_v x cov0_v``, ``credit_v = (1 - deadweight)(1 - displacement)
attribution`` and ``cov0_v = min(uptake_v, places_v / eligible_v)`` (waiting and erosion
factors are 1 at month 0), and ``E_i = escalation_i M_i`` the effective escalation, a state is
balanced when

    inflow_i + E_(i-1) K_(i-1) P_(i-1) + (recovery_(i+1) R_(i+1) + E_(i+1) (1 - K_(i+1))) P_(i+1)
        + arrivals_i = (E_i (K_i + (1 - K_i) [i > 0]) + recovery_i R_i + exit_i) P_i

with ``arrivals_i = sum of transition_share_j exit_j P_j`` over the states j of other cohorts
whose transition enters i (children turning 18, say). Exits split into deaths
(``death_share``), transitions (``transition_share``) and other exits; all three leave the
state, so deaths are a flow of their own in :attr:`InitialState.flows` but the same outflow in
the balance. Two ways to balance:

* ``solve="rates"``: keep the stocks (``initial``), recovery, exit, transitions and the
  inflows into states above the first, and solve the escalation of every state but the last,
  top-down, and the first state's inflow (the arithmetic in scenarios/README.md, "Steady
  state"); arrivals by transition are known from the stocks, so cohorts solve one by one;
* ``solve="stocks"``: keep every rate and inflow, and solve the stocks: one linear system over
  every state (transitions couple the cohorts), iterated because month-0 coverage (so ``M``,
  ``K``, ``R``) depends on the stocks. ``totals`` (people per cohort) rescales a cohort's own
  inflows so its stocks sum to the total.

Units: people, people a month, per person-month; money £ a month at the scenario's prices.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tpsim.config.scenario import Scenario
from tpsim.errors import ScenarioError

__all__ = ["InitialState", "initial_state", "month0_coverage", "month0_multipliers",
           "month0_factors", "month0_spend", "month0_flows", "derive_budgets"]

#: Stocks-mode iteration: stop when no stock moves by more than this share (relative).
_STOCKS_TOLERANCE = 1e-13
_STOCKS_MAX_ITERATIONS = 500

State = tuple[str, str]


@dataclass
class InitialState:
    """A balanced month 0.

    ``initial``, ``inflow``, ``escalation`` (base rate, per person-month) by
    ``(cohort, state)``; ``multiplier`` is each state's ``M`` and ``coverage`` each preventive
    service's month-0 coverage (fraction); ``spend`` each agency's month-0 modelled service
    spend and ``budgets`` that spend times ``1 + overhead`` (£ a month); ``residual`` the
    largest ``|dP/dt|`` at month 0 (people a month) with the solved values; ``flows`` each
    cohort's month-0 flows (people a month: ``inflow``, ``deaths``, ``transitions_out``,
    ``transitions_in``, ``other_exits``, ``net``, from :func:`month0_flows`).
    """

    scenario: Scenario
    solve: str
    initial: dict[State, float]
    inflow: dict[State, float]
    escalation: dict[State, float]
    multiplier: dict[State, float]
    coverage: dict[str, float]
    spend: dict[str, float]
    budgets: dict[str, float]
    residual: float
    demand: dict[str, float] = field(default_factory=dict)
    flows: dict[str, dict[str, float]] = field(default_factory=dict)

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


def _stocks(scenario: Scenario) -> dict[State, float]:
    return {(c, s): float(st["initial"]) for c, co in scenario.cohorts.items()
            for s, st in co["states"].items()}


def _credit(service: Mapping) -> float:
    """Share of a preventive service's effects credited to it (docs/model.md)."""
    return (1.0 - float(service.get("deadweight", 0.0))) * \
        (1.0 - float(service.get("displacement", 0.0))) * float(service.get("attribution", 1.0))


def month0_coverage(scenario: Scenario,
                    stocks: Mapping[State, float] | None = None) -> dict[str, float]:
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


@dataclass(frozen=True)
class Month0Factors:
    """The month-0 factors of every state (dimensionless): ``multiplier`` ``M`` on escalation,
    ``keep`` ``K`` (share of escalation not substituted), ``recovery`` ``R``; and
    ``utilisation`` ``H`` on each reactive service's use of a state, by ``(service, state)``."""

    multiplier: dict[State, float]
    keep: dict[State, float]
    recovery: dict[State, float]
    utilisation: dict[tuple[str, str], float]


def month0_factors(scenario: Scenario, coverage: Mapping[str, float]) -> Month0Factors:
    """``M``, ``K``, ``R`` and ``H`` at month 0 (see the module docstring)."""
    ones = {(c, s): 1.0 for c, co in scenario.cohorts.items() for s in co["states"]}
    mult, keep, rec = dict(ones), dict(ones), dict(ones)
    util = {(r, s): 1.0 for r, sv in scenario.services.items() if sv["kind"] == "reactive"
            for s in sv["utilisation"]}
    for v, sv in scenario.services.items():
        if sv["kind"] != "preventive":
            continue
        c = sv["cohort"]
        credited = _credit(sv) * coverage[v]
        states = list(scenario.cohorts[c]["states"])
        for s in sv["states"]:
            mult[(c, s)] *= 1.0 - float(sv["effect"]) * credited
            rec[(c, s)] *= 1.0 + float(sv.get("recovery_effect", 0.0)) * credited
            i = states.index(s)
            for r, size in (sv.get("substitutes") or {}).items():
                if i + 1 < len(states) and states[i + 1] in scenario.services[r]["utilisation"]:
                    keep[(c, s)] *= 1.0 - float(size) * credited
            for r, size in (sv.get("utilisation_effects") or {}).items():
                if (r, s) in util:
                    util[(r, s)] *= 1.0 - float(size) * credited
    return Month0Factors(mult, keep, rec, util)


def month0_multipliers(scenario: Scenario, coverage: Mapping[str, float]) -> dict[State, float]:
    """``M`` of every need state: the product of ``1 - effect x credit x coverage`` over the
    preventive services that serve it (1 for a state no preventive service serves)."""
    return month0_factors(scenario, coverage).multiplier


def month0_spend(scenario: Scenario, stocks: Mapping[State, float] | None = None
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """Each agency's month-0 modelled service spend (£ a month) and each reactive service's
    month-0 demand (events a month).

    Preventive: ``unit_cost x places`` (funding level 1, no pool or community places yet);
    reactive: ``unit_cost x min(capacity, demand)`` with ``demand = sum of utilisation x H x
    people`` (``H`` the month-0 utilisation effects of prevention; the capacity cost base
    starts at the activity, so fixed and variable parts are both paid on it).
    """
    stocks = _stocks(scenario) if stocks is None else stocks
    factors = month0_factors(scenario, month0_coverage(scenario, stocks))
    spend = {a: 0.0 for a in scenario.agencies}
    demand = {}
    for v, sv in scenario.services.items():
        if sv["kind"] == "preventive":
            spend[sv["agency"]] += float(sv["unit_cost"]) * float(sv["places"])
            continue
        d = sum(float(u) * factors.utilisation[(v, s)] * max(stocks[(sv["cohort"], s)], 0.0)
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


def _moves_to(scenario: Scenario) -> dict[State, State]:
    """Where each state's transitions go (only states with a transition target)."""
    out = {}
    for c, co in scenario.cohorts.items():
        t = co.get("transition")
        if t:
            for s_from, s_to in t["states"].items():
                out[(c, s_from)] = (t["cohort"], s_to)
    return out


def _arrivals(scenario: Scenario, stocks) -> dict[State, float]:
    """People a month entering each state by transition from another cohort."""
    out = {k: 0.0 for k in stocks}
    for (c, s), target in _moves_to(scenario).items():
        st = scenario.cohorts[c]["states"][s]
        out[target] += float(st.get("transition_share", 0.0)) * float(st["exit"]) * \
            max(stocks[(c, s)], 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# Balancing
# ---------------------------------------------------------------------------------------------


def _derivatives(scenario: Scenario, stocks, inflow, escalation, f: Month0Factors
                 ) -> dict[State, float]:
    """``dP/dt`` of every state at month 0 (people a month), as the kernel computes it."""
    arrivals = _arrivals(scenario, stocks)
    out = {}
    for c, co in scenario.cohorts.items():
        states = list(co["states"])
        n = len(states)

        def eff(i: int) -> float:
            s = states[i]
            return escalation[(c, s)] * f.multiplier[(c, s)] * max(stocks[(c, s)], 0.0)

        for i, s in enumerate(states):
            st = co["states"][s]
            p = max(stocks[(c, s)], 0.0)
            k = f.keep[(c, s)]
            out_flow = eff(i) * (k + (1.0 - k) * (i > 0)) + \
                (st["recovery"] * f.recovery[(c, s)] * (i > 0) + st["exit"]) * p
            into = inflow[(c, s)] + arrivals[(c, s)]
            if i > 0:
                into += eff(i - 1) * f.keep[(c, states[i - 1])]
            if i < n - 1:
                hi = states[i + 1]
                into += co["states"][hi]["recovery"] * f.recovery[(c, hi)] * \
                    max(stocks[(c, hi)], 0.0) + eff(i + 1) * (1.0 - f.keep[(c, hi)])
            out[(c, s)] = into - out_flow
    return out


def month0_flows(scenario: Scenario, stocks=None, inflow=None) -> dict[str, dict[str, float]]:
    """Each cohort's month-0 flows across its boundary (people a month): ``inflow``,
    ``deaths``, ``transitions_out``, ``transitions_in``, ``other_exits`` and
    ``net = inflow + transitions_in - deaths - transitions_out - other_exits``."""
    stocks = _stocks(scenario) if stocks is None else stocks
    inflow = inflow or {(c, s): float(st["inflow"]) for c, co in scenario.cohorts.items()
                        for s, st in co["states"].items()}
    arrivals = _arrivals(scenario, stocks)
    out = {}
    for c, co in scenario.cohorts.items():
        row = dict.fromkeys(("inflow", "deaths", "transitions_out", "transitions_in",
                             "other_exits"), 0.0)
        for s, st in co["states"].items():
            ext = float(st["exit"]) * max(stocks[(c, s)], 0.0)
            death, move = float(st.get("death_share", 0.0)), float(st.get("transition_share", 0.0))
            row["inflow"] += inflow[(c, s)]
            row["deaths"] += death * ext
            row["transitions_out"] += move * ext
            row["other_exits"] += (1.0 - death - move) * ext
            row["transitions_in"] += arrivals[(c, s)]
        row["net"] = row["inflow"] + row["transitions_in"] - row["deaths"] - \
            row["transitions_out"] - row["other_exits"]
        out[c] = row
    return out


def _residual(scenario: Scenario, stocks, inflow, escalation, f: Month0Factors) -> float:
    """Largest ``|dP/dt|`` at month 0 over every state (people a month)."""
    return max(abs(x) for x in _derivatives(scenario, stocks, inflow, escalation, f).values())


def _where(scenario: Scenario) -> str:
    return str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"


def _solve_rates(scenario: Scenario, stocks, f: Month0Factors):
    """Top-down: the escalation into each state balances it; the first state's inflow last."""
    inflow, escalation = {}, {}
    arrivals = _arrivals(scenario, stocks)
    for c, co in scenario.cohorts.items():
        states = list(co["states"])
        n = len(states)
        eff = [0.0] * n          # effective escalation E_i out of each state (per person-month)
        keep = [f.keep[(c, s)] for s in states]
        p = [stocks[(c, s)] for s in states]
        rec = [co["states"][s]["recovery"] * f.recovery[(c, s)] for s in states]

        def from_above(i: int) -> float:
            """People a month into state i from state i+1 (recovery and substitution)."""
            return (rec[i + 1] + eff[i + 1] * (1.0 - keep[i + 1])) * p[i + 1] if i < n - 1 \
                else 0.0

        for i in range(n - 1, 0, -1):
            s, lo = states[i], states[i - 1]
            st = co["states"][s]
            out_rate = eff[i] + rec[i] + st["exit"]   # above the first state, diverted escalation leaves too
            need = out_rate * p[i] - from_above(i) - float(st["inflow"]) - arrivals[(c, s)]
            key = f"cohorts.{c}.states.{lo}.escalation"
            if p[i - 1] <= 0.0 or keep[i - 1] <= 0.0:
                if abs(need) > 1e-9 * max(1.0, p[i]):
                    why = (f"nobody is in '{lo}' to escalate from" if p[i - 1] <= 0.0 else
                           f"prevention diverts all escalation out of '{lo}' at month 0")
                    raise ScenarioError(f"cannot balance {p[i]:g} people in '{s}': {why}",
                                        file=_where(scenario),
                                        key=f"cohorts.{c}.states.{lo}.initial")
                eff[i - 1] = 0.0
            elif need < -1e-9 * max(1.0, p[i]):
                raise ScenarioError(f"no escalation rate balances month 0: recovery from "
                                    f"'{states[i + 1] if i < n - 1 else s}' and inflows bring "
                                    f"more people into '{s}' than leave it ({-need:.4g} a "
                                    f"month); lower its stock or raise its exit or recovery",
                                    file=_where(scenario), key=key)
            else:
                eff[i - 1] = max(need, 0.0) / (keep[i - 1] * p[i - 1])
            inflow[(c, s)] = float(st["inflow"])
        first = states[0]
        st0 = co["states"][first]
        inflow0 = (eff[0] * keep[0] + st0["exit"]) * p[0] - from_above(0) - arrivals[(c, first)]
        if inflow0 < -1e-9 * max(1.0, p[0]):
            raise ScenarioError(f"the solved inflow into '{first}' is negative ({inflow0:.4g} "
                                f"people a month): recovery and transitions into it exceed its "
                                f"exits and escalation", file=_where(scenario),
                                key=f"cohorts.{c}.states.{first}.inflow")
        inflow[(c, first)] = max(inflow0, 0.0)
        for i, s in enumerate(states):
            m0 = f.multiplier[(c, s)]
            if eff[i] > 0.0 and m0 <= 0.0:
                raise ScenarioError(f"prevention removes all escalation out of '{s}' at month 0 "
                                    f"(multiplier {m0:g}), so no escalation rate balances it",
                                    file=_where(scenario), key=f"cohorts.{c}.states.{s}")
            escalation[(c, s)] = eff[i] / m0 if eff[i] > 0.0 else 0.0
    return inflow, escalation


def _solve_stocks(scenario: Scenario, totals: Mapping[str, float] | None):
    """Stocks that balance the given rates: one linear system over every state, iterated on
    month-0 coverage; with ``totals``, each cohort's inflows scaled so it sums to its total."""
    stocks = _stocks(scenario)
    keys = list(stocks)
    index = {k: j for j, k in enumerate(keys)}
    inflow = {(c, s): float(st["inflow"]) for c, co in scenario.cohorts.items()
              for s, st in co["states"].items()}
    escalation = {(c, s): float(st["escalation"]) for c, co in scenario.cohorts.items()
                  for s, st in co["states"].items()}
    moves = _moves_to(scenario)
    for _ in range(_STOCKS_MAX_ITERATIONS):
        f = month0_factors(scenario, month0_coverage(scenario, stocks))
        a = np.zeros((len(keys), len(keys)))
        b = np.array([-inflow[k] for k in keys])
        for c, co in scenario.cohorts.items():
            states = list(co["states"])
            for i, s in enumerate(states):
                st, j = co["states"][s], index[(c, s)]
                e = escalation[(c, s)] * f.multiplier[(c, s)]
                k = f.keep[(c, s)]
                rec = st["recovery"] * f.recovery[(c, s)] if i > 0 else 0.0
                a[j, j] -= e * (k + (1.0 - k) * (i > 0)) + rec + st["exit"]
                if i < len(states) - 1:
                    a[index[(c, states[i + 1])], j] += e * k
                if i > 0:
                    a[index[(c, states[i - 1])], j] += rec + e * (1.0 - k)
                if (c, s) in moves:
                    a[index[moves[(c, s)]], j] += float(st["transition_share"]) * st["exit"]
        try:
            p = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise ScenarioError("a cohort has no steady state: some state has no way out "
                                "(zero exit, recovery and escalation)", file=_where(scenario),
                                key="cohorts") from None
        new = {k: float(p[index[k]]) for k in keys}
        if totals is not None:
            for c, total_c in totals.items():
                states = list(scenario.cohorts[c]["states"])
                total = sum(new[(c, s)] for s in states)
                if total <= 0.0:
                    raise ScenarioError(f"cohort '{c}' has no inflow to scale to "
                                        f"{total_c:g} people", file=_where(scenario),
                                        key=f"cohorts.{c}.states.{states[0]}.inflow")
                scale = float(total_c) / total
                for s in states:
                    inflow[(c, s)] *= scale
        moved = max(abs(new[k] - stocks[k]) / max(abs(new[k]), 1.0) for k in new)
        stocks = new
        if moved <= _STOCKS_TOLERANCE and (totals is None or all(
                abs(sum(stocks[(c, s)] for s in scenario.cohorts[c]["states"]) - t)
                <= _STOCKS_TOLERANCE * max(t, 1.0) for c, t in totals.items())):
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
        coverage = month0_coverage(scenario, stocks)
        factors = month0_factors(scenario, coverage)
        inflow, escalation = _solve_rates(scenario, stocks, factors)
    else:
        stocks, inflow, escalation = _solve_stocks(scenario, totals)
        coverage = month0_coverage(scenario, stocks)
        factors = month0_factors(scenario, coverage)
    spend, demand = month0_spend(scenario, stocks)
    budgets = {a: spend[a] * (1.0 + float(ag["overhead"])) for a, ag in scenario.agencies.items()}
    residual = _residual(scenario, stocks, inflow, escalation, factors)
    return InitialState(scenario, solve, stocks, inflow, escalation, factors.multiplier,
                        coverage, spend, budgets, residual, demand,
                        month0_flows(scenario, stocks, inflow))
