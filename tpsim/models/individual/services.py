"""Reactive services in one replication: FIFO queues at capacity-limited services and the
activity of services without a capacity limit.

A capacity-limited service is a :class:`simpy.Resource` with as many servers as the plan
gives; each person in a state the service serves carries a request clock (thinned at the
service's largest utilisation rate for the state). Requests that cannot start at once queue
and are withdrawn when the person leaves the service's states (``people.py``).
"""
from __future__ import annotations

import numpy as np

from tpsim.models.individual.events import ENDS, REJECTED, STALE


def bind_services(rep):
    """The service callbacks of replication ``rep``, as closures over its state lists (closure
    variables are faster to read than attributes on these per-event paths).

    Returns ``(queue_changed, busy_changed, on_request_clock, on_warm_start)``.
    """
    env, resources, wake = rep.env, rep.resources, rep.wake
    next_exp, next_uni = rep.next_exp, rep.next_uni
    ubound, util_rate, svc_mean = rep.ubound, rep.util_rate, rep.svc_mean
    epoch, state, pending, tally = rep.epoch, rep.state, rep.pending, rep.tally
    m_req, m_start = rep.m_req, rep.m_start
    q_len, q_int, q_last, q_max = rep.q_len, rep.q_int, rep.q_last, rep.q_max
    b_len, b_int, b_last = rep.b_len, rep.b_int, rep.b_last
    waits, wait_months = rep.waits, rep.wait_months

    def queue_changed(q: int, now: float) -> None:
        """Integrate queue q's length up to ``now`` and read its new length."""
        q_int[q] += q_len[q] * (now - q_last[q])
        q_last[q] = now
        n = len(resources[q].put_queue)
        q_len[q] = n
        if n > q_max[q]:
            q_max[q] = n

    def busy_changed(q: int, now: float) -> None:
        """Integrate service q's busy servers up to ``now`` and read the new number."""
        b_int[q] += b_len[q] * (now - b_last[q])
        b_last[q] = now
        b_len[q] = len(resources[q].users)

    def on_request_clock(event) -> None:
        """A request candidate of person p for service q: accept it at utilisation / bound."""
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

    return queue_changed, busy_changed, on_request_clock, on_warm_start


def warm_start(rep) -> None:
    """Capacity-limited services start in their steady state rather than idle: Poisson(demand x
    mean service time) services already running (at most every server; by memorylessness each
    has an exponential remaining time). They are not month 1's activity, and no queue is
    carried in (the aggregate model's waiting list starts at 0 too)."""
    for q in range(rep.nq):
        demand = sum(rep.util_rate[q][s] * rep.count[s] for s in range(rep.npop))
        for _ in range(min(int(rep.plan.servers[q]),
                           int(rep.rng.poisson(demand * rep.svc_mean[q])))):
            req = rep.resources[q].request()
            req.q = q
            req.callbacks.append(rep.on_warm_start)


def unlimited_activity(plan, person_months: np.ndarray, started: np.ndarray, rng) -> np.ndarray:
    """Activity (H x nreact, simulated events) of every reactive service.

    Requests to services without a capacity limit never interact: their number in a month is
    Poisson(sum of utilisation x person-months) given the simulated people; by default the DES
    reports that conditional expectation (same mean, less noise). Capacity-limited services
    report their service starts ``started`` (H x nq).
    """
    H, nreact = plan.n_months, plan.react_util.shape[1]
    activity = np.zeros((H, nreact))
    free = np.ones(nreact, dtype=bool)
    free[plan.queued] = False
    if free.any():
        mean = np.einsum("mrs,ms->mr", plan.react_util[:, free, :], person_months)
        activity[:, free] = rng.poisson(mean) if plan.draw_requests else mean
    activity[:, plan.queued] = started
    return activity
