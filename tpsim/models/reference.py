"""An independent plain-numpy implementation of the model in docs/model.md.

Written from the specification, not from the numba kernel, so the two can check each other
(``tests/test_reference.py``), and used by the benchmarks as the "plain numpy" baseline.

Every quantity is an array shaped ``[item, run]`` (item = population index, service, agency,
...): the model is vectorised over runs and over items, and the only Python loop is the one over
time steps. Parameters are read from the same ``theta`` layout as the kernel and stocks and
accumulators are written to the same state-vector positions (:mod:`tpsim.models.layout`), so
:class:`tpsim.models.simulate.RawRun` results of the two are directly comparable.

>>> raw = simulate_reference(model)             # same as simulate(model, record=True)
>>> raw.trajectory.shape                         # runs x (months + 1) x state entries

Resolved ambiguities (docs/model.md is silent; the choices follow the kernel):

* Savings baseline: at a step with ``t <= pool.start`` the baseline ``ref_a`` is set from the
  reactive cash spend at ``t`` *after* the step's first derivative evaluation; savings are
  captured only for ``t > pool.start``, so the baseline is always the spend at the last step
  at or before the opening (docs/model.md).
* A time-keyed change at month 0 applies from step 0, i.e. after the initial steady state
  (delay stages, capacity cost base, perceived spend) has been set from the original values;
  a change of ``initial`` or ``reserves`` has no effect.
* Discount factors: every RK4 stage of a step uses the factor of the step's month.
* Zero denominators: coverage uses ``uptake`` (or 0 without places) when nobody is eligible;
  the waiting share is 0 when a reactive service serves nobody; a pool place target is 0
  when the unit cost is 0; pressure is ``NO_BUDGET_PRESSURE`` when the budget is 0. (The
  kernel tests ``> 1e-12`` rather than ``> 0``.)
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from tpsim.analysis.discounting import monthly_factors
from tpsim.models.simulate import RawRun
from tpsim.models import layout as lo
from tpsim.models.structure import Model

#: pressure reported when an agency's budget is zero (dimensionless)
NO_BUDGET_PRESSURE = 1e6
#: a time-keyed change at ``month`` applies from the first step starting at or after it;
#: this tolerance (in steps) absorbs rounding in ``month / dt``
_STEP_TOLERANCE = 1e-9


class _Structure:
    """Incidence matrices and index arrays of one compiled model, for matrix-form sums.

    A 0/1 matrix sums item flows into groups: ``cohort_of_pop @ flow`` sums a per-need-state
    flow by cohort, ``agency_of_prev @ cost`` sums preventive costs by agency.
    """

    def __init__(self, model: Model) -> None:
        s = model.structure
        npop, nco = model.npop, len(model.cohorts)
        nprev, nreact, nag = len(model.preventive), len(model.reactive), len(model.agencies)
        self.npop, self.nco, self.nprev, self.nreact, self.nag = npop, nco, nprev, nreact, nag

        self.pop_cohort = np.asarray(s["pop_cohort"], dtype=np.int64)
        self.not_first = ~np.asarray(s["pop_first"], dtype=bool)
        self.not_last = ~np.asarray(s["pop_last"], dtype=bool)
        self.cohort_of_pop = _one_hot(self.pop_cohort, nco)            # nco x npop

        # preventive services: eligible states, agency, delay stages
        self.prev_agency = np.asarray(s["prev_agency"], dtype=np.int64)
        self.agency_of_prev = _one_hot(self.prev_agency, nag)          # nag x nprev
        prev_pairs = _pairs(s["prev_ptr"], s["prev_pop"])             # (service, pop) pairs
        self.eligible = np.zeros((nprev, npop))
        self.eligible[prev_pairs[:, 0], prev_pairs[:, 1]] = 1.0
        order = np.asarray(s["prev_order"], dtype=np.int64)
        stage0 = np.asarray(s["prev_stage0"], dtype=np.int64)
        self.stage_service = np.repeat(np.arange(nprev), order)         # service of each stage
        self.stage_first = np.zeros(self.stage_service.size, dtype=bool)
        self.stage_first[stage0] = True
        self.stage_last = stage0 + order - 1                            # effective coverage
        self.prev_order = order.astype(float)[:, None]                 # [prev, 1]

        # reactive services: utilisation pairs (service, pop), in theta's P_UTIL order
        self.react_agency = np.asarray(s["react_agency"], dtype=np.int64)
        self.agency_of_react = _one_hot(self.react_agency, nag)        # nag x nreact
        util_pairs = _pairs(s["react_ptr"], s["react_pop"])
        self.util_react, self.util_pop = util_pairs[:, 0], util_pairs[:, 1]
        self.react_of_util = _one_hot(self.util_react, nreact)         # nreact x nutil
        self._check_util_names(model)

        # factors of the escalation multiplier: (pop, item) pairs, grouped by pop
        prev_by_pop = prev_pairs[:, ::-1]
        react_by_pop = util_pairs[:, ::-1]
        ag_pairs = {(i, int(self.prev_agency[v])) for v, i in prev_pairs} | \
                   {(i, int(self.react_agency[r])) for r, i in util_pairs}
        ag_by_pop = np.array(sorted(ag_pairs), dtype=np.int64).reshape(-1, 2)
        self.mult = _GroupedProduct(npop, [prev_by_pop, react_by_pop, ag_by_pop])

        # prevention mechanisms: recovery factors per state, utilisation-effect links per
        # utilisation pair, substitution links per state (docs/model.md)
        self.recovery_mult = _GroupedProduct(npop, [prev_by_pop])
        self.ulink_prev = np.asarray(s["ulink_prev"], dtype=np.int64)
        self.util_mult = _GroupedProduct(len(self.util_pop),
                                         [_pairs(s["util_link_ptr"], s["util_link"])])
        self.sub_prev = np.asarray(s["sub_prev"], dtype=np.int64)
        self.sub_keep = _GroupedProduct(npop, [_pairs(s["pop_sub_ptr"], s["pop_sub"])])
        # transitions between cohorts: column j of ``moves_to`` is where state j's movers go
        trans = np.asarray(s["pop_trans"], dtype=np.int64)
        self.moves_to = np.zeros((npop, npop))
        moving = np.flatnonzero(trans >= 0)
        self.moves_to[trans[moving], moving] = 1.0

    def _check_util_names(self, model: Model) -> None:
        """The utilisation parameters must be in the order of the structure's pairs."""
        names = model.param_names[model.po[lo.P_UTIL]:model.po[lo.P_UTIL + 1]]
        for k, name in enumerate(names):
            r, i = self.util_react[k], self.util_pop[k]
            expected = f"services.{model.reactive[r]}.utilisation.{model.pop_labels[i][1]}"
            if name != expected:
                raise ValueError(f"utilisation parameter {k} is {name}, expected {expected}")


