"""The individual-level (discrete-event) model on simpy: people, not stocks.

Each simulated person moves between the need states of a cohort in continuous time. Holding
times are exponential with the scenario's escalation, recovery and exit rates (competing risks),
so the model is the continuous-time Markov chain whose expectation the aggregate model
integrates. Capacity-limited reactive services are :class:`simpy.Resource` objects with FIFO
queues; people waiting in them escalate faster. Everything is documented with its units and
the mapping from aggregate parameters in ``docs/individual.md``.

Data flow (no YAML and no files in here)::

    compiled Model + aggregate Results --build_plan--> IndividualPlan (worker) + SpendPlan
    IndividualPlan + SeedSequence --simulate_replication--> ReplicationOutput (sample counts)
    [ReplicationOutput] + SpendPlan --place_series--> series in place units, runs x months

``run_individual`` does all three, with replications in worker processes.

Design for speed (the engine processes a few hundred thousand events a second per core):

* one simpy ``Environment`` per replication; a person is not a generator process but a pair of
  plain callbacks on :class:`simpy.events.Timeout` events (``on_candidate`` for state changes,
  ``on_request_clock`` for requests to capacity-limited services), so only people who are
  about to do something cost anything;
* time-varying rates are handled exactly by *thinning*: candidate times are drawn at a bound
  rate that is never exceeded over the horizon, and a candidate at time t is accepted with
  probability rate(t) / bound; the accepted destination is drawn from the competing risks;
* a person's pending events carry an epoch number; a state change increments it, so events
  scheduled for the old state are dropped when they fire (lazy cancellation);
* requests to services without a capacity limit never queue, so they are not simulated one by
  one: the number in a month is drawn as Poisson(sum over states of utilisation x person-months
  in the state), which is exactly the distribution of the superposed individual Poisson request
  processes given the simulated paths;
* random numbers come from one ``numpy.random.Generator`` per replication, drawn in blocks.
"""
from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np
import simpy
from simpy.events import Timeout

from tpsim.models import layout as lo

COVERAGE_MODES = ("aggregate", "endogenous")
"""How preventive coverage is found: taken from the aggregate run (default; isolates the
individual dynamics) or computed each month from the simulated people."""

_RANDOM_BLOCK = 1 << 14
_PARALLEL_MIN_PERSON_MONTHS = 5_000_000  # below this, worker start-up costs more than it saves
_BUCKETS_PER_MONTH = 4  # a power of two, so bucket boundaries are exact binary fractions
_DELAY_SUBSTEPS = 32  # Euler sub-steps per month for the endogenous coverage delay chain


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


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


@dataclass
class ReplicationOutput:
    """Raw counts of one replication, in *simulated* people and events (not scaled)."""

    population: np.ndarray            # H x npop: people at each month end
    person_months: np.ndarray         # H x npop
    inflow: np.ndarray                # H x npop: arrivals
    escalations: np.ndarray           # H x npop: escalations out of each state
    recoveries: np.ndarray            # H x npop
    exits: np.ndarray                 # H x npop
    activity: np.ndarray              # H x nreact: events (capacity-limited: service starts)
    requests: np.ndarray              # H x nq: requests made
    withdrawn: np.ndarray             # H x nq: requests withdrawn (the person left the
                                      # service's states)
    queue_mean: np.ndarray            # H x nq: time-average queue length
    queue_end: np.ndarray             # H x nq: queue length at month end
    queue_max: np.ndarray             # H x nq
    busy_mean: np.ndarray             # H x nq: time-average busy servers
    wait_month: list                  # per queued service: month index of each service start
    wait_time: list                   # per queued service: months waited by each served request
    coverage: np.ndarray              # H x nprev: effective coverage at month end (endogenous)
    events: int                       # simulated events (see ``event_counts``)
    event_counts: dict
    seconds: float                    # wall time of the replication
    cpu_seconds: float                # CPU time of the replication (its process)


# ---------------------------------------------------------------------------------------------
# Building the plan from the compiled model and the aggregate run
# ---------------------------------------------------------------------------------------------


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


