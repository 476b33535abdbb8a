"""Inputs of the individual-level model: the replication plan and the spend attribution, built
from the compiled model and its aggregate run (plain arrays; no YAML, no files)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tpsim.models import layout as lo

COVERAGE_MODES = ("aggregate", "endogenous")
"""How preventive coverage is found: taken from the aggregate run (default; isolates the
individual dynamics) or computed each month from the simulated people."""


@dataclass
class IndividualPlan:
    """Everything a replication needs, as plain arrays (picklable; no scenario, no files).

    Month index ``m`` (0-based) is the interval ``[m, m+1)`` months from the start. Rates are
    per person-month in force during month m. ``H`` = months, ``npop`` = need states (all
    cohorts), ``nq`` = capacity-limited services, ``nreact`` = all reactive services.
    """

    n_months: int
    people: int                       # simulated people at month 0 (requested sample size)
    weight: float                     # people in the place per simulated person
    initial: np.ndarray               # npop: people in the place at month 0
    pop_cohort: np.ndarray            # npop: cohort index of each state
    pop_first: np.ndarray             # npop: bool, lowest state of its cohort
    pop_last: np.ndarray              # npop: bool, highest state of its cohort
    escalation: np.ndarray            # H x npop: base rate x quality-erosion multiplier x (in
                                      # "aggregate" coverage mode) the prevention multiplier
    recovery: np.ndarray              # H x npop
    exit: np.ndarray                  # H x npop
    arrivals: np.ndarray              # H x npop: expected simulated arrivals in the month
    arrival_growth: np.ndarray        # H x npop: continuous growth rate of inflow (per month)
    react_util: np.ndarray            # H x nreact x npop: events per person-month
    queued: np.ndarray                # nq: index (into reactive services) of each
                                      # capacity-limited service
    servers: np.ndarray               # nq: simpy Resource capacity (servers) in the sample
    service_time: np.ndarray          # H x nq: mean service time, months (0 = no limit then)
    deterioration: np.ndarray         # H x nq: relative rise in escalation while waiting
                                      # (already multiplied by loops.waiting_deterioration)
    coverage_mode: str = "aggregate"
    draw_requests: bool = False       # draw Poisson counts for services without a capacity limit
                                      # (default: their expectation given the simulated people)
    # endogenous coverage only (empty otherwise)
    prev_states: list = field(default_factory=list)      # per preventive service: state indices
    prev_places: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))   # H x nprev
    prev_uptake: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))   # H x nprev
    prev_effect: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))   # H x nprev
    prev_time_to_effect: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    prev_order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    prev_initial: np.ndarray = field(default_factory=lambda: np.zeros(0))  # coverage at month 0
    escalation_unprevented: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def npop(self) -> int:
        return int(self.initial.size)

    @property
    def nq(self) -> int:
        return int(self.queued.size)


@dataclass
class SpendPlan:
    """What turns simulated counts into the aggregate model's output series (place units).

    Budget policies are held fixed: preventive places and their spend, pool contributions,
    captured-savings payments and pool spend are the aggregate run's, month by month.
    """

    pop_labels: list
    cohorts: list
    agencies: list
    preventive: list
    reactive: list
    queued_names: list
    utility: np.ndarray               # npop: QALY weight of a person-year
    react_agency: np.ndarray          # nreact
    react_unit_cost: np.ndarray       # H x nreact: £ per event, month average (efficiency)
    react_fixed_share: np.ndarray     # H x nreact
    react_decommission: np.ndarray    # H x nreact: months
    react_capbase0: np.ndarray        # nreact: capacity cost base at month 0, events/month
    prev_states: list                 # per preventive service: eligible state indices
    prev_uptake: np.ndarray           # H x nprev
    prev_places: np.ndarray           # H x nprev: funded places, month average
    prev_activity: np.ndarray         # H x nprev: people covered, month average (aggregate)
    prev_eligible: np.ndarray         # H x nprev: eligible person-months (aggregate)
    prev_spend: np.ndarray            # H x nprev: £ in the month (aggregate)
    prev_coverage: np.ndarray         # H x nprev: effective coverage at month end (aggregate)
    agency_prev_cost: np.ndarray      # H x nag: agency's own preventive spend (aggregate)
    agency_overhead_rate: np.ndarray  # H x nag: overhead / service spend (aggregate)
    agency_transfers: np.ndarray      # H x nag: pool contributions + capture payments
    pool_spend: np.ndarray            # H: £ in the month (aggregate)


def _growth_paths(annual: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For annual growth rates in force each month (H x k, fraction per year): the continuous
    rate per month, the factor's average over each month and its value at mid-month."""
    rate = np.log1p(annual) / 12.0
    start = np.ones_like(rate)
    if rate.shape[0] > 1:
        start[1:] = np.exp(np.cumsum(rate[:-1], axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_factor = np.where(np.abs(rate) > 1e-12, np.expm1(rate) / rate, 1.0)
    return rate, start * mean_factor, start * np.exp(rate / 2.0)


class _Paths:
    """Parameter paths of the aggregate run (month by month, scheduled changes applied)."""

    def __init__(self, model, aggregate) -> None:
        self.model, self.H = model, model.n_months
        self.theta, self.evs = aggregate.raw.theta[0], aggregate.raw.ev_values[0]

    def one(self, block: int, item: int = 0) -> np.ndarray:
        """H values of parameter ``item`` of ``block``."""
        return self.model.param_path_over_time(int(self.model.po[block]) + item, self.theta,
                                               self.evs)

    def many(self, block: int, n: int) -> np.ndarray:
        """H x n values of the first n parameters of ``block``."""
        if not n:
            return np.zeros((self.H, 0))
        return np.stack([self.one(block, i) for i in range(n)], axis=1)


def build_plan(model, aggregate, people: int = 20_000, coverage: str = "aggregate",
               service_time: float = 1.0,
               draw_requests: bool = False) -> tuple[IndividualPlan, SpendPlan]:
    """The replication inputs and the spend attribution for ``model``.

    ``aggregate`` is the :class:`tpsim.models.results.Results` of the same model (one run,
    every state entry recorded): the DES takes budget-policy paths from it (and, in
    ``"aggregate"`` coverage mode, the effective preventive coverage). ``people`` is the sample
    size at month 0; ``service_time`` (months) sets how many servers stand for a capacity: see
    docs/individual.md.
    """
    if coverage not in COVERAGE_MODES:
        raise ValueError(f"coverage must be one of {COVERAGE_MODES}, got {coverage!r}")
    if people < 1:
        raise ValueError("people must be at least 1")
    if not service_time > 0:
        raise ValueError("service_time must be > 0 months")
    s = model.structure
    H, npop, nprev = model.n_months, model.npop, len(model.preventive)
    traj = aggregate.raw.trajectory[0]  # (H + 1) x nstate
    paths = _Paths(model, aggregate)

    initial = paths.many(lo.P_INITIAL, npop)[0].copy()
    total0 = float(initial.sum())
    weight = total0 / people if total0 > 0 else 1.0
    rates = _state_rates(model, paths, traj, coverage)

    # arrivals: inflow x growth integrated over the month, in simulated people
    in_rate, in_mean, _ = _growth_paths(paths.many(lo.P_INFLOW_GROWTH, len(model.cohorts)))
    cohort = s["pop_cohort"]
    arrivals = paths.many(lo.P_INFLOW, npop) * in_mean[:, cohort] / weight
    queued, servers, svc, deterioration = _queued_services(model, paths, weight, service_time)
    places_avg = _places(model, paths, traj)
    uptake = paths.many(lo.P_PV_UPTAKE, nprev)
    prev_states = [list(s["prev_pop"][s["prev_ptr"][v]:s["prev_ptr"][v + 1]])
                   for v in range(nprev)]

    plan = IndividualPlan(
        n_months=H, people=int(people), weight=float(weight), initial=initial,
        pop_cohort=cohort.copy(), pop_first=s["pop_first"].copy(), pop_last=s["pop_last"].copy(),
        escalation=rates["escalation"], recovery=rates["recovery"], exit=rates["exit"],
        arrivals=arrivals, arrival_growth=in_rate[:, cohort],
        react_util=_utilisation(model, paths), queued=queued, servers=servers,
        service_time=svc, deterioration=deterioration, coverage_mode=coverage,
        draw_requests=bool(draw_requests),
    )
    if coverage == "endogenous":
        plan.prev_states = prev_states
        plan.prev_places = places_avg
        plan.prev_uptake = uptake
        plan.prev_effect = rates["effect"]
        plan.prev_time_to_effect = paths.many(lo.P_PV_TIME_TO_EFFECT, nprev)
        plan.prev_order = s["prev_order"].copy()
        plan.prev_initial = rates["coverage_end"][0].copy()
        plan.escalation_unprevented = rates["unprevented"]
    spend = _spend_plan(model, aggregate, paths, traj, queued, prev_states, uptake, places_avg,
                        rates["coverage_end"])
    return plan, spend


def _state_rates(model, paths: _Paths, traj: np.ndarray, coverage: str) -> dict:
    """Escalation (with quality erosion and, in ``"aggregate"`` coverage mode, prevention at the
    aggregate run's coverage), recovery and exit rates per month and state (per month)."""
    s = model.structure
    H, npop, nprev, nag = model.n_months, model.npop, len(model.preventive), len(model.agencies)
    _, _, eff_mid = _growth_paths(-paths.many(lo.P_AG_EFFICIENCY, nag))
    esc_base = paths.many(lo.P_ESC, npop) * ~s["pop_last"]
    # quality erosion: prod over agencies serving the state of (1 + on x erosion x (1 - E))
    erosion_on = paths.one(lo.P_GLOBAL, lo.G_LOOP_EROSION)
    erosion = paths.many(lo.P_AG_EROSION, nag)
    erosion_mult = np.ones((H, npop))
    for i in range(npop):
        for k in range(s["pop_ag_ptr"][i], s["pop_ag_ptr"][i + 1]):
            a = s["pop_ag"][k]
            erosion_mult[:, i] *= 1.0 + erosion_on * erosion[:, a] * (1.0 - eff_mid[:, a])
    unprevented = esc_base * erosion_mult
    # effective coverage (last delay stage) from the aggregate run, trapezoid month average
    stage_last = [model.x_index(lo.X_STAGE, int(s["prev_stage0"][v] + s["prev_order"][v] - 1))
                  for v in range(nprev)]
    cov_end = traj[:, stage_last] if nprev else np.zeros((H + 1, 0))
    cov_avg = 0.5 * (cov_end[:-1] + cov_end[1:])
    effect = paths.many(lo.P_PV_EFFECT, nprev)
    prevention_mult = np.ones((H, npop))
    for i in range(npop):
        for k in range(s["pop_prev_ptr"][i], s["pop_prev_ptr"][i + 1]):
            v = s["pop_prev"][k]
            prevention_mult[:, i] *= 1.0 - effect[:, v] * cov_avg[:, v]
    escalation = unprevented * (prevention_mult if coverage == "aggregate" else 1.0)
    return {"escalation": escalation, "unprevented": unprevented, "effect": effect,
            "coverage_end": cov_end,
            "recovery": paths.many(lo.P_REC, npop) * ~s["pop_first"],
            "exit": paths.many(lo.P_EXIT, npop)}


def _utilisation(model, paths: _Paths) -> np.ndarray:
    """Requests per person-month, H x reactive service x state."""
    s, nreact = model.structure, len(model.reactive)
    react_util = np.zeros((model.n_months, nreact, model.npop))
    for r in range(nreact):
        for k in range(s["react_ptr"][r], s["react_ptr"][r + 1]):
            react_util[:, r, s["react_pop"][k]] = paths.one(lo.P_UTIL, k)
    return react_util


def _queued_services(model, paths: _Paths, weight: float, service_time: float):
    """The capacity-limited reactive services: their indices, servers in the sample, mean
    service time per month (months) and waiting deterioration (0 with the loop off)."""
    nreact = len(model.reactive)
    capacity = paths.many(lo.P_RV_CAPACITY, nreact)
    queued = np.array([r for r in range(nreact) if np.isfinite(capacity[:, r]).any()],
                      dtype=np.int64)
    servers = np.zeros(queued.size, dtype=np.int64)
    svc = np.zeros((model.n_months, queued.size))
    for q, r in enumerate(queued):
        finite = capacity[np.isfinite(capacity[:, r]), r]
        sample_capacity = finite[0] / weight  # events per month in the sample
        servers[q] = max(1, int(round(sample_capacity * service_time)))
        with np.errstate(divide="ignore"):
            svc[:, q] = np.where(np.isfinite(capacity[:, r]),
                                 servers[q] * weight / capacity[:, r], 0.0)
    waiting_on = paths.one(lo.P_GLOBAL, lo.G_LOOP_WAITING)
    deterioration = paths.many(lo.P_RV_DETERIORATION, nreact)[:, queued] * waiting_on[:, None]
    return queued, servers, svc, deterioration


def _places(model, paths: _Paths, traj: np.ndarray) -> np.ndarray:
    """Preventive places in force (funded x places + pool + community), trapezoid month
    average, H x preventive service."""
    nprev = len(model.preventive)
    places_path = paths.many(lo.P_PV_PLACES, nprev)
    places_end = np.zeros((model.n_months + 1, nprev))
    for v in range(nprev):
        funding = traj[:, model.x_index(lo.X_FUNDING, v)]
        other = (traj[:, model.x_index(lo.X_POOL_PLACES, v)]
                 + traj[:, model.x_index(lo.X_COMMUNITY, v)])
        per_month = np.concatenate([[places_path[0, v]], places_path[:, v]])
        places_end[:, v] = funding * per_month + other
    return 0.5 * (places_end[:-1] + places_end[1:])


def _spend_plan(model, aggregate, paths: _Paths, traj: np.ndarray, queued: np.ndarray,
                prev_states: list, uptake: np.ndarray, places_avg: np.ndarray,
                cov_end: np.ndarray) -> SpendPlan:
    """The spend attribution: what the aggregate run spent per agency besides reactive cash
    (preventive, overhead rates, transfers), and the reactive cost rules, so the DES's
    activity can be costed as the aggregate model costs it."""
    s, S = model.structure, aggregate.series
    H, npop, nprev = model.n_months, model.npop, len(model.preventive)
    nreact, nag = len(model.reactive), len(model.agencies)
    _, eff_mean, _ = _growth_paths(-paths.many(lo.P_AG_EFFICIENCY, nag))
    pm0 = model.x_index(lo.A_PERSON_MONTHS, 0)
    person_months = np.diff(traj[:, pm0:pm0 + npop], axis=0)  # H x npop (aggregate)
    react_cash_agg = np.zeros((H, nag))
    for r, name in enumerate(model.reactive):
        react_cash_agg[:, s["react_agency"][r]] += S[f"spend.service.{name}"][0]
    service_agg = np.zeros((H, nag))
    overhead_rate = np.zeros((H, nag))
    transfers = np.zeros((H, nag))
    for a, name in enumerate(model.agencies):
        oh = S[f"overhead.agency.{name}"][0]
        transfers[:, a] = S[f"contribution.agency.{name}"][0] + S[f"capture.agency.{name}"][0]
        service_agg[:, a] = S[f"spend.agency.{name}"][0] - oh - transfers[:, a]
        positive = service_agg[:, a] > 0
        overhead_rate[:, a] = np.where(positive, oh / np.where(positive, service_agg[:, a], 1.0),
                                       paths.many(lo.P_AG_OVERHEAD, nag)[:, a])
    react_agency = s["react_agency"].copy()

    def by_preventive(values) -> np.ndarray:
        return np.stack(list(values), axis=1) if nprev else np.zeros((H, 0))

    return SpendPlan(
        pop_labels=list(model.pop_labels), cohorts=list(model.cohorts),
        agencies=list(model.agencies), preventive=list(model.preventive),
        reactive=list(model.reactive), queued_names=[model.reactive[r] for r in queued],
        utility=model.pop_utility.copy(), react_agency=react_agency,
        react_unit_cost=paths.many(lo.P_RV_UNIT_COST, nreact) * eff_mean[:, react_agency],
        react_fixed_share=paths.many(lo.P_RV_FIXED_SHARE, nreact),
        react_decommission=paths.many(lo.P_RV_DECOMMISSION, nreact),
        react_capbase0=traj[0, [model.x_index(lo.X_CAPBASE, r) for r in range(nreact)]]
        if nreact else np.zeros(0),
        prev_states=prev_states, prev_uptake=uptake, prev_places=places_avg,
        prev_activity=by_preventive(S[f"activity.{v}"][0] for v in model.preventive),
        prev_eligible=by_preventive(person_months[:, states].sum(axis=1)
                                    for states in prev_states),
        prev_spend=by_preventive(S[f"spend.service.{v}"][0] for v in model.preventive),
        prev_coverage=cov_end[1:].copy(),
        agency_prev_cost=service_agg - react_cash_agg, agency_overhead_rate=overhead_rate,
        agency_transfers=transfers, pool_spend=S["pool.spend"][0].copy(),
    )