class _GroupedProduct:
    """Product, for every population index, of the factors that apply to it.

    Built from lists of (pop, item) pairs, one list per kind of factor; ``__call__`` takes one
    ``[item, run]`` factor array per kind and returns ``[pop, run]``. A population index with
    no factor gets 1 (every group starts with a row of ones).
    """

    def __init__(self, npop: int, pair_lists: list[np.ndarray]) -> None:
        self.items = [p[:, 1] for p in pair_lists]
        pops = np.concatenate([np.arange(npop)] + [p[:, 0] for p in pair_lists])
        self.order = np.argsort(pops, kind="stable")
        self.starts = np.searchsorted(pops[self.order], np.arange(npop))

    def __call__(self, factors: list[np.ndarray], n_runs: int) -> np.ndarray:
        rows = [np.ones((len(self.starts), n_runs))]
        rows += [f[items] for f, items in zip(factors, self.items)]
        stacked = np.concatenate(rows, axis=0)[self.order]
        return np.multiply.reduceat(stacked, self.starts, axis=0)


def _one_hot(groups: np.ndarray, n_groups: int) -> np.ndarray:
    m = np.zeros((n_groups, len(groups)))
    m[groups, np.arange(len(groups))] = 1.0
    return m


def _pairs(ptr: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """(row, value) pairs of a CSR list, shaped [pairs, 2]."""
    ptr = np.asarray(ptr, dtype=np.int64)
    rows = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    return np.stack([rows, np.asarray(flat, dtype=np.int64)], axis=1).reshape(-1, 2)


class _Growth:
    """Compound growth factors ``(1 + g)^(t/12)``, continuous across changes of ``g``.

    Tracked as logarithms: inflow per cohort, budget per agency, unit-cost efficiency per
    agency (``g = -efficiency_target``) and the pool's savings baseline, each ``[item, run]``.
    """

    def __init__(self, params: dict[int, np.ndarray], pool: np.ndarray, n_runs: int,
                 nco: int, nag: int) -> None:
        self.params, self.pool = params, pool
        self.log = {"inflow": np.zeros((nco, n_runs)), "budget": np.zeros((nag, n_runs)),
                    "efficiency": np.zeros((nag, n_runs)), "baseline": np.zeros((1, n_runs))}
        self.update_rates()

    def update_rates(self) -> None:
        """Log growth per month from the current parameters (after a time-keyed change)."""
        p = self.params
        self.rate = {
            "inflow": np.log1p(p[lo.P_INFLOW_GROWTH]) / 12.0,
            "budget": np.log1p(p[lo.P_AG_GROWTH]) / 12.0,
            "efficiency": np.log1p(-p[lo.P_AG_EFFICIENCY]) / 12.0,
            "baseline": np.log1p(self.pool[lo.G_BASELINE_GROWTH])[None, :] / 12.0,
        }

    def at(self, tau: float) -> dict[str, np.ndarray]:
        """Factors ``tau`` months after the current step start."""
        return {k: np.exp(self.log[k] + self.rate[k] * tau) for k in self.log}

    def advance(self, dt: float) -> None:
        for k in self.log:
            self.log[k] = self.log[k] + self.rate[k] * dt


class _Model:
    """The right-hand side f(t, x) of docs/model.md for a batch of runs."""

    def __init__(self, model: Model, th: np.ndarray) -> None:
        self.m = model
        self.s = _Structure(model)
        self.dt = model.dt
        po, xo = model.po, model.xo
        # parameter blocks as views of th (time-keyed changes edit th in place)
        self.p = {b: th[po[b]:po[b + 1]] for b in range(lo.N_PBLOCKS)}
        self.pool = th[po[lo.P_GLOBAL]:po[lo.P_GLOBAL + 1]]     # scalars, one row each
        self.xo = xo
        self.n_runs = th.shape[1]
        # the savings baseline per agency, divided by Gs (followed until the pool opens)
        self.ref = np.zeros((self.s.nag, self.n_runs))

    def blocks(self, x: np.ndarray) -> list[np.ndarray]:
        xo = self.xo
        return [x[xo[b]:xo[b + 1]] for b in range(lo.N_XBLOCKS)]

    def rhs(self, t: float, x: np.ndarray, G: dict[str, np.ndarray], disc: float,
            disc_h: float, dx: np.ndarray) -> dict[str, np.ndarray]:
        """Write dx/dt into ``dx``; return intermediate quantities (coverage, activity, ...).

        One method per term of docs/model.md, in this order (each reads the intermediate
        values the ones before it put in ``q``)."""
        X = self.blocks(x)
        D = self.blocks(dx)
        dx[:] = 0.0
        g = self.pool
        q = SimpleNamespace(
            pool_active=g[lo.G_POOL_ON] * (t >= g[lo.G_POOL_START]),      # [run], 0 or 1
            efficiency=G["efficiency"],                                   # [agency, run]
            people=np.maximum(X[lo.X_POP], 0.0))                          # [pop, run]
        self._preventive(X, D, q)
        self._reactive(X, D, q)
        self._escalation_multiplier(q)
        self._people(D, G, disc_h, q)
        self._agencies(t, X, D, G, disc, q)
        self._siloed_cuts(X, D, q)
        self._pool(t, X, D, disc, q)
        return {"coverage": q.coverage, "activity": q.activity, "spend": q.spend,
                "react_cash": q.react_cash}

    def _preventive(self, X, D, q) -> None:
        """Preventive services: coverage, the delay of coverage to effect, the persisting
        effect, community places, activity and spend."""
        s, p = self.s, self.p
        elig = s.eligible @ q.people                                    # [prev, run]
        funding, pool_places, community = X[lo.X_FUNDING], X[lo.X_POOL_PLACES], X[lo.X_COMMUNITY]
        agency_places = funding * p[lo.P_PV_PLACES]
        places = agency_places + pool_places + community
        uptake = p[lo.P_PV_UPTAKE]
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(elig > 0.0, np.minimum(uptake, places / elig),
                                np.where(places > 0.0, uptake, 0.0))
        stages = X[lo.X_STAGE]
        rate = (s.prev_order / p[lo.P_PV_TIME_TO_EFFECT])[s.stage_service]
        upstream = np.empty_like(stages)
        upstream[1:] = stages[:-1]
        upstream[s.stage_first] = coverage
        D[lo.X_STAGE][:] = (upstream - stages) * rate
        delayed = stages[s.stage_last]                                  # [prev, run]
        # the effect persists after coverage falls: the larger of the delayed coverage and
        # its slower-decaying memory (only when effect_decay is set)
        persist = X[lo.X_PERSIST]
        decay_time = p[lo.P_PV_DECAY]
        D[lo.X_PERSIST][:] = (delayed - persist) / decay_time
        q.effective = np.where(np.isfinite(decay_time), np.maximum(delayed, persist), delayed)
        q.credit = (1.0 - p[lo.P_PV_DEADWEIGHT]) * (1.0 - p[lo.P_PV_DISPLACEMENT]) * \
            p[lo.P_PV_ATTRIBUTION]
        q.building = np.maximum(0.0, coverage - delayed)   # covered, effect not yet arrived
        D[lo.X_COMMUNITY][:] = (p[lo.P_PV_COMM_PLACES] - community) / p[lo.P_PV_COMM_RAMP]

        q.pooled = q.pool_active * (p[lo.P_PV_POOL_SHARE] > 0.0)        # [prev, run]
        q.prev_unit_cost = p[lo.P_PV_UNIT_COST] * q.efficiency[s.prev_agency]
        q.community_cost = p[lo.P_PV_COMM_UNIT_COST] * community
        q.prev_agency_cost = q.prev_unit_cost * agency_places + (1.0 - q.pooled) * q.community_cost
        prev_pool_cost = q.prev_unit_cost * pool_places + q.pooled * q.community_cost
        D[lo.A_ACT_PREV][:] = coverage * elig
        D[lo.A_SPEND_PREV][:] = q.prev_agency_cost + prev_pool_cost
        q.coverage, q.funding, q.pool_places = coverage, funding, pool_places

    def _reactive(self, X, D, q) -> None:
        """Reactive services: utilisation (scaled by the utilisation-effect links), demand,
        waiting lists, activity, the capacity cost base and cash spend."""
        s, p = self.s, self.p
        ulink_v = s.ulink_prev
        ulink_factor = 1.0 - (p[lo.P_UTIL_EFFECT] * q.credit[ulink_v]) * q.effective[ulink_v]
        util_rate = p[lo.P_UTIL] * s.util_mult([ulink_factor], self.n_runs)
        demand = s.react_of_util @ (util_rate * q.people[s.util_pop])   # [react, run]
        waiting = X[lo.X_WAITING]
        q.waiting_pos = np.maximum(waiting, 0.0)
        activity = np.minimum(p[lo.P_RV_CAPACITY], demand + q.waiting_pos / p[lo.P_RV_QUEUE_CLEAR])
        D[lo.X_WAITING][:] = demand - activity
        capbase = X[lo.X_CAPBASE]
        # only the cashable share of capacity freed since month 0 is decommissioned
        capacity_kept = activity + (1.0 - p[lo.P_RV_CASHABLE]) * \
            np.maximum(0.0, X[lo.X_CAPINIT] - activity)
        D[lo.X_CAPBASE][:] = (capacity_kept - capbase) / p[lo.P_RV_DECOMMISSION]
        react_unit_cost = p[lo.P_RV_UNIT_COST] * q.efficiency[s.react_agency]
        fixed = p[lo.P_RV_FIXED_SHARE]
        q.cash = react_unit_cost * ((1.0 - fixed) * activity +
                                    fixed * np.maximum(activity, capbase))
        D[lo.A_ACT_REACT][:] = activity
        D[lo.A_SPEND_REACT][:] = q.cash
        D[lo.A_VALUE_REACT][:] = react_unit_cost * activity
        q.activity = activity

    def _escalation_multiplier(self, q) -> None:
        """The escalation multiplier of each population index: prevention x waiting-list
        deterioration x quality erosion factors."""
        s, p, g = self.s, self.p, self.pool
        served = s.react_of_util @ q.people[s.util_pop]                 # [react, run]
        with np.errstate(divide="ignore", invalid="ignore"):
            share_waiting = np.where(served > 0.0, np.minimum(1.0, q.waiting_pos / served), 0.0)
        prev_factor = 1.0 - (p[lo.P_PV_EFFECT] * q.credit) * q.effective + \
            (p[lo.P_PV_SHORT_RUN] * q.credit) * q.building
        react_factor = 1.0 + g[lo.G_LOOP_WAITING] * p[lo.P_RV_DETERIORATION] * share_waiting
        agency_factor = 1.0 + g[lo.G_LOOP_EROSION] * p[lo.P_AG_EROSION] * (1.0 - q.efficiency)
        q.mult = s.mult([prev_factor, react_factor, agency_factor], self.n_runs)

    def _people(self, D, G, disc_h, q) -> None:
        """People: escalation (less the substituted share, which moves down), recovery, exits
        split into leaving, deaths and transitions, scaled so they never exceed the stock in a
        step; inflow, arrivals, employment, person-months and QALYs."""
        s, p = self.s, self.p
        people, credit, effective = q.people, q.credit, q.effective
        recovery_factor = 1.0 + (p[lo.P_PV_RECOVERY] * credit) * effective
        rec_mult = s.recovery_mult([recovery_factor], self.n_runs)
        sub_v = s.sub_prev
        sub_factor = 1.0 - (p[lo.P_SUBSTITUTION] * credit[sub_v]) * effective[sub_v]
        keep = s.sub_keep([sub_factor], self.n_runs)   # share of escalation not substituted
        esc_all = p[lo.P_ESC] * q.mult * people * s.not_last[:, None]
        esc = esc_all * keep
        div = esc_all * (1.0 - keep) * s.not_first[:, None]     # substituted: moved down
        rec = p[lo.P_REC] * rec_mult * people * s.not_first[:, None]
        ext = p[lo.P_EXIT] * people
        out = (esc + div + rec + ext) * self.dt
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(out > people, people / out, 1.0)
        esc, div, rec, ext = esc * scale, div * scale, rec * scale, ext * scale
        deaths = ext * p[lo.P_DEATH_SHARE]
        moves = ext * p[lo.P_TRANS_SHARE]
        leaves = ext * (1.0 - p[lo.P_DEATH_SHARE] - p[lo.P_TRANS_SHARE])
        arrivals = s.moves_to @ moves
        inflow = p[lo.P_INFLOW] * G["inflow"][s.pop_cohort]
        dpop = D[lo.X_POP]
        dpop[:] = inflow - esc - div - rec - ext + arrivals
        dpop[1:] += esc[:-1]       # escalation to the next state (0 from a cohort's last state)
        dpop[:-1] += rec[1:] + div[1:]   # recovery and substitution to the previous state
        D[lo.A_INFLOW][:] = s.cohort_of_pop @ inflow
        D[lo.A_EXIT][:] = s.cohort_of_pop @ leaves
        D[lo.A_ESC][:] = s.cohort_of_pop @ esc
        D[lo.A_REC][:] = s.cohort_of_pop @ (rec + div)
        D[lo.A_DEATH][:] = s.cohort_of_pop @ deaths
        D[lo.A_TRANS_OUT][:] = s.cohort_of_pop @ moves
        D[lo.A_TRANS_IN][:] = s.cohort_of_pop @ arrivals
        employed = p[lo.P_EMPLOYMENT] * people
        D[lo.A_EMPLOYED][:] = s.cohort_of_pop @ employed
        D[lo.A_EMPLOY_VALUE][:] = s.cohort_of_pop @ (employed * p[lo.P_EMPLOY_VALUE][s.pop_cohort])
        D[lo.A_PERSON_MONTHS][:] = people
        D[lo.A_DISC_QALY][:] = (self.m.pop_utility @ people)[None, :] / 12.0 * disc_h

    def _agencies(self, t, X, D, G, disc, q) -> None:
        """Agencies: overhead, pool contributions, captured savings, budgets and spend."""
        s, p, g = self.s, self.p, self.pool
        pool_active = q.pool_active
        q.react_cash = s.agency_of_react @ q.cash                       # [agency, run]
        q.service_spend = s.agency_of_prev @ q.prev_agency_cost + q.react_cash
        participates = p[lo.P_AG_CONTRIBUTION] > 0.0
        ramp = np.clip((t - g[lo.G_POOL_START]) / g[lo.G_OH_RAMP], 0.0, 1.0)
        q.overhead = p[lo.P_AG_OVERHEAD] * q.service_spend * (
            1.0 - pool_active * participates * g[lo.G_OH_REDUCTION] * ramp)
        q.budget = p[lo.P_AG_BUDGET] * G["budget"]
        q.contribution = pool_active * p[lo.P_AG_CONTRIBUTION] * q.budget
        reinvest_on = g[lo.G_LOOP_REINVEST] * pool_active
        captured = X[lo.X_CAPTURED]
        q.capture_paid = reinvest_on * captured / g[lo.G_REINVEST_DELAY]
        # the baseline is in volume terms, priced at today's (efficiency-adjusted) unit costs
        savings = np.maximum(0.0, self.ref * G["baseline"] * G["efficiency"] - q.react_cash)
        capturing = reinvest_on * (t > g[lo.G_POOL_START])
        D[lo.X_CAPTURED][:] = capturing * participates * g[lo.G_CAPTURE] * savings - \
            q.capture_paid
        q.spend = q.service_spend + q.overhead + q.contribution + q.capture_paid
        D[lo.X_RESERVES][:] = q.budget - q.spend
        D[lo.X_PERCEIVED][:] = (q.spend - X[lo.X_PERCEIVED]) / p[lo.P_AG_PERCEPTION]
        D[lo.A_AG_SPEND][:] = q.spend
        D[lo.A_AG_OVERHEAD][:] = q.overhead
        D[lo.A_AG_CONTRIB][:] = q.contribution
        D[lo.A_AG_CAPTURE][:] = q.capture_paid
        D[lo.A_BUDGET][:] = q.budget
        D[lo.A_DISC_AG][:] = q.spend * disc

    def _siloed_cuts(self, X, D, q) -> None:
        """Siloed cuts and restoration of preventive funding (R1, the doom loop)."""
        s, p, g = self.s, self.p, self.pool
        with np.errstate(divide="ignore", invalid="ignore"):
            pressure = np.where(q.budget > 0.0, X[lo.X_PERCEIVED] / q.budget, NO_BUDGET_PRESSURE)
        pr = pressure[s.prev_agency]                                    # [prev, run]
        ag = s.prev_agency
        funding = q.funding
        restore = p[lo.P_AG_RESTORE_RATE][ag] * np.maximum(0.0, 1.0 - funding) * (pr < 1.0)
        cut = np.minimum(p[lo.P_AG_CUT_RATE][ag] * np.maximum(0.0, pr - 1.0), 1.0 / self.dt) * \
            np.maximum(0.0, funding - p[lo.P_AG_FLOOR][ag])
        D[lo.X_FUNDING][:] = g[lo.G_LOOP_DOOM] * (1.0 - q.pooled) * (restore - cut)

    def _pool(self, t, X, D, disc, q) -> None:
        """The pool (R2): set-up and double running, places it commissions, its balance, and
        the place's totals."""
        p, g = self.p, self.pool
        pool_active = q.pool_active
        start = g[lo.G_POOL_START]
        active = pool_active > 0.0
        setup = np.where(active & (t < start + g[lo.G_SETUP_MONTHS]),
                         g[lo.G_SETUP_COST] / g[lo.G_SETUP_MONTHS], 0.0)
        double_running = np.where(active & (t < start + g[lo.G_DR_MONTHS]), g[lo.G_DR_COST], 0.0)
        income = (q.contribution + q.capture_paid).sum(axis=0)
        pooled_community = (q.pooled * q.community_cost).sum(axis=0)
        balance = X[lo.X_POOL][0]
        available = np.maximum(0.0, income + balance / g[lo.G_SPEND_DOWN] - setup
                               - double_running - pooled_community)
        with np.errstate(divide="ignore", invalid="ignore"):
            target = np.where(q.prev_unit_cost > 0.0,
                              pool_active * p[lo.P_PV_POOL_SHARE] * available / q.prev_unit_cost,
                              0.0)
        D[lo.X_POOL_PLACES][:] = (target - q.pool_places) / g[lo.G_ADJUST_TIME]
        pool_spend = (q.prev_unit_cost * q.pool_places).sum(axis=0) + setup + double_running + \
            pooled_community
        D[lo.X_POOL][0] = income - pool_spend
        D[lo.A_POOL_IN][0] = income
        D[lo.A_REINVESTED][0] = q.capture_paid.sum(axis=0)
        D[lo.A_POOL_SPEND][0] = pool_spend
        D[lo.A_SETUP][0] = setup
        D[lo.A_DOUBLE_RUNNING][0] = double_running
        total = (q.service_spend + q.overhead).sum(axis=0) + pool_spend
        D[lo.A_TOTAL][0] = total
        D[lo.A_DISC_TOTAL][0] = total * disc


def simulate_reference(model: Model, theta: np.ndarray | None = None,
                       ev_values: np.ndarray | None = None, discount_rate: float = 0.035,
                       health_discount_rate: float = 0.015) -> RawRun:
    """Simulate every row of ``theta`` (runs x parameters) with plain numpy.

    Same inputs and output as :func:`tpsim.models.simulate.simulate` with ``record=True``: the final
    state per run and month-end snapshots of every state entry (runs x months+1 x nstate).
    """
    theta = model.runs_theta(theta)
    n_runs = theta.shape[0]
    n_ev = model.ev_month.size
    if ev_values is None:
        ev_values = model.event_values(n_runs)
    ev_values = np.array(ev_values, dtype=np.float64).reshape(n_runs, n_ev)

    dt, spm, n_months = model.dt, model.steps_per_month, model.n_months
    disc_month = monthly_factors(n_months, discount_rate)
    disc_health_month = monthly_factors(n_months, health_discount_rate)
    th = np.ascontiguousarray(theta.T)                                  # [param, run]
    f = _Model(model, th)
    s = f.s
    growth = _Growth(f.p, f.pool, n_runs, s.nco, s.nag)

    # ---- initial state ------------------------------------------------------------------
    x = np.zeros((model.nstate, n_runs))
    X = f.blocks(x)
    X[lo.X_POP][:] = f.p[lo.P_INITIAL]
    X[lo.X_FUNDING][:] = 1.0
    X[lo.X_RESERVES][:] = f.p[lo.P_AG_RESERVES]
    dx = np.zeros_like(x)
    G0 = growth.at(0.0)
    # services already running are in steady state: delay stages at month-0 coverage (which
    # does not depend on them), then the capacity cost base at month-0 activity (which does,
    # through utilisation effects; the spend at K = activity is the spend at K = 0)
    at0 = f.rhs(0.0, x, G0, 1.0, 1.0, dx)
    X[lo.X_STAGE][:] = at0["coverage"][s.stage_service]
    X[lo.X_PERSIST][:] = at0["coverage"]
    # perceived spend starts at spend, and the savings baseline at reactive cash spend
    at0 = f.rhs(0.0, x, G0, 1.0, 1.0, dx)
    X[lo.X_CAPBASE][:] = at0["activity"]
    X[lo.X_CAPINIT][:] = at0["activity"]
    X[lo.X_PERCEIVED][:] = at0["spend"]
    f.ref[:] = at0["react_cash"] / G0["baseline"]

    # ---- time-keyed changes: the step at which each takes effect --------------------------
    ev_step = np.ceil(model.ev_month / dt - _STEP_TOLERANCE).astype(np.int64)

    traj = np.empty((n_runs, n_months + 1, model.nstate))          # the RawRun layout
    traj[:, 0] = x.T
    rk4 = model.method == "rk4"
    k = [np.zeros_like(x) for _ in range(4)]
    xt = np.empty_like(x)
    start = f.pool[lo.G_POOL_START]
    for step in range(n_months * spm):
        t = step * dt
        due = np.flatnonzero(ev_step == step)
        if due.size:
            for e in due:  # in time order: a later change of the same parameter wins
                th[model.ev_param[e]] = ev_values[:, e]
            growth.update_rates()
        month = step // spm
        disc, disc_h = disc_month[month], disc_health_month[month]
        G = growth.at(0.0)
        now = f.rhs(t, x, G, disc, disc_h, k[0])
        # the savings baseline follows reactive cash spend at every step until the pool opens;
        # it is updated after the step's first evaluation (see "Resolved ambiguities")
        following = t <= start
        f.ref[:, following] = (now["react_cash"] / (G["baseline"] * G["efficiency"]))[:, following]
        if not rk4:
            x += dt * k[0]
        else:
            Gh, Gf = growth.at(0.5 * dt), growth.at(dt)
            np.add(x, 0.5 * dt * k[0], out=xt)
            f.rhs(t + 0.5 * dt, xt, Gh, disc, disc_h, k[1])
            np.add(x, 0.5 * dt * k[1], out=xt)
            f.rhs(t + 0.5 * dt, xt, Gh, disc, disc_h, k[2])
            np.add(x, dt * k[2], out=xt)
            f.rhs(t + dt, xt, Gf, disc, disc_h, k[3])
            x += dt / 6.0 * (k[0] + 2.0 * k[1] + 2.0 * k[2] + k[3])
        # a stock emptied within the step ends at 0, not a rounding error below it
        np.maximum(X[lo.X_POP], 0.0, out=X[lo.X_POP])
        np.maximum(X[lo.X_WAITING], 0.0, out=X[lo.X_WAITING])
        growth.advance(dt)
        if (step + 1) % spm == 0:
            traj[:, (step + 1) // spm] = x.T

    record_index = np.arange(model.nstate, dtype=np.int64)
    return RawRun(np.ascontiguousarray(x.T), traj, record_index, theta, ev_values)