def build_plan(model, aggregate, people: int = 20_000, coverage: str = "aggregate",
               service_time: float = 1.0,
               draw_requests: bool = False) -> tuple[IndividualPlan, SpendPlan]:
    """The replication inputs and the spend attribution for ``model``.

    ``aggregate`` is the :class:`tpsim.models.results.Results` of the same model (one run, every state
    entry recorded): the DES takes budget-policy paths from it (and, in ``"aggregate"``
    coverage mode, the effective preventive coverage). ``people`` is the sample size at month 0;
    ``service_time`` (months) sets how many servers stand for a capacity: see docs/individual.md.
    """
    if coverage not in COVERAGE_MODES:
        raise ValueError(f"coverage must be one of {COVERAGE_MODES}, got {coverage!r}")
    if people < 1:
        raise ValueError("people must be at least 1")
    if not service_time > 0:
        raise ValueError("service_time must be > 0 months")
    s = model.structure
    po = model.po
    H = model.n_months
    npop, nco = model.npop, len(model.cohorts)
    nprev, nreact, nag = len(model.preventive), len(model.reactive), len(model.agencies)
    theta = aggregate.raw.theta[0]
    evs = aggregate.raw.ev_values[0]
    traj = aggregate.raw.trajectory[0]  # (H + 1) x nstate

    def path(block: int, item: int = 0) -> np.ndarray:
        return model.param_path_over_time(int(po[block]) + item, theta, evs)

    def paths(block: int, n: int) -> np.ndarray:
        return np.stack([path(block, i) for i in range(n)], axis=1) if n else np.zeros((H, 0))

    initial = paths(lo.P_INITIAL, npop)[0].copy()
    total0 = float(initial.sum())
    weight = total0 / people if total0 > 0 else 1.0

    # growth factors: inflow per cohort, unit-cost efficiency per agency
    in_rate, in_mean, _ = _growth_paths(paths(lo.P_INFLOW_GROWTH, nco))
    eff_annual = -paths(lo.P_AG_EFFICIENCY, nag)
    _, eff_mean, eff_mid = _growth_paths(eff_annual)

    esc_base = paths(lo.P_ESC, npop) * ~s["pop_last"]
    recovery = paths(lo.P_REC, npop) * ~s["pop_first"]
    exit_rate = paths(lo.P_EXIT, npop)
    # quality erosion: prod over agencies serving the state of (1 + on x erosion x (1 - E))
    erosion_on = path(lo.P_GLOBAL, lo.G_LOOP_EROSION)
    erosion = paths(lo.P_AG_EROSION, nag)
    erosion_mult = np.ones((H, npop))
    for i in range(npop):
        for k in range(s["pop_ag_ptr"][i], s["pop_ag_ptr"][i + 1]):
            a = s["pop_ag"][k]
            erosion_mult[:, i] *= 1.0 + erosion_on * erosion[:, a] * (1.0 - eff_mid[:, a])
    esc_unprevented = esc_base * erosion_mult

    # effective coverage (last delay stage) from the aggregate run, trapezoid month average
    stage_last = [model.x_index(lo.X_STAGE, int(s["prev_stage0"][v] + s["prev_order"][v] - 1))
                  for v in range(nprev)]
    cov_end = traj[:, stage_last] if nprev else np.zeros((H + 1, 0))
    cov_avg = 0.5 * (cov_end[:-1] + cov_end[1:])
    effect = paths(lo.P_PV_EFFECT, nprev)
    prevention_mult = np.ones((H, npop))
    for i in range(npop):
        for k in range(s["pop_prev_ptr"][i], s["pop_prev_ptr"][i + 1]):
            v = s["pop_prev"][k]
            prevention_mult[:, i] *= 1.0 - effect[:, v] * cov_avg[:, v]
    escalation = esc_unprevented * (prevention_mult if coverage == "aggregate" else 1.0)

    # arrivals: inflow x growth integrated over the month, in simulated people
    inflow = paths(lo.P_INFLOW, npop)
    cohort = s["pop_cohort"]
    arrivals = inflow * in_mean[:, cohort] / weight
    arrival_growth = in_rate[:, cohort]

    # reactive services
    react_util = np.zeros((H, nreact, npop))
    for r in range(nreact):
        for k in range(s["react_ptr"][r], s["react_ptr"][r + 1]):
            react_util[:, r, s["react_pop"][k]] = path(lo.P_UTIL, k)
    capacity = paths(lo.P_RV_CAPACITY, nreact)
    queued = np.array([r for r in range(nreact) if np.isfinite(capacity[:, r]).any()],
                      dtype=np.int64)
    servers = np.zeros(queued.size, dtype=np.int64)
    svc = np.zeros((H, queued.size))
    for q, r in enumerate(queued):
        finite = capacity[np.isfinite(capacity[:, r]), r]
        sample_capacity = finite[0] / weight  # events per month in the sample
        servers[q] = max(1, int(round(sample_capacity * service_time)))
        with np.errstate(divide="ignore"):
            svc[:, q] = np.where(np.isfinite(capacity[:, r]), servers[q] * weight / capacity[:, r],
                                 0.0)
    waiting_on = path(lo.P_GLOBAL, lo.G_LOOP_WAITING)
    deterioration = paths(lo.P_RV_DETERIORATION, nreact)[:, queued] * waiting_on[:, None]

    # preventive places: funded x places + pool + community, trapezoid month average
    places_path = paths(lo.P_PV_PLACES, nprev)
    places_end = np.zeros((H + 1, nprev))
    for v in range(nprev):
        funding = traj[:, model.x_index(lo.X_FUNDING, v)]
        other = (traj[:, model.x_index(lo.X_POOL_PLACES, v)]
                 + traj[:, model.x_index(lo.X_COMMUNITY, v)])
        per_month = np.concatenate([[places_path[0, v]], places_path[:, v]])
        places_end[:, v] = funding * per_month + other
    places_avg = 0.5 * (places_end[:-1] + places_end[1:])
    uptake = paths(lo.P_PV_UPTAKE, nprev)
    prev_states = [list(s["prev_pop"][s["prev_ptr"][v]:s["prev_ptr"][v + 1]]) for v in range(nprev)]

    plan = IndividualPlan(
        n_months=H, people=int(people), weight=float(weight), initial=initial,
        pop_cohort=cohort.copy(), pop_first=s["pop_first"].copy(), pop_last=s["pop_last"].copy(),
        escalation=escalation, recovery=recovery, exit=exit_rate, arrivals=arrivals,
        arrival_growth=arrival_growth, react_util=react_util, queued=queued, servers=servers,
        service_time=svc, deterioration=deterioration, coverage_mode=coverage,
        draw_requests=bool(draw_requests),
    )
    if coverage == "endogenous":
        plan.prev_states = prev_states
        plan.prev_places = places_avg
        plan.prev_uptake = uptake
        plan.prev_effect = effect
        plan.prev_time_to_effect = paths(lo.P_PV_TIME_TO_EFFECT, nprev)
        plan.prev_order = s["prev_order"].copy()
        plan.prev_initial = cov_end[0].copy()
        plan.escalation_unprevented = esc_unprevented

    # spend attribution (parent side)
    S = aggregate.series
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
                                       paths(lo.P_AG_OVERHEAD, nag)[:, a])
    react_agency = s["react_agency"].copy()
    spend = SpendPlan(
        pop_labels=list(model.pop_labels), cohorts=list(model.cohorts),
        agencies=list(model.agencies), preventive=list(model.preventive),
        reactive=list(model.reactive), queued_names=[model.reactive[r] for r in queued],
        utility=model.pop_utility.copy(), react_agency=react_agency,
        react_unit_cost=paths(lo.P_RV_UNIT_COST, nreact) * eff_mean[:, react_agency],
        react_fixed_share=paths(lo.P_RV_FIXED_SHARE, nreact),
        react_decommission=paths(lo.P_RV_DECOMMISSION, nreact),
        react_capbase0=traj[0, [model.x_index(lo.X_CAPBASE, r) for r in range(nreact)]]
        if nreact else np.zeros(0),
        prev_states=prev_states, prev_uptake=uptake, prev_places=places_avg,
        prev_activity=np.stack([S[f"activity.{v}"][0] for v in model.preventive], axis=1)
        if nprev else np.zeros((H, 0)),
        prev_eligible=np.stack([person_months[:, states].sum(axis=1) for states in prev_states],
                               axis=1) if nprev else np.zeros((H, 0)),
        prev_spend=np.stack([S[f"spend.service.{v}"][0] for v in model.preventive], axis=1)
        if nprev else np.zeros((H, 0)),
        prev_coverage=cov_end[1:].copy(),
        agency_prev_cost=service_agg - react_cash_agg, agency_overhead_rate=overhead_rate,
        agency_transfers=transfers, pool_spend=S["pool.spend"][0].copy(),
    )
    return plan, spend


