"""One replication of the individual-level model: its state object and the simpy run.

:class:`Replication` holds everything one replication changes (people, rates in force, month
accumulators, outputs); the per-event callbacks are closures over its lists, bound by
``people.py`` and ``services.py`` (a closure variable is faster to read than an attribute on
paths that run for every event). :meth:`Replication.run` places the month-0 people, steps the
bucketed calendar and returns the raw counts.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import Timeout

from tpsim.models.individual.events import (BUCKETS_PER_MONTH, ENDS, REJECTED, STALE, make_wake,
                                            stream)
from tpsim.models.individual.people import bind_people, endogenous_escalation, initial_sample
from tpsim.models.individual.plan import IndividualPlan
from tpsim.models.individual.services import bind_services, unlimited_activity, warm_start


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


class Replication:
    """The state of one replication of ``plan`` with random numbers from ``seed``."""

    def __init__(self, plan: IndividualPlan, seed) -> None:
        self.plan = plan
        self.rng = rng = np.random.Generator(np.random.PCG64(seed))
        self.env = env = simpy.Environment()
        self.H = H = plan.n_months
        self.horizon = float(H)
        self.npop, self.nq = npop, nq = plan.npop, plan.nq
        self.endogenous = plan.coverage_mode == "endogenous"
        self.next_exp = stream(rng.standard_exponential).__next__
        self.next_uni = stream(rng.random).__next__
        self._structure(plan, env)

        # rates in force this month (updated in place when a month opens)
        self.esc_rate = [0.0] * npop
        self.rec_rate = [0.0] * npop
        self.ext_rate = [0.0] * npop
        self.util_rate = [[0.0] * npop for _ in range(nq)]
        self.det_rate = [0.0] * nq
        self.svc_mean = [0.0] * nq

        # people: state and epoch per person; queued (not yet started) requests per person
        self.state: list[int] = []
        self.epoch: list[int] = []
        self.pending: dict[int, list] = {}

        # month accumulators, per state and per capacity-limited service
        self.count = [0] * npop
        self.pt_acc, self.pt_last = [0.0] * npop, [0.0] * npop
        self.m_in, self.m_esc, self.m_rec, self.m_exit = ([0] * npop for _ in range(4))
        self.m_req, self.m_start, self.m_withdrawn = ([0] * nq for _ in range(3))
        self.q_len, self.q_max, self.b_len = ([0] * nq for _ in range(3))
        self.q_int, self.q_last, self.b_int, self.b_last = ([0.0] * nq for _ in range(4))
        self.waits = [[] for _ in range(nq)]
        self.wait_months = [[] for _ in range(nq)]
        self.tally = [0, 0, 0]  # indexed by events.REJECTED, STALE, ENDS

        # outputs, month by month
        per_state = ("pop", "pt", "in", "esc", "rec", "exit")
        per_queue = ("req", "start", "withdrawn", "qmean", "qend", "qmax", "bmean")
        self.out = {k: np.zeros((H, npop)) for k in per_state}
        self.out.update({k: np.zeros((H, nq)) for k in per_queue})
        nprev = len(plan.prev_states)
        self.out["cov"] = np.zeros((H, nprev))
        self.stages = [np.full(int(plan.prev_order[v]), plan.prev_initial[v])
                       for v in range(nprev)]

        # the bucketed calendar (events.py) and the callbacks bound to this state
        self.parked: list = [[] for _ in range(H * BUCKETS_PER_MONTH)]
        self.bucket_end = [1.0 / BUCKETS_PER_MONTH]
        self.wake = make_wake(self)
        (self.queue_changed, self.busy_changed, self.on_request_clock,
         self.on_warm_start) = bind_services(self)
        self.enter, self.on_candidate, self.on_arrive = bind_people(self)

    def _structure(self, plan: IndividualPlan, env: simpy.Environment) -> None:
        """What does not change in a run: thinning bounds per state (the largest rate over the
        horizon; waiting can multiply escalation), request bounds per service and state, which
        services serve which states, and the simpy resources."""
        H, npop, nq = self.H, self.npop, self.nq
        self.util_q = util_q = (plan.react_util[:, plan.queued, :] if nq
                                else np.zeros((H, 0, npop)))
        wait_max = np.ones(npop)
        for q in range(nq):
            serves = util_q[:, q, :].max(axis=0) > 0
            wait_max[serves] *= 1.0 + plan.deterioration[:, q].max(initial=0.0)
        esc_cap = plan.escalation_unprevented if self.endogenous else plan.escalation
        self.bound = (esc_cap.max(axis=0) * wait_max + plan.recovery.max(axis=0)
                      + plan.exit.max(axis=0)).tolist()
        self.ubound = ubound = util_q.max(axis=0).tolist() if nq else []   # nq x npop
        self.queued_for = [tuple(q for q in range(nq) if ubound[q][i] > 0.0)
                           for i in range(npop)]
        self.serves_state = [set(i for i in range(npop) if ubound[q][i] > 0.0)
                             for q in range(nq)]
        self.resources = [simpy.Resource(env, capacity=int(c)) for c in plan.servers]

    # -- months -------------------------------------------------------------------------------

    def open_month(self, m: int) -> None:
        """Set the rates in force in month m and schedule its arrivals (at time m)."""
        plan = self.plan
        if self.endogenous:
            self.esc_rate[:] = endogenous_escalation(plan, m, self.count, plan.weight,
                                                     self.stages, self.out["cov"])
        else:
            self.esc_rate[:] = plan.escalation[m].tolist()
        self.rec_rate[:] = plan.recovery[m].tolist()
        self.ext_rate[:] = plan.exit[m].tolist()
        for q in range(self.nq):
            self.util_rate[q][:] = self.util_q[m, q].tolist()
            self.det_rate[q] = float(plan.deterioration[m, q])
            self.svc_mean[q] = float(plan.service_time[m, q])
        for s in range(self.npop):
            lam = plan.arrivals[m, s]
            if lam <= 0.0:
                continue
            n = int(self.rng.poisson(lam))
            if not n:
                continue
            k = plan.arrival_growth[m, s]
            u = self.rng.random(n)
            if abs(k) > 1e-12:  # density proportional to exp(k t) within the month
                offsets = np.log1p(u * math.expm1(k)) / k
            else:
                offsets = u
            now = float(m)
            for off in offsets.tolist():
                self.wake(now + off, now, self.on_arrive, s)

    def close_month(self, m: int, now: float) -> None:
        """Record month m's counts and time averages and reset the accumulators."""
        out, count, pt_acc, pt_last = self.out, self.count, self.pt_acc, self.pt_last
        for s in range(self.npop):
            pt_acc[s] += count[s] * (now - pt_last[s])
            pt_last[s] = now
        for key, values in (("pt", pt_acc), ("pop", count), ("in", self.m_in),
                            ("esc", self.m_esc), ("rec", self.m_rec), ("exit", self.m_exit)):
            out[key][m] = values
        for s in range(self.npop):
            pt_acc[s] = 0.0
            self.m_in[s] = self.m_esc[s] = self.m_rec[s] = self.m_exit[s] = 0
        for q in range(self.nq):
            self.queue_changed(q, now)
            self.busy_changed(q, now)
            for key, values in (("qmean", self.q_int), ("bmean", self.b_int),
                                ("qend", self.q_len), ("qmax", self.q_max),
                                ("req", self.m_req), ("start", self.m_start),
                                ("withdrawn", self.m_withdrawn)):
                out[key][m, q] = values[q]
            self.q_int[q] = self.b_int[q] = 0.0
            self.q_max[q] = self.q_len[q]
            self.m_req[q] = self.m_start[q] = self.m_withdrawn[q] = 0

    def ticks(self):
        """Open each bucket at its start; at whole months also close the month just ended and
        set the next month's rates (time steps of 1/4 month add up exactly in binary)."""
        env, parked = self.env, self.parked
        width = 1.0 / BUCKETS_PER_MONTH
        for k in range(1, self.H * BUCKETS_PER_MONTH):
            yield env.timeout(width)
            now = env.now
            self.bucket_end[0] = (k + 1) * width
            for at, callback, value in parked[k]:
                Timeout(env, at - now, value).callbacks.append(callback)
            parked[k] = None
            if k % BUCKETS_PER_MONTH == 0:
                m = k // BUCKETS_PER_MONTH
                self.close_month(m - 1, now)
                self.open_month(m)

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> ReplicationOutput:
        """Simulate the horizon and return the raw counts."""
        started, cpu_started = time.perf_counter(), time.process_time()
        initial_sample(self)
        self.open_month(0)
        warm_start(self)
        self.env.process(self.ticks())
        self.env.run(until=self.horizon)
        self.close_month(self.H - 1, self.horizon)

        out, tally = self.out, self.tally
        activity = unlimited_activity(self.plan, out["pt"], out["start"], self.rng)
        counters = {"arrivals": int(out["in"].sum()), "escalations": int(out["esc"].sum()),
                    "recoveries": int(out["rec"].sum()), "exits": int(out["exit"].sum()),
                    "requests": int(out["req"].sum()),
                    "service_starts": int(out["start"].sum()),
                    "service_ends": tally[ENDS], "withdrawals": int(out["withdrawn"].sum())}
        events = sum(counters.values())
        counters.update(rejected_candidates=tally[REJECTED], stale_events=tally[STALE])
        return ReplicationOutput(
            population=out["pop"], person_months=out["pt"], inflow=out["in"],
            escalations=out["esc"], recoveries=out["rec"], exits=out["exit"],
            activity=activity, requests=out["req"], withdrawn=out["withdrawn"],
            queue_mean=out["qmean"], queue_end=out["qend"], queue_max=out["qmax"],
            busy_mean=out["bmean"],
            wait_month=[np.asarray(w, dtype=np.int32) for w in self.wait_months],
            wait_time=[np.asarray(w, dtype=np.float64) for w in self.waits],
            coverage=out["cov"], events=int(events), event_counts=counters,
            seconds=time.perf_counter() - started,
            cpu_seconds=time.process_time() - cpu_started)


def simulate_replication(plan: IndividualPlan, seed) -> ReplicationOutput:
    """Simulate one replication of ``plan`` with random numbers from ``seed`` (an int or a
    :class:`numpy.random.SeedSequence`). Deterministic given the seed."""
    return Replication(plan, seed).run()
