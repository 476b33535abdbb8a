"""People in one replication: state changes by thinning, arrivals, and coverage from people.

A person is not a generator process but a pair of plain callbacks on simpy ``Timeout`` events
(``on_candidate`` for state changes; request clocks are in ``services.py``), so only people
about to do something cost anything. Candidate times are drawn at a bound rate that is never
exceeded over the horizon and accepted with probability rate(t) / bound; the destination is
drawn from the competing risks (escalation, recovery, exit). A person's pending events carry
an epoch number; a state change increments it, so events of the old state are dropped when
they fire (lazy cancellation).
"""
from __future__ import annotations

import numpy as np
from simpy.events import Timeout

from tpsim.models.individual.events import BUCKETS_PER_MONTH, REJECTED, STALE
from tpsim.models.individual.plan import IndividualPlan

_DELAY_SUBSTEPS = 32  # Euler sub-steps per month for the endogenous coverage delay chain


def bind_people(rep):
    """The people callbacks of replication ``rep``, as closures over its state lists.

    Returns ``(enter, on_candidate, on_arrive)``. ``enter`` and ``on_candidate`` run for almost
    every event, so scheduling is written out in them rather than calling ``wake`` (a call
    costs more than the two comparisons it saves).
    """
    waiting_multiplier, withdraw = _bind_queue_side(rep)
    enter, on_candidate = _bind_state_changes(rep, waiting_multiplier, withdraw)
    on_arrive = _bind_arrivals(rep, enter)
    return enter, on_candidate, on_arrive


def _bind_queue_side(rep):
    """``(waiting_multiplier, withdraw)``: how queueing for services changes a person's
    escalation rate, and the withdrawal of its queued requests when it changes state."""
    pending, det_rate, serves_state = rep.pending, rep.det_rate, rep.serves_state
    queue_changed, m_withdrawn = rep.queue_changed, rep.m_withdrawn

    def waiting_multiplier(p: int) -> float:
        """Escalation multiplier of person p while queued: (1 + deterioration) per service."""
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

    return waiting_multiplier, withdraw


def _bind_state_changes(rep, waiting_multiplier, withdraw):
    """``(enter, on_candidate)``: scheduling a person's thinning candidates and request clocks
    in a state (times in months), and accepting a candidate as escalation, recovery or exit."""
    env, parked, bucket_end, horizon = rep.env, rep.parked, rep.bucket_end, rep.horizon
    wake, next_exp, next_uni = rep.wake, rep.next_exp, rep.next_uni
    bound, ubound, queued_for = rep.bound, rep.ubound, rep.queued_for
    esc_rate, rec_rate, ext_rate = rep.esc_rate, rep.rec_rate, rep.ext_rate
    state, epoch, pending, tally = rep.state, rep.epoch, rep.pending, rep.tally
    count, pt_acc, pt_last = rep.count, rep.pt_acc, rep.pt_last
    m_esc, m_rec, m_exit = rep.m_esc, rep.m_rec, rep.m_exit
    on_request_clock = rep.on_request_clock
    buckets_per_month = BUCKETS_PER_MONTH

    def schedule_candidate(p: int, ep: int, s: int, now: float) -> None:
        """The next thinning candidate of person p (in state s, epoch ep) after ``now``."""
        b = bound[s]
        if b > 0.0:
            at = now + next_exp() / b
            if at < bucket_end[0]:
                Timeout(env, at - now, (p, ep, at)).callbacks.append(on_candidate)
            elif at < horizon:
                parked[int(at * buckets_per_month)].append((at, on_candidate, (p, ep, at)))

    def enter(p: int, s: int, now: float) -> None:
        """Person p is in state s from ``now``: schedule its state change and request clocks."""
        ep = epoch[p]
        # schedule_candidate(p, ep, s, now), written out: this runs for every arrival
        b = bound[s]
        if b > 0.0:
            at = now + next_exp() / b
            if at < bucket_end[0]:
                Timeout(env, at - now, (p, ep, at)).callbacks.append(on_candidate)
            elif at < horizon:
                parked[int(at * buckets_per_month)].append((at, on_candidate, (p, ep, at)))
        for q in queued_for[s]:
            at = now + next_exp() / ubound[q][s]
            wake(at, now, on_request_clock, (p, ep, q, at))

    def on_candidate(event) -> None:
        """A thinning candidate of person p: a state change with probability rate / bound."""
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
                if at < bucket_end[0]:
                    Timeout(env, at - now, (p, ep, at)).callbacks.append(on_candidate)
                elif at < horizon:
                    parked[int(at * buckets_per_month)].append((at, on_candidate, (p, ep, at)))
            for q in queued_for[new]:
                at = now + next_exp() / ubound[q][new]
                wake(at, now, on_request_clock, (p, ep, q, at))

    return enter, on_candidate


def _bind_arrivals(rep, enter):
    """``on_arrive``: a new person joins the model in a state and starts its clocks."""
    env, state, epoch = rep.env, rep.state, rep.epoch
    count, pt_acc, pt_last, m_in = rep.count, rep.pt_acc, rep.pt_last, rep.m_in

    def on_arrive(event) -> None:
        """A new person arrives in state ``event._value``."""
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

    return on_arrive


def initial_sample(rep) -> None:
    """Place the month-0 people: stochastic rounding of initial / weight keeps every state's
    expectation exact. Their events are scheduled before month 0's rates are set: candidates
    are drawn at the bound rates, and month 0's endogenous coverage needs the people in place."""
    expected = rep.plan.initial / rep.plan.weight
    n0 = (np.floor(expected).astype(np.int64)
          + (rep.rng.random(rep.npop) < expected - np.floor(expected)))
    state, epoch, count, enter = rep.state, rep.epoch, rep.count, rep.enter
    for s in range(rep.npop):
        for _ in range(int(n0[s])):
            p = len(state)
            state.append(s)
            epoch.append(0)
            count[s] += 1
            enter(p, s, 0.0)


def endogenous_escalation(plan: IndividualPlan, m: int, count: list, weight: float,
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