# ---------------------------------------------------------------------------------------------
# One replication: the simpy engine
# ---------------------------------------------------------------------------------------------


def _stream(draw):
    """An endless iterator of floats drawn in blocks (``draw(n)`` returns an ndarray)."""
    return itertools.chain.from_iterable(map(lambda _: draw(_RANDOM_BLOCK).tolist(),
                                             itertools.repeat(None)))


def simulate_replication(plan: IndividualPlan, seed) -> ReplicationOutput:
    """Simulate one replication of ``plan`` with random numbers from ``seed`` (an int or a
    :class:`numpy.random.SeedSequence`). Deterministic given the seed."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    rng = np.random.Generator(np.random.PCG64(seed))
    env = simpy.Environment()
    H = plan.n_months
    horizon = float(H)
    npop, nq = plan.npop, plan.nq
    nreact = plan.react_util.shape[1]
    weight = plan.weight
    endogenous = plan.coverage_mode == "endogenous"
    next_exp = _stream(rng.standard_exponential).__next__
    next_uni = _stream(rng.random).__next__

    # ---- static structure -----------------------------------------------------------------
    util_q = plan.react_util[:, plan.queued, :] if nq else np.zeros((H, 0, npop))
    # thinning bounds: the largest rate over the horizon (waiting can multiply escalation)
    wait_max = np.ones(npop)
    for q in range(nq):
        serves = util_q[:, q, :].max(axis=0) > 0
        wait_max[serves] *= 1.0 + plan.deterioration[:, q].max(initial=0.0)
    esc_cap = plan.escalation_unprevented if endogenous else plan.escalation
    bound = (esc_cap.max(axis=0) * wait_max + plan.recovery.max(axis=0)
             + plan.exit.max(axis=0)).tolist()
    ubound = util_q.max(axis=0).tolist() if nq else []      # nq x npop
    queued_for = [tuple(q for q in range(nq) if ubound[q][i] > 0.0) for i in range(npop)]
    serves_state = [set(i for i in range(npop) if ubound[q][i] > 0.0) for q in range(nq)]
    resources = [simpy.Resource(env, capacity=int(c)) for c in plan.servers]

    # ---- rates in force this month (updated in place at month ticks) ----------------------
    esc_rate = [0.0] * npop
    rec_rate = [0.0] * npop
    ext_rate = [0.0] * npop
    util_rate = [[0.0] * npop for _ in range(nq)]
    det_rate = [0.0] * nq
    svc_mean = [0.0] * nq

    # ---- people ---------------------------------------------------------------------------
    state: list[int] = []
    epoch: list[int] = []
    pending: dict[int, list] = {}  # person -> queued (not yet started) requests

    # ---- month accumulators and outputs ---------------------------------------------------
    count = [0] * npop
    pt_acc = [0.0] * npop
    pt_last = [0.0] * npop
    m_in = [0] * npop
    m_esc = [0] * npop
    m_rec = [0] * npop
    m_exit = [0] * npop
    m_req = [0] * nq
    m_start = [0] * nq
    m_withdrawn = [0] * nq
    q_len = [0] * nq
    q_int = [0.0] * nq
    q_last = [0.0] * nq
    q_max = [0] * nq
    b_len = [0] * nq
    b_int = [0.0] * nq
    b_last = [0.0] * nq
    waits = [[] for _ in range(nq)]
    wait_months = [[] for _ in range(nq)]
    # engine overheads (not events): thinning candidates rejected, events of an old epoch;
    # and service completions (the other events are counted per month below)
    REJECTED, STALE, ENDS = 0, 1, 2
    tally = [0, 0, 0]

    out_pop = np.zeros((H, npop))
    out_pt = np.zeros((H, npop))
    out_in = np.zeros((H, npop))
    out_esc = np.zeros((H, npop))
    out_rec = np.zeros((H, npop))
    out_exit = np.zeros((H, npop))
    out_req = np.zeros((H, nq))
    out_start = np.zeros((H, nq))
    out_withdrawn = np.zeros((H, nq))
    out_qmean = np.zeros((H, nq))
    out_qend = np.zeros((H, nq))
    out_qmax = np.zeros((H, nq))
    out_bmean = np.zeros((H, nq))
    nprev = len(plan.prev_states)
    out_cov = np.zeros((H, nprev))
    stages = [np.full(int(plan.prev_order[v]), plan.prev_initial[v]) for v in range(nprev)]

    # ---- small helpers on the hot path ----------------------------------------------------
    def queue_changed(q: int, now: float) -> None:
        q_int[q] += q_len[q] * (now - q_last[q])
        q_last[q] = now
        n = len(resources[q].put_queue)
        q_len[q] = n
        if n > q_max[q]:
            q_max[q] = n

    def busy_changed(q: int, now: float) -> None:
        b_int[q] += b_len[q] * (now - b_last[q])
        b_last[q] = now
        b_len[q] = len(resources[q].users)

    # The simpy event queue is a binary heap whose cost grows with its size, so only events
    # due before the end of the current bucket (a quarter of a month) go into it; later ones
    # wait in per-bucket lists and are scheduled when their bucket opens. Event order is
    # unchanged: a bucket opens before any of its events is due.
    buckets_per_month = _BUCKETS_PER_MONTH
    parked: list = [[] for _ in range(H * buckets_per_month)]
    bucket_end = 1.0 / buckets_per_month

    def wake(at: float, now: float, callback, value) -> None:
        """Call ``callback(event)`` at time ``at`` (months) with ``event._value == value``."""
        if at < bucket_end:
            Timeout(env, at - now, value).callbacks.append(callback)
        elif at < horizon:
            parked[int(at * buckets_per_month)].append((at, callback, value))

    def schedule_candidate(p: int, ep: int, s: int, now: float) -> None:
        """The next thinning candidate of person p (in state s, epoch ep) after ``now``.
        (``wake`` written out: this and ``enter`` run for almost every event.)"""
        b = bound[s]
        if b > 0.0:
            at = now + next_exp() / b
            if at < bucket_end:
                Timeout(env, at - now, (p, ep, at)).callbacks.append(on_candidate)
            elif at < horizon:
                parked[int(at * buckets_per_month)].append((at, on_candidate, (p, ep, at)))

    def enter(p: int, s: int, now: float) -> None:
        """Person p is in state s from ``now``: schedule its state change and request clocks."""
        ep = epoch[p]
        b = bound[s]
        if b > 0.0:
            at = now + next_exp() / b
            if at < bucket_end:
                Timeout(env, at - now, (p, ep, at)).callbacks.append(on_candidate)
            elif at < horizon:
                parked[int(at * buckets_per_month)].append((at, on_candidate, (p, ep, at)))
        for q in queued_for[s]:
            at = now + next_exp() / ubound[q][s]
            wake(at, now, on_request_clock, (p, ep, q, at))

    def waiting_multiplier(p: int) -> float:
        factor = 1.0
        seen = set()
        for req in pending[p]:
            q = req.q
            if q not in seen:
                seen.add(q)
                factor *= 1.0 + det_rate[q]
        return factor

    def withdraw(p: int, new: int, now: float) -> None:
        """Person p left its state for ``new`` (-1: left the model): withdraw queued requests
        for services that do not serve ``new``."""
        keep = []
        for req in pending[p]:
            q = req.q
            if req.triggered or (new >= 0 and new in serves_state[q]):
                keep.append(req)
                continue
            req.cancel()
            queue_changed(q, now)
            m_withdrawn[q] += 1
        if keep:
            pending[p] = keep
        else:
            del pending[p]

    # ---- event callbacks ------------------------------------------------------------------
    def on_candidate(event) -> None:
        p, ep, now = event._value  # the event's time travels with it (saves a property call)
        if epoch[p] != ep:
            tally[STALE] += 1
            return
        s = state[p]
        esc = esc_rate[s]
        waiting = p in pending
        if waiting:
            esc *= waiting_multiplier(p)
        rec = rec_rate[s]
        u = next_uni() * bound[s]
        if u < esc:
            new = s + 1
            m_esc[s] += 1
        elif u < esc + rec:
            new = s - 1
            m_rec[s] += 1
        elif u < esc + rec + ext_rate[s]:
            new = -1
            m_exit[s] += 1
        else:  # a thinning candidate that is not an event: draw the next one
            tally[REJECTED] += 1
            schedule_candidate(p, ep, s, now)
            return
        pt_acc[s] += count[s] * (now - pt_last[s])
        pt_last[s] = now
        count[s] -= 1
        ep += 1
        epoch[p] = ep
        state[p] = new
        if waiting:
            withdraw(p, new, now)
        if new >= 0:
            pt_acc[new] += count[new] * (now - pt_last[new])
            pt_last[new] = now
            count[new] += 1
            # enter(p, new, now), written out: this runs for most events
            b = bound[new]
            if b > 0.0:
                at = now + next_exp() / b
                if at < bucket_end:
                    Timeout(env, at - now, (p, ep, at)).callbacks.append(on_candidate)
                elif at < horizon:
                    parked[int(at * buckets_per_month)].append((at, on_candidate, (p, ep, at)))
            for q in queued_for[new]:
                at = now + next_exp() / ubound[q][new]
                wake(at, now, on_request_clock, (p, ep, q, at))

    def on_request_clock(event) -> None:
        p, ep, q, now = event._value
        if epoch[p] != ep:
            tally[STALE] += 1
            return
        s = state[p]
        ub = ubound[q][s]
        if next_uni() * ub < util_rate[q][s]:
            req = resources[q].request()
            req.q = q
            req.person = p
            req.requested_at = now
            req.callbacks.append(on_start)
            m_req[q] += 1
            if not req.triggered:
                req.queued = True
                pending.setdefault(p, []).append(req)
                queue_changed(q, now)
            else:
                req.queued = False
        else:
            tally[REJECTED] += 1
        at = now + next_exp() / ub
        wake(at, now, on_request_clock, (p, ep, q, at))

    def on_start(req) -> None:
        q = req.q
        now = env.now
        if req.queued:
            lst = pending.get(req.person)
            if lst is not None and req in lst:
                lst.remove(req)
                if not lst:
                    del pending[req.person]
            queue_changed(q, now)
        waits[q].append(now - req.requested_at)
        wait_months[q].append(int(now))
        m_start[q] += 1
        busy_changed(q, now)
        wake(now + svc_mean[q] * next_exp(), now, on_done, req)

    def on_warm_start(req) -> None:
        """A service already running at month 0: it only occupies a server until it ends."""
        wake(svc_mean[req.q] * next_exp(), 0.0, on_done, req)

    def on_done(event) -> None:
        req = event._value
        q = req.q
        resources[q].release(req)
        tally[ENDS] += 1
        busy_changed(q, env.now)

    def on_arrive(event) -> None:
        s = event._value
        now = env.now
        p = len(state)
        state.append(s)
        epoch.append(0)
        pt_acc[s] += count[s] * (now - pt_last[s])
        pt_last[s] = now
        count[s] += 1
        m_in[s] += 1
        enter(p, s, now)

    # ---- months ---------------------------------------------------------------------------
    def open_month(m: int) -> None:
        """Set the rates in force in month m and schedule its arrivals (at time m)."""
        if endogenous:
            esc_rate[:] = _endogenous_escalation(plan, m, count, weight, stages, out_cov)
        else:
            esc_rate[:] = plan.escalation[m].tolist()
        rec_rate[:] = plan.recovery[m].tolist()
        ext_rate[:] = plan.exit[m].tolist()
        for q in range(nq):
            util_rate[q][:] = util_q[m, q].tolist()
            det_rate[q] = float(plan.deterioration[m, q])
            svc_mean[q] = float(plan.service_time[m, q])
        for s in range(npop):
            lam = plan.arrivals[m, s]
            if lam <= 0.0:
                continue
            n = int(rng.poisson(lam))
            if not n:
                continue
            k = plan.arrival_growth[m, s]
            u = rng.random(n)
            if abs(k) > 1e-12:  # density proportional to exp(k t) within the month
                offsets = np.log1p(u * math.expm1(k)) / k
            else:
                offsets = u
            now = float(m)
            for off in offsets.tolist():
                wake(now + off, now, on_arrive, s)

    def close_month(m: int, now: float) -> None:
        for s in range(npop):
            pt_acc[s] += count[s] * (now - pt_last[s])
            pt_last[s] = now
        out_pt[m] = pt_acc
        out_pop[m] = count
        out_in[m] = m_in
        out_esc[m] = m_esc
        out_rec[m] = m_rec
        out_exit[m] = m_exit
        for s in range(npop):
            pt_acc[s] = 0.0
            m_in[s] = m_esc[s] = m_rec[s] = m_exit[s] = 0
        for q in range(nq):
            queue_changed(q, now)
            busy_changed(q, now)
            out_qmean[m, q] = q_int[q]
            out_bmean[m, q] = b_int[q]
            out_qend[m, q] = q_len[q]
            out_qmax[m, q] = q_max[q]
            out_req[m, q] = m_req[q]
            out_start[m, q] = m_start[q]
            out_withdrawn[m, q] = m_withdrawn[q]
            q_int[q] = b_int[q] = 0.0
            q_max[q] = q_len[q]
            m_req[q] = m_start[q] = m_withdrawn[q] = 0

    def ticks():
        """Open each bucket at its start; at whole months also close the month just ended and
        set the next month's rates (time steps of 1/4 month add up exactly in binary)."""
        nonlocal bucket_end
        width = 1.0 / _BUCKETS_PER_MONTH
        for k in range(1, H * _BUCKETS_PER_MONTH):
            yield env.timeout(width)
            now = env.now
            bucket_end = (k + 1) * width
            for at, callback, value in parked[k]:
                Timeout(env, at - now, value).callbacks.append(callback)
            parked[k] = None
            if k % _BUCKETS_PER_MONTH == 0:
                m = k // _BUCKETS_PER_MONTH
                close_month(m - 1, now)
                open_month(m)

    # ---- initial people: stochastic rounding keeps every state's expectation exact ----------
    # (their events are scheduled before month 0's rates are set: candidates are drawn at the
    # bound rates, and month 0's endogenous coverage needs the people in place)
    expected = plan.initial / weight
    n0 = np.floor(expected).astype(np.int64) + (rng.random(npop) < expected - np.floor(expected))
    for s in range(npop):
        for _ in range(int(n0[s])):
            p = len(state)
            state.append(s)
            epoch.append(0)
            count[s] += 1
            enter(p, s, 0.0)
    open_month(0)
    # capacity-limited services start in their steady state rather than idle: Poisson(demand x
    # mean service time) services already running (at most every server; by memorylessness
    # each has an exponential remaining time). They are not month 1's activity, and no queue
    # is carried in (the aggregate model's waiting list starts at 0 too).
    for q in range(nq):
        demand = sum(util_rate[q][s] * count[s] for s in range(npop))
        for _ in range(min(int(plan.servers[q]), int(rng.poisson(demand * svc_mean[q])))):
            req = resources[q].request()
            req.q = q
            req.callbacks.append(on_warm_start)
    env.process(ticks())
    env.run(until=horizon)
    close_month(H - 1, horizon)

    # requests to services without a capacity limit never interact: their number in a month is
    # Poisson(sum of utilisation x person-months) given the simulated people; by default the
    # DES reports that conditional expectation (same mean, less noise)
    activity = np.zeros((H, nreact))
    free = np.ones(nreact, dtype=bool)
    free[plan.queued] = False
    if free.any():
        mean = np.einsum("mrs,ms->mr", plan.react_util[:, free, :], out_pt)
        activity[:, free] = rng.poisson(mean) if plan.draw_requests else mean
    activity[:, plan.queued] = out_start
    counters = {"arrivals": int(out_in.sum()), "escalations": int(out_esc.sum()),
                "recoveries": int(out_rec.sum()), "exits": int(out_exit.sum()),
                "requests": int(out_req.sum()), "service_starts": int(out_start.sum()),
                "service_ends": tally[ENDS], "withdrawals": int(out_withdrawn.sum())}
    events = sum(counters.values())
    counters.update(rejected_candidates=tally[REJECTED], stale_events=tally[STALE])
    wait_month = [np.asarray(w, dtype=np.int32) for w in wait_months]
    wait_time = [np.asarray(w, dtype=np.float64) for w in waits]
    return ReplicationOutput(
        population=out_pop, person_months=out_pt, inflow=out_in, escalations=out_esc,
        recoveries=out_rec, exits=out_exit, activity=activity, requests=out_req,
        withdrawn=out_withdrawn, queue_mean=out_qmean, queue_end=out_qend, queue_max=out_qmax,
        busy_mean=out_bmean, wait_month=wait_month, wait_time=wait_time, coverage=out_cov,
        events=int(events), event_counts=counters, seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
    )


