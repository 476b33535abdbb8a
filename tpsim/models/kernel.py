"""The numba kernel: simulate many parameter sets of one compiled model in one call.

Design (see docs/model.md for every equation):

* Runs are processed in blocks of ``LANES`` runs. Every array inside a block is shaped
  ``[item, LANES]`` and every arithmetic loop has the lane loop innermost, so LLVM vectorises
  the model across runs (SIMD) while threads (``prange``) take different chunks of blocks.
* All buffers are allocated once per chunk, before the time loop.
* The kernel knows nothing of YAML or files: it takes flat arrays (``theta`` parameters per run,
  structure index arrays, offsets from :mod:`tpsim.models.layout`) and writes into
  preallocated outputs: the final state per run (all cumulative accumulators, i.e. totals) and,
  optionally, month-end snapshots of chosen state entries.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .layout import (
    P_INITIAL, P_INFLOW, P_ESC, P_REC, P_EXIT, P_INFLOW_GROWTH,
    P_PV_UNIT_COST, P_PV_PLACES, P_PV_UPTAKE, P_PV_EFFECT, P_PV_TIME_TO_EFFECT,
    P_PV_COMM_PLACES, P_PV_COMM_UNIT_COST, P_PV_COMM_RAMP, P_PV_POOL_SHARE,
    P_RV_UNIT_COST, P_RV_FIXED_SHARE, P_RV_DECOMMISSION, P_RV_CAPACITY, P_RV_QUEUE_CLEAR,
    P_RV_DETERIORATION, P_UTIL,
    P_AG_BUDGET, P_AG_GROWTH, P_AG_RESERVES, P_AG_OVERHEAD, P_AG_PERCEPTION, P_AG_CUT_RATE,
    P_AG_RESTORE_RATE, P_AG_FLOOR, P_AG_EFFICIENCY, P_AG_EROSION, P_AG_CONTRIBUTION, P_GLOBAL,
    G_LOOP_DOOM, G_LOOP_REINVEST, G_LOOP_WAITING, G_LOOP_EROSION, G_POOL_ON, G_POOL_START,
    G_CAPTURE, G_REINVEST_DELAY, G_BASELINE_GROWTH, G_ADJUST_TIME, G_SPEND_DOWN, G_SETUP_COST,
    G_SETUP_MONTHS, G_DR_COST, G_DR_MONTHS, G_OH_REDUCTION, G_OH_RAMP,
    X_POP, X_STAGE, X_FUNDING, X_POOL_PLACES, X_COMMUNITY, X_WAITING, X_CAPBASE, X_RESERVES,
    X_PERCEIVED, X_CAPTURED, X_POOL,
    A_INFLOW, A_EXIT, A_ESC, A_PERSON_MONTHS, A_ACT_PREV, A_ACT_REACT, A_SPEND_PREV,
    A_SPEND_REACT, A_VALUE_REACT, A_AG_SPEND, A_AG_OVERHEAD, A_AG_CONTRIB, A_AG_CAPTURE,
    A_BUDGET, A_POOL_IN, A_REINVESTED, A_POOL_SPEND, A_SETUP, A_DOUBLE_RUNNING, A_DISC_AG,
    A_DISC_TOTAL, A_DISC_QALY, A_TOTAL,
)

LANES = 32
"""Runs simulated together in one SIMD block."""

_TINY = 1e-12
_JIT = dict(cache=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"})


@njit(**_JIT)
def _derivative(t, x, th, dx, aux, growth, dt, disc, disc_h, ref_norm,
                po, xo, nco, npop, nprev, nreact, nag,
                pop_cohort, pop_first, pop_last, pop_utility,
                prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                react_agency, react_ptr, react_pop,
                pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag):
    """Write dx/dt at time ``t`` (months) for one block of lanes.

    ``aux`` is scratch space laid out as rows: [0:npop) escalation multiplier, then eligible
    people per preventive service, coverage per preventive service, served people per reactive
    service, agency service spend, agency reactive cash spend, agency spend, then one row of
    total resource spend. Rows used after the call: coverage, activity via dx, agency spend.
    """
    L = x.shape[1]
    g = po[P_GLOBAL]
    a_mult = 0
    a_elig = npop
    a_cov = a_elig + nprev
    a_served = a_cov + nprev
    a_serv_spend = a_served + nreact
    a_react_cash = a_serv_spend + nag
    a_ag_spend = a_react_cash + nag
    a_pool_cost = a_ag_spend + nag  # community cost paid by the pool (one row)

    dx[:, :] = 0.0
    for r in range(aux.shape[0]):
        for l in range(L):
            aux[r, l] = 0.0
    for i in range(npop):
        for l in range(L):
            aux[a_mult + i, l] = 1.0

    # people eligible for each preventive service / served by each reactive service
    for v in range(nprev):
        for k in range(prev_ptr[v], prev_ptr[v + 1]):
            i = prev_pop[k]
            for l in range(L):
                aux[a_elig + v, l] += max(x[xo[X_POP] + i, l], 0.0)
    for r in range(nreact):
        for k in range(react_ptr[r], react_ptr[r + 1]):
            i = react_pop[k]
            for l in range(L):
                aux[a_served + r, l] += max(x[xo[X_POP] + i, l], 0.0)

    # ---- pool timing (per lane) -----------------------------------------------------------
    # (computed inline below from theta; the pool is active from G_POOL_START)

    # ---- preventive services --------------------------------------------------------------
    for v in range(nprev):
        a = prev_agency[v]
        order = prev_order[v]
        s0 = xo[X_STAGE] + prev_stage0[v]
        for l in range(L):
            pool_active = th[g + G_POOL_ON, l] * (t >= th[g + G_POOL_START, l])
            pooled = pool_active * (th[po[P_PV_POOL_SHARE] + v, l] > 0.0)
            efficiency = growth[nco + nag + a, l]
            unit_cost = th[po[P_PV_UNIT_COST] + v, l] * efficiency
            agency_places = x[xo[X_FUNDING] + v, l] * th[po[P_PV_PLACES] + v, l]
            pool_places = x[xo[X_POOL_PLACES] + v, l]
            community = x[xo[X_COMMUNITY] + v, l]
            places = agency_places + pool_places + community
            eligible = aux[a_elig + v, l]
            uptake = th[po[P_PV_UPTAKE] + v, l]
            if eligible > _TINY:
                coverage = min(uptake, places / eligible)
            elif places > 0.0:
                coverage = uptake
            else:
                coverage = 0.0
            aux[a_cov + v, l] = coverage
            # n-th order delay of coverage to effect
            rate = order / th[po[P_PV_TIME_TO_EFFECT] + v, l]
            dx[s0, l] = (coverage - x[s0, l]) * rate
            for k in range(1, order):
                dx[s0 + k, l] = (x[s0 + k - 1, l] - x[s0 + k, l]) * rate
            # community places ramp towards their target
            dx[xo[X_COMMUNITY] + v, l] = (th[po[P_PV_COMM_PLACES] + v, l] - community) / \
                th[po[P_PV_COMM_RAMP] + v, l]
            community_cost = th[po[P_PV_COMM_UNIT_COST] + v, l] * community
            agency_cost = unit_cost * agency_places + (1.0 - pooled) * community_cost
            pool_cost = unit_cost * pool_places + pooled * community_cost
            aux[a_serv_spend + a, l] += agency_cost
            aux[a_pool_cost, l] += pooled * community_cost
            dx[xo[A_ACT_PREV] + v, l] = coverage * eligible
            dx[xo[A_SPEND_PREV] + v, l] = agency_cost + pool_cost

    # ---- reactive services ----------------------------------------------------------------
    for r in range(nreact):
        a = react_agency[r]
        for l in range(L):
            demand = 0.0
            for k in range(react_ptr[r], react_ptr[r + 1]):
                demand += th[po[P_UTIL] + k, l] * max(x[xo[X_POP] + react_pop[k], l], 0.0)
            waiting = max(x[xo[X_WAITING] + r, l], 0.0)
            activity = min(th[po[P_RV_CAPACITY] + r, l],
                           demand + waiting / th[po[P_RV_QUEUE_CLEAR] + r, l])
            dx[xo[X_WAITING] + r, l] = demand - activity
            capbase = x[xo[X_CAPBASE] + r, l]
            dx[xo[X_CAPBASE] + r, l] = (activity - capbase) / th[po[P_RV_DECOMMISSION] + r, l]
            unit_cost = th[po[P_RV_UNIT_COST] + r, l] * growth[nco + nag + a, l]
            fixed = th[po[P_RV_FIXED_SHARE] + r, l]
            cash = unit_cost * ((1.0 - fixed) * activity + fixed * max(activity, capbase))
            aux[a_serv_spend + a, l] += cash
            aux[a_react_cash + a, l] += cash
            dx[xo[A_ACT_REACT] + r, l] = activity
            dx[xo[A_SPEND_REACT] + r, l] = cash
            dx[xo[A_VALUE_REACT] + r, l] = unit_cost * activity

    # ---- escalation multipliers: prevention, waiting, quality erosion ---------------------
    for i in range(npop):
        for k in range(pop_prev_ptr[i], pop_prev_ptr[i + 1]):
            v = pop_prev[k]
            last = xo[X_STAGE] + prev_stage0[v] + prev_order[v] - 1
            for l in range(L):
                aux[a_mult + i, l] *= 1.0 - th[po[P_PV_EFFECT] + v, l] * x[last, l]
        for k in range(pop_react_ptr[i], pop_react_ptr[i + 1]):
            r = pop_react[k]
            for l in range(L):
                served = aux[a_served + r, l]
                share_waiting = 0.0
                if served > _TINY:
                    share_waiting = min(1.0, max(x[xo[X_WAITING] + r, l], 0.0) / served)
                aux[a_mult + i, l] *= 1.0 + th[g + G_LOOP_WAITING, l] * \
                    th[po[P_RV_DETERIORATION] + r, l] * share_waiting
        for k in range(pop_ag_ptr[i], pop_ag_ptr[i + 1]):
            a = pop_ag[k]
            for l in range(L):
                aux[a_mult + i, l] *= 1.0 + th[g + G_LOOP_EROSION, l] * \
                    th[po[P_AG_EROSION] + a, l] * (1.0 - growth[nco + nag + a, l])

    # ---- people ---------------------------------------------------------------------------
    for i in range(npop):
        c = pop_cohort[i]
        p = xo[X_POP] + i
        for l in range(L):
            people = max(x[p, l], 0.0)
            esc = 0.0
            if not pop_last[i]:
                esc = th[po[P_ESC] + i, l] * aux[a_mult + i, l] * people
            rec = 0.0
            if not pop_first[i]:
                rec = th[po[P_REC] + i, l] * people
            ext = th[po[P_EXIT] + i, l] * people
            out = esc + rec + ext
            if out * dt > people:  # outflows never exceed the stock
                scale = people / (out * dt)
                esc *= scale
                rec *= scale
                ext *= scale
            inflow = th[po[P_INFLOW] + i, l] * growth[c, l]
            dx[p, l] += inflow - esc - rec - ext
            if not pop_last[i]:
                dx[p + 1, l] += esc
            if not pop_first[i]:
                dx[p - 1, l] += rec
            dx[xo[A_INFLOW] + c, l] += inflow
            dx[xo[A_EXIT] + c, l] += ext
            dx[xo[A_ESC] + c, l] += esc
            dx[xo[A_PERSON_MONTHS] + i, l] = people
            dx[xo[A_DISC_QALY], l] += pop_utility[i] * people / 12.0 * disc_h

    # ---- agencies: overhead, pool contributions, captured savings, budgets, policy --------
    for l in range(L):
        aux[a_pool_cost + 1, l] = 0.0  # total pool income this instant
    for a in range(nag):
        for l in range(L):
            pool_on = th[g + G_POOL_ON, l]
            start = th[g + G_POOL_START, l]
            pool_active = pool_on * (t >= start)
            participates = th[po[P_AG_CONTRIBUTION] + a, l] > 0.0
            ramp = min(1.0, max(0.0, (t - start) / th[g + G_OH_RAMP, l]))
            overhead_rate = th[po[P_AG_OVERHEAD] + a, l] * \
                (1.0 - pool_active * participates * th[g + G_OH_REDUCTION, l] * ramp)
            service_spend = aux[a_serv_spend + a, l]
            overhead = overhead_rate * service_spend
            budget = th[po[P_AG_BUDGET] + a, l] * growth[nco + a, l]
            contribution = pool_active * th[po[P_AG_CONTRIBUTION] + a, l] * budget
            reinvest_on = pool_active * th[g + G_LOOP_REINVEST, l]
            captured = x[xo[X_CAPTURED] + a, l]
            capture_paid = reinvest_on * captured / th[g + G_REINVEST_DELAY, l]
            baseline = ref_norm[a, l] * growth[nco + 2 * nag, l]
            savings = max(0.0, baseline - aux[a_react_cash + a, l])
            capture_in = reinvest_on * participates * th[g + G_CAPTURE, l] * savings
            dx[xo[X_CAPTURED] + a, l] = capture_in - capture_paid
            spend = service_spend + overhead + contribution + capture_paid
            aux[a_ag_spend + a, l] = spend
            aux[a_pool_cost + 1, l] += contribution + capture_paid
            dx[xo[X_RESERVES] + a, l] = budget - spend
            dx[xo[X_PERCEIVED] + a, l] = (spend - x[xo[X_PERCEIVED] + a, l]) / \
                th[po[P_AG_PERCEPTION] + a, l]
            dx[xo[A_AG_SPEND] + a, l] = spend
            dx[xo[A_AG_OVERHEAD] + a, l] = overhead
            dx[xo[A_AG_CONTRIB] + a, l] = contribution
            dx[xo[A_AG_CAPTURE] + a, l] = capture_paid
            dx[xo[A_BUDGET] + a, l] = budget
            dx[xo[A_DISC_AG] + a, l] = spend * disc
            dx[xo[A_TOTAL], l] += service_spend + overhead
            dx[xo[A_REINVESTED], l] += capture_paid
            dx[xo[A_POOL_IN], l] += contribution + capture_paid

    # siloed cuts (R1 doom loop) and slow restoration of preventive funding
    for v in range(nprev):
        a = prev_agency[v]
        for l in range(L):
            budget = th[po[P_AG_BUDGET] + a, l] * growth[nco + a, l]
            perceived = x[xo[X_PERCEIVED] + a, l]
            if budget > _TINY:
                pressure = perceived / budget
            else:
                pressure = 1e6
            pool_active = th[g + G_POOL_ON, l] * (t >= th[g + G_POOL_START, l])
            ring_fenced = pool_active * (th[po[P_PV_POOL_SHARE] + v, l] > 0.0)
            funding = x[xo[X_FUNDING] + v, l]
            floor = th[po[P_AG_FLOOR] + a, l]
            cut = min(th[po[P_AG_CUT_RATE] + a, l] * max(0.0, pressure - 1.0), 1.0 / dt) * \
                max(0.0, funding - floor)
            restore = 0.0
            if pressure < 1.0:
                restore = th[po[P_AG_RESTORE_RATE] + a, l] * max(0.0, 1.0 - funding)
            dx[xo[X_FUNDING] + v, l] = th[g + G_LOOP_DOOM, l] * (1.0 - ring_fenced) * \
                (restore - cut)

    # ---- the pool (R2): commissioning extra places, set-up, double running ----------------
    for l in range(L):
        pool_on = th[g + G_POOL_ON, l]
        start = th[g + G_POOL_START, l]
        pool_active = pool_on * (t >= start)
        setup = 0.0
        if pool_active > 0.0 and t < start + th[g + G_SETUP_MONTHS, l]:
            setup = th[g + G_SETUP_COST, l] / th[g + G_SETUP_MONTHS, l]
        double_running = 0.0
        if pool_active > 0.0 and t < start + th[g + G_DR_MONTHS, l]:
            double_running = th[g + G_DR_COST, l]
        income = aux[a_pool_cost + 1, l]
        balance = x[xo[X_POOL], l]
        community_cost = aux[a_pool_cost, l]
        available = max(0.0, income + balance / th[g + G_SPEND_DOWN, l] - setup
                        - double_running - community_cost)
        places_cost = 0.0
        for v in range(nprev):
            a = prev_agency[v]
            unit_cost = th[po[P_PV_UNIT_COST] + v, l] * growth[nco + nag + a, l]
            share = th[po[P_PV_POOL_SHARE] + v, l]
            target = 0.0
            if unit_cost > _TINY:
                target = pool_active * share * available / unit_cost
            places = x[xo[X_POOL_PLACES] + v, l]
            dx[xo[X_POOL_PLACES] + v, l] = (target - places) / th[g + G_ADJUST_TIME, l]
            places_cost += unit_cost * places
        pool_spend = places_cost + setup + double_running + community_cost
        dx[xo[X_POOL], l] = income - pool_spend
        dx[xo[A_POOL_SPEND], l] = pool_spend
        dx[xo[A_SETUP], l] = setup
        dx[xo[A_DOUBLE_RUNNING], l] = double_running
        dx[xo[A_TOTAL], l] += pool_spend
        dx[xo[A_DISC_TOTAL], l] = dx[xo[A_TOTAL], l] * disc


@njit(**_JIT)
def _growth_steps(th, po, nco, nag, dt, step_full, step_half):
    """Per-lane growth factors over one step and half a step (exact compound growth)."""
    L = th.shape[1]
    g = po[P_GLOBAL]
    for l in range(L):
        for c in range(nco):
            rate = np.log1p(th[po[P_INFLOW_GROWTH] + c, l]) / 12.0
            step_full[c, l] = np.exp(rate * dt)
            step_half[c, l] = np.exp(rate * dt * 0.5)
        for a in range(nag):
            rate = np.log1p(th[po[P_AG_GROWTH] + a, l]) / 12.0
            step_full[nco + a, l] = np.exp(rate * dt)
            step_half[nco + a, l] = np.exp(rate * dt * 0.5)
            rate = np.log1p(-th[po[P_AG_EFFICIENCY] + a, l]) / 12.0
            step_full[nco + nag + a, l] = np.exp(rate * dt)
            step_half[nco + nag + a, l] = np.exp(rate * dt * 0.5)
        rate = np.log1p(th[g + G_BASELINE_GROWTH, l]) / 12.0
        step_full[nco + 2 * nag, l] = np.exp(rate * dt)
        step_half[nco + 2 * nag, l] = np.exp(rate * dt * 0.5)


@njit(**_JIT)
def _simulate_block(run0, nrun, theta, ev_month, ev_param, ev_value, dt, steps_per_month,
                    n_months, rk4, disc_month, disc_health_month, record_idx,
                    out_final, out_traj, po, xo, nco, npop, nprev, nreact, nag, naux,
                    pop_cohort, pop_first, pop_last, pop_utility,
                    prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                    react_agency, react_ptr, react_pop,
                    pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag,
                    th, x, xt, k1, k2, k3, k4, aux, growth, gtmp, step_full, step_half,
                    ref_norm):
    """Simulate runs ``run0 .. run0+nrun-1`` (nrun <= LANES) using the given buffers."""
    L = th.shape[1]
    nparam = theta.shape[1]
    nstate = x.shape[0]
    nev = ev_month.shape[0]
    nrec = record_idx.shape[0]
    ngrowth = growth.shape[0]
    # lanes beyond nrun repeat the last run (their results are not written)
    for j in range(nparam):
        for l in range(L):
            th[j, l] = theta[run0 + min(l, nrun - 1), j]

    # initial state
    x[:, :] = 0.0
    for j in range(ngrowth):
        for l in range(L):
            growth[j, l] = 1.0
    for i in range(npop):
        for l in range(L):
            x[xo[X_POP] + i, l] = th[po[P_INITIAL] + i, l]
    for v in range(nprev):
        for l in range(L):
            x[xo[X_FUNDING] + v, l] = 1.0
    for a in range(nag):
        for l in range(L):
            x[xo[X_RESERVES] + a, l] = th[po[P_AG_RESERVES] + a, l]
            ref_norm[a, l] = 0.0
    # first pass: coverage and activity at month 0 set the delay stages (services already
    # running are in steady state) and the capacity cost base
    _derivative(0.0, x, th, k1, aux, growth, dt, 1.0, 1.0, ref_norm, po, xo, nco, npop, nprev,
                nreact, nag, pop_cohort, pop_first, pop_last, pop_utility, prev_agency,
                prev_order, prev_stage0, prev_ptr, prev_pop, react_agency, react_ptr,
                react_pop, pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag)
    a_cov = npop + nprev
    for v in range(nprev):
        s0 = xo[X_STAGE] + prev_stage0[v]
        for k in range(prev_order[v]):
            for l in range(L):
                x[s0 + k, l] = aux[a_cov + v, l]
    for r in range(nreact):
        for l in range(L):
            x[xo[X_CAPBASE] + r, l] = k1[xo[A_ACT_REACT] + r, l]
    # second pass: perceived spend starts at actual spend; savings baseline at month 0
    _derivative(0.0, x, th, k1, aux, growth, dt, 1.0, 1.0, ref_norm, po, xo, nco, npop, nprev,
                nreact, nag, pop_cohort, pop_first, pop_last, pop_utility, prev_agency,
                prev_order, prev_stage0, prev_ptr, prev_pop, react_agency, react_ptr,
                react_pop, pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag)
    a_react_cash = npop + 2 * nprev + nreact + nag
    a_ag_spend = a_react_cash + nag
    for a in range(nag):
        for l in range(L):
            x[xo[X_PERCEIVED] + a, l] = aux[a_ag_spend + a, l]
            ref_norm[a, l] = aux[a_react_cash + a, l]

    for j in range(nrec):
        for l in range(nrun):
            out_traj[run0 + l, 0, j] = x[record_idx[j], l]

    _growth_steps(th, po, nco, nag, dt, step_full, step_half)
    g = po[P_GLOBAL]
    ev = 0
    n_steps = n_months * steps_per_month
    for step in range(n_steps):
        t = step * dt
        # time-keyed changes take effect at the first step at or after their month
        changed = False
        while ev < nev and ev_month[ev] <= t + 1e-9:
            for l in range(L):
                th[ev_param[ev], l] = ev_value[run0 + min(l, nrun - 1), ev]
            ev += 1
            changed = True
        if changed:
            _growth_steps(th, po, nco, nag, dt, step_full, step_half)
        month = step // steps_per_month
        disc = disc_month[month]
        disc_h = disc_health_month[month]

        _derivative(t, x, th, k1, aux, growth, dt, disc, disc_h, ref_norm, po, xo, nco, npop,
                    nprev, nreact, nag, pop_cohort, pop_first, pop_last, pop_utility,
                    prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop, react_agency,
                    react_ptr, react_pop, pop_prev_ptr, pop_prev, pop_react_ptr, pop_react,
                    pop_ag_ptr, pop_ag)
        # the savings baseline follows actual reactive spend until the pool opens
        for a in range(nag):
            for l in range(L):
                if t <= th[g + G_POOL_START, l]:
                    ref_norm[a, l] = aux[a_react_cash + a, l] / growth[ngrowth - 1, l]
        if not rk4:
            for j in range(nstate):
                for l in range(L):
                    x[j, l] += dt * k1[j, l]
            for j in range(ngrowth):
                for l in range(L):
                    growth[j, l] *= step_full[j, l]
        else:
            half = 0.5 * dt
            for j in range(ngrowth):
                for l in range(L):
                    gtmp[j, l] = growth[j, l]
                    growth[j, l] = gtmp[j, l] * step_half[j, l]
            for j in range(nstate):
                for l in range(L):
                    xt[j, l] = x[j, l] + half * k1[j, l]
            _derivative(t + half, xt, th, k2, aux, growth, dt, disc, disc_h, ref_norm, po, xo,
                        nco, npop, nprev, nreact, nag, pop_cohort, pop_first, pop_last,
                        pop_utility, prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                        react_agency, react_ptr, react_pop, pop_prev_ptr, pop_prev,
                        pop_react_ptr, pop_react, pop_ag_ptr, pop_ag)
            for j in range(nstate):
                for l in range(L):
                    xt[j, l] = x[j, l] + half * k2[j, l]
            _derivative(t + half, xt, th, k3, aux, growth, dt, disc, disc_h, ref_norm, po, xo,
                        nco, npop, nprev, nreact, nag, pop_cohort, pop_first, pop_last,
                        pop_utility, prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                        react_agency, react_ptr, react_pop, pop_prev_ptr, pop_prev,
                        pop_react_ptr, pop_react, pop_ag_ptr, pop_ag)
            for j in range(ngrowth):
                for l in range(L):
                    growth[j, l] = gtmp[j, l] * step_full[j, l]
            for j in range(nstate):
                for l in range(L):
                    xt[j, l] = x[j, l] + dt * k3[j, l]
            _derivative(t + dt, xt, th, k4, aux, growth, dt, disc, disc_h, ref_norm, po, xo,
                        nco, npop, nprev, nreact, nag, pop_cohort, pop_first, pop_last,
                        pop_utility, prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                        react_agency, react_ptr, react_pop, pop_prev_ptr, pop_prev,
                        pop_react_ptr, pop_react, pop_ag_ptr, pop_ag)
            sixth = dt / 6.0
            for j in range(nstate):
                for l in range(L):
                    x[j, l] += sixth * (k1[j, l] + 2.0 * k2[j, l] + 2.0 * k3[j, l] + k4[j, l])
        if (step + 1) % steps_per_month == 0 and nrec > 0:
            m = (step + 1) // steps_per_month
            for j in range(nrec):
                for l in range(nrun):
                    out_traj[run0 + l, m, j] = x[record_idx[j], l]

    for j in range(nstate):
        for l in range(nrun):
            out_final[run0 + l, j] = x[j, l]


@njit(parallel=True, **_JIT)
def simulate_batch(theta, ev_month, ev_param, ev_value, dt, steps_per_month, n_months, rk4,
                   disc_month, disc_health_month, record_idx, out_final, out_traj,
                   po, xo, nco, npop, nprev, nreact, nag, naux, ngrowth,
                   pop_cohort, pop_first, pop_last, pop_utility,
                   prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                   react_agency, react_ptr, react_pop,
                   pop_prev_ptr, pop_prev, pop_react_ptr, pop_react, pop_ag_ptr, pop_ag,
                   n_threads):
    """Simulate every row of ``theta`` (runs x parameters); write ``out_final`` (runs x state)
    and, for the state entries in ``record_idx``, ``out_traj`` (runs x months+1 x records)."""
    nruns = theta.shape[0]
    nparam = theta.shape[1]
    nstate = out_final.shape[1]
    nblocks = (nruns + LANES - 1) // LANES
    nchunks = min(nblocks, 8 * n_threads)
    for chunk in prange(nchunks):
        # buffers allocated once per chunk, never inside the time loop
        th = np.empty((nparam, LANES))
        x = np.empty((nstate, LANES))
        xt = np.empty((nstate, LANES))
        k1 = np.empty((nstate, LANES))
        k2 = np.empty((nstate, LANES))
        k3 = np.empty((nstate, LANES))
        k4 = np.empty((nstate, LANES))
        aux = np.empty((naux, LANES))
        growth = np.empty((ngrowth, LANES))
        gtmp = np.empty((ngrowth, LANES))
        step_full = np.empty((ngrowth, LANES))
        step_half = np.empty((ngrowth, LANES))
        ref_norm = np.empty((nag, LANES))
        b0 = chunk * nblocks // nchunks
        b1 = (chunk + 1) * nblocks // nchunks
        for b in range(b0, b1):
            run0 = b * LANES
            nrun = min(LANES, nruns - run0)
            _simulate_block(run0, nrun, theta, ev_month, ev_param, ev_value, dt,
                            steps_per_month, n_months, rk4, disc_month, disc_health_month,
                            record_idx, out_final, out_traj, po, xo, nco, npop, nprev, nreact,
                            nag, naux, pop_cohort, pop_first, pop_last, pop_utility,
                            prev_agency, prev_order, prev_stage0, prev_ptr, prev_pop,
                            react_agency, react_ptr, react_pop, pop_prev_ptr, pop_prev,
                            pop_react_ptr, pop_react, pop_ag_ptr, pop_ag,
                            th, x, xt, k1, k2, k3, k4, aux, growth, gtmp, step_full,
                            step_half, ref_norm)