def _endogenous_escalation(plan: IndividualPlan, m: int, count: list, weight: float,
                           stages: list, out_cov: np.ndarray) -> list:
    """Escalation rates for month m with coverage found from the simulated people.

    Coverage at the start of the month is ``min(uptake, places / eligible)`` (eligible scaled to
    the place); the n-th order delay is integrated over the month with that coverage held, and
    the month average of its last stage sets the prevention multiplier.
    """
    esc = plan.escalation_unprevented[m].copy()
    for v, states in enumerate(plan.prev_states):
        eligible = weight * sum(count[i] for i in states)
        places = plan.prev_places[m, v]
        uptake = plan.prev_uptake[m, v]
        if eligible > 1e-12:
            cov = min(uptake, places / eligible)
        else:
            cov = uptake if places > 0 else 0.0
        d = stages[v]
        rate = d.size / plan.prev_time_to_effect[m, v]
        h = 1.0 / _DELAY_SUBSTEPS
        total = 0.5 * d[-1]
        for k in range(_DELAY_SUBSTEPS):
            inputs = np.concatenate([[cov], d[:-1]])
            d += h * rate * (inputs - d)
            total += d[-1] if k < _DELAY_SUBSTEPS - 1 else 0.5 * d[-1]
        average = total / _DELAY_SUBSTEPS
        out_cov[m, v] = d[-1]
        for i in states:
            esc[i] *= 1.0 - plan.prev_effect[m, v] * average
    return esc.tolist()


# ---------------------------------------------------------------------------------------------
# Replications, in worker processes
# ---------------------------------------------------------------------------------------------


def _replicate(args) -> ReplicationOutput:
    plan, seed = args
    return simulate_replication(plan, seed)


def default_workers(plan: IndividualPlan, replications: int) -> int:
    """Worker processes to use: ``min(2, replications, CPUs)``, or 1 when the whole job is
    smaller than about a second of simulation (starting a worker process costs about that)."""
    work = plan.people * plan.n_months * replications  # simulated person-months
    if work < _PARALLEL_MIN_PERSON_MONTHS:
        return 1
    return max(1, min(2, replications, os.cpu_count() or 1))


def run_replications(plan: IndividualPlan, replications: int, seed: int = 0,
                     workers: int | None = None) -> tuple[list[ReplicationOutput], float, int]:
    """Simulate ``replications`` independent replications; return them, the wall seconds and
    the number of worker processes used.

    Replication k uses ``numpy.random.SeedSequence(seed).spawn(replications)[k]``, so the
    results do not depend on the number of workers. ``workers`` defaults to
    :func:`default_workers`; with one worker (or one replication) everything runs in this
    process, otherwise in a :class:`concurrent.futures.ProcessPoolExecutor`.
    """
    if replications < 1:
        raise ValueError("replications must be at least 1")
    seeds = np.random.SeedSequence(seed).spawn(replications)
    if workers is None:
        workers = default_workers(plan, replications)
    workers = max(1, min(int(workers), replications))
    started = time.perf_counter()
    if workers == 1:
        outputs = [simulate_replication(plan, sq) for sq in seeds]
    else:
        # spawn: the parent may hold numba worker threads, which fork does not copy safely
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            outputs = list(pool.map(_replicate, [(plan, sq) for sq in seeds]))
    return outputs, time.perf_counter() - started, workers


# ---------------------------------------------------------------------------------------------
# From simulated counts to the aggregate model's series (place units)
# ---------------------------------------------------------------------------------------------


def _reactive_cash(activity: np.ndarray, unit_cost: np.ndarray, fixed: np.ndarray,
                   decommission: np.ndarray, capbase0: float) -> np.ndarray:
    """Cash cost (£ per month) for activity ``runs x H`` (events per month, place units).

    The capacity cost base K follows activity with a first-order delay; within a month activity
    is constant, so K and the integral of max(activity, K) over the month are exact.
    """
    runs, H = activity.shape
    cash = np.empty_like(activity)
    K = np.full(runs, float(capbase0))
    for m in range(H):
        a = activity[:, m]
        tau = decommission[m]
        decay = math.exp(-1.0 / tau)
        integral_k = a + (K - a) * tau * (1.0 - decay)
        paid_capacity = np.where(K > a, integral_k, a)
        cash[:, m] = unit_cost[m] * ((1.0 - fixed[m]) * a + fixed[m] * paid_capacity)
        K = a + (K - a) * decay
    return cash


def place_series(plan: IndividualPlan, spend: SpendPlan,
                 outputs: list[ReplicationOutput]) -> dict[str, np.ndarray]:
    """The aggregate model's series (names as in ``timeseries.csv``) for every replication,
    scaled to the place: each array is replications x months."""
    w = plan.weight
    R, H = len(outputs), plan.n_months

    def stack(attr: str) -> np.ndarray:
        return np.stack([getattr(o, attr) for o in outputs])  # R x H x k

    pop = stack("population") * w
    pt = stack("person_months") * w
    inflow, esc, exits = stack("inflow") * w, stack("escalations") * w, stack("exits") * w
    activity = stack("activity") * w
    qend = stack("queue_end") * w
    S: dict[str, np.ndarray] = {}
    for i, (c, s) in enumerate(spend.pop_labels):
        S[f"population.{c}.{s}"] = pop[:, :, i]
    for v_i, v in enumerate(spend.preventive):
        # people covered = min(uptake x eligible, places). Places and the integration within
        # the month are the aggregate run's, so the DES scales the aggregate's activity by this
        # expression at its own versus the aggregate's eligible person-months (identical to
        # the plain formula whenever one of the two limits binds all month)
        uptake, places = spend.prev_uptake[:, v_i], spend.prev_places[:, v_i]
        eligible = pt[:, :, spend.prev_states[v_i]].sum(axis=2)
        own = np.minimum(uptake * eligible, places)
        reference = np.minimum(uptake * spend.prev_eligible[:, v_i], places)
        ratio = np.divide(own, reference, out=np.ones_like(own), where=reference > 0)
        S[f"activity.{v}"] = np.where(reference > 0, spend.prev_activity[:, v_i] * ratio, own)
    for r_i, r in enumerate(spend.reactive):
        S[f"activity.{r}"] = activity[:, :, r_i]
    for q, r in enumerate(spend.queued_names):
        S[f"waiting.{r}"] = qend[:, :, q]
    # The cash-cost rule is not linear (the fixed share is paid on max(activity, capacity cost
    # base)), and a sample of N people has sqrt(place / N) times the place's relative noise,
    # so applying the rule replication by replication would bias spend upwards by an amount
    # that depends on N. The rule is applied to the mean activity over replications, and each
    # replication's cost is that, scaled by its activity relative to the mean (a ratio
    # estimator: its mean is exactly the rule at the mean activity).
    cash = np.zeros((R, H, len(spend.reactive)))
    for r_i, r in enumerate(spend.reactive):
        mean_activity = activity[:, :, r_i].mean(axis=0)
        at_mean = _reactive_cash(mean_activity[None, :], spend.react_unit_cost[:, r_i],
                                 spend.react_fixed_share[:, r_i],
                                 spend.react_decommission[:, r_i], spend.react_capbase0[r_i])[0]
        relative = np.divide(activity[:, :, r_i], mean_activity, out=np.ones((R, H)),
                             where=mean_activity > 0)
        cash[:, :, r_i] = at_mean * relative
    for v_i, v in enumerate(spend.preventive):
        S[f"spend.service.{v}"] = np.broadcast_to(spend.prev_spend[:, v_i], (R, H)).copy()
    for r_i, r in enumerate(spend.reactive):
        S[f"spend.service.{r}"] = cash[:, :, r_i]
    for r_i, r in enumerate(spend.reactive):
        S[f"value.service.{r}"] = activity[:, :, r_i] * spend.react_unit_cost[:, r_i]
    total = np.broadcast_to(spend.pool_spend, (R, H)).copy()
    overhead_all = np.zeros((R, H))
    for a_i, a in enumerate(spend.agencies):
        service = spend.agency_prev_cost[:, a_i] + cash[:, :, spend.react_agency == a_i].sum(axis=2)
        overhead = spend.agency_overhead_rate[:, a_i] * service
        S[f"spend.agency.{a}"] = service + overhead + spend.agency_transfers[:, a_i]
        overhead_all += overhead
        total += service + overhead
    S["spend.kind.preventive"] = np.broadcast_to(spend.prev_spend.sum(axis=1), (R, H)).copy()
    S["spend.kind.reactive"] = cash.sum(axis=2)
    S["spend.overhead"] = overhead_all
    S["spend.total"] = total
    for v_i, v in enumerate(spend.preventive):
        if plan.coverage_mode == "endogenous":
            S[f"coverage.{v}"] = stack("coverage")[:, :, v_i]
        else:
            S[f"coverage.{v}"] = np.broadcast_to(spend.prev_coverage[:, v_i], (R, H)).copy()
    cohort_of = np.array([spend.cohorts.index(c) for c, _ in spend.pop_labels])
    for c_i, c in enumerate(spend.cohorts):
        members = np.flatnonzero(cohort_of == c_i)
        S[f"inflow.{c}"] = inflow[:, :, members].sum(axis=2)
        S[f"escalations.{c}"] = esc[:, :, members].sum(axis=2)
        S[f"exits.{c}"] = exits[:, :, members].sum(axis=2)
        S[f"crisis_person_months.{c}"] = pt[:, :, members[-1]]
        S[f"qalys.{c}"] = (pt[:, :, members] * spend.utility[members]).sum(axis=2) / 12.0
    return S


# ---------------------------------------------------------------------------------------------
# Everything together
# ---------------------------------------------------------------------------------------------


@dataclass
class IndividualResults:
    """Replications of the individual-level model, with series in place units."""

    plan: IndividualPlan
    spend: SpendPlan
    outputs: list
    series: dict                      # name -> replications x months
    seed: int
    seconds: float                    # wall time of all replications
    workers: int

    @property
    def replications(self) -> int:
        return len(self.outputs)

    @property
    def months(self) -> np.ndarray:
        return np.arange(1, self.plan.n_months + 1)

    @property
    def events(self) -> int:
        """Simulated events over all replications (arrivals, state changes, requests to
        capacity-limited services, service starts and ends, withdrawals)."""
        return int(sum(o.events for o in self.outputs))

    @property
    def events_per_second(self) -> float:
        """Throughput: events over the wall time of all replications (all workers)."""
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def events_per_cpu_second(self) -> float:
        """Events per CPU second spent in the replications (the speed of one core, robust to
        other load on the machine)."""
        busy = sum(o.cpu_seconds for o in self.outputs)
        return self.events / busy if busy > 0 else float("nan")

    def mean(self, name: str) -> np.ndarray:
        return self.series[name].mean(axis=0)

    def standard_error(self, name: str) -> np.ndarray:
        x = self.series[name]
        if x.shape[0] < 2:
            return np.full(x.shape[1], np.nan)
        return x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])

    def confidence_interval(self, name: str, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Student-t interval for the mean over replications (NaN with one replication)."""
        from scipy.stats import t as student_t

        R = self.replications
        m, se = self.mean(name), self.standard_error(name)
        if R < 2:
            return se, se
        half = student_t.ppf(0.5 + level / 2.0, R - 1) * se
        return m - half, m + half

    def waiting_table(self) -> tuple[list[str], list[list]]:
        """Waiting time (months) of served requests per capacity-limited service and month,
        pooled over replications: count, mean, median, 90th and 95th percentiles."""
        cols = ["service", "month", "served", "mean_months", "median_months", "p90_months",
                "p95_months"]
        rows = []
        for q, name in enumerate(self.spend.queued_names):
            month = np.concatenate([o.wait_month[q] for o in self.outputs])
            wait = np.concatenate([o.wait_time[q] for o in self.outputs])
            order = np.argsort(month, kind="stable")
            month, wait = month[order], wait[order]
            bounds = np.searchsorted(month, np.arange(self.plan.n_months + 1))
            for m in range(self.plan.n_months):
                w = wait[bounds[m]:bounds[m + 1]]
                if w.size:
                    stats = [float(w.mean()), *np.percentile(w, [50, 90, 95]).tolist()]
                else:
                    stats = [float("nan")] * 4
                rows.append([name, m + 1, int(w.size), *stats])
        return cols, rows

    def waiting_overall(self) -> dict:
        """Waiting-time summary over the whole horizon per capacity-limited service."""
        out = {}
        for q, name in enumerate(self.spend.queued_names):
            wait = np.concatenate([o.wait_time[q] for o in self.outputs])
            if wait.size:
                p50, p90, p95 = np.percentile(wait, [50, 90, 95]).tolist()
                out[name] = {"served": int(wait.size), "mean_months": float(wait.mean()),
                             "median_months": p50, "p90_months": p90, "p95_months": p95,
                             "share_waiting": float((wait > 0).mean())}
            else:
                out[name] = {"served": 0}
        return out

    def queue_table(self, aggregate=None) -> tuple[list[str], list[list]]:
        """Queue lengths per capacity-limited service and month, in people in the place:
        time-average (mean over replications and 95% interval), month end, month maximum,
        and the share of servers busy; with the aggregate waiting list when given."""
        from scipy.stats import t as student_t

        cols = ["service", "month", "queue_mean", "queue_mean_ci95_low", "queue_mean_ci95_high",
                "queue_month_end", "queue_max", "servers_busy_share", "requests", "withdrawn"]
        if aggregate is not None:
            cols.append("aggregate_waiting")
        rows = []
        R, w = self.replications, self.plan.weight
        tq = student_t.ppf(0.975, R - 1) if R > 1 else float("nan")
        for q, name in enumerate(self.spend.queued_names):
            qmean = np.stack([o.queue_mean[:, q] for o in self.outputs]) * w
            qend = np.stack([o.queue_end[:, q] for o in self.outputs]) * w
            qmax = np.stack([o.queue_max[:, q] for o in self.outputs]) * w
            busy = np.stack([o.busy_mean[:, q] for o in self.outputs]) / self.plan.servers[q]
            req = np.stack([o.requests[:, q] for o in self.outputs]) * w
            wd = np.stack([o.withdrawn[:, q] for o in self.outputs]) * w
            mean = qmean.mean(axis=0)
            se = qmean.std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else np.full(mean.shape, np.nan)
            agg = aggregate[f"waiting.{name}"][0] if aggregate is not None else None
            for m in range(self.plan.n_months):
                row = [name, m + 1, mean[m], mean[m] - tq * se[m], mean[m] + tq * se[m],
                       qend[:, m].mean(), qmax[:, m].mean(), busy[:, m].mean(), req[:, m].mean(),
                       wd[:, m].mean()]
                if agg is not None:
                    row.append(float(agg[m]))
                rows.append(row)
        return cols, rows


def run_individual(model, aggregate, people: int = 20_000, replications: int = 20,
                   seed: int = 0, workers: int | None = None, coverage: str = "aggregate",
                   service_time: float = 1.0, draw_requests: bool = False) -> IndividualResults:
    """Simulate ``replications`` replications of ``people`` simulated people for ``model``
    (compiled), against its aggregate run ``aggregate`` (:class:`tpsim.models.results.Results`)."""
    plan, spend = build_plan(model, aggregate, people=people, coverage=coverage,
                             service_time=service_time, draw_requests=draw_requests)
    outputs, seconds, workers = run_replications(plan, replications, seed=seed, workers=workers)
    series = place_series(plan, spend, outputs)
    return IndividualResults(plan=plan, spend=spend, outputs=outputs, series=series,
                             seed=int(seed), seconds=seconds, workers=int(workers))
