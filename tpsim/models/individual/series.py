"""From simulated counts to the aggregate model's output series in place units.

:func:`place_series` builds the individual model's series; their names come from the one
series table (:mod:`tpsim.models.series`), so they are the columns of ``timeseries.csv``.
"""
from __future__ import annotations

import math

import numpy as np

from tpsim.models.individual.plan import IndividualPlan, SpendPlan
from tpsim.models.individual.replication import ReplicationOutput
from tpsim.models.series import column_name, family


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

    def col(name: str, label=None) -> str:
        return column_name(family(name), label)

    for i, (c, s) in enumerate(spend.pop_labels):
        S[col("population", (c, s))] = pop[:, :, i]
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
        S[col("activity", v)] = np.where(reference > 0, spend.prev_activity[:, v_i] * ratio,
                                         own)
    for r_i, r in enumerate(spend.reactive):
        S[col("activity", r)] = activity[:, :, r_i]
    for q, r in enumerate(spend.queued_names):
        S[col("waiting", r)] = qend[:, :, q]
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
        S[col("spend.service", v)] = np.broadcast_to(spend.prev_spend[:, v_i], (R, H)).copy()
    for r_i, r in enumerate(spend.reactive):
        S[col("spend.service", r)] = cash[:, :, r_i]
    for r_i, r in enumerate(spend.reactive):
        S[col("value.service", r)] = activity[:, :, r_i] * spend.react_unit_cost[:, r_i]
    total = np.broadcast_to(spend.pool_spend, (R, H)).copy()
    overhead_all = np.zeros((R, H))
    for a_i, a in enumerate(spend.agencies):
        service = spend.agency_prev_cost[:, a_i] + cash[:, :, spend.react_agency == a_i].sum(axis=2)
        overhead = spend.agency_overhead_rate[:, a_i] * service
        S[col("spend.agency", a)] = service + overhead + spend.agency_transfers[:, a_i]
        overhead_all += overhead
        total += service + overhead
    S[col("spend.kind", "preventive")] = np.broadcast_to(spend.prev_spend.sum(axis=1),
                                                     (R, H)).copy()
    S[col("spend.kind", "reactive")] = cash.sum(axis=2)
    S[col("spend.overhead")] = overhead_all
    S[col("spend.total")] = total
    for v_i, v in enumerate(spend.preventive):
        if plan.coverage_mode == "endogenous":
            S[col("coverage", v)] = stack("coverage")[:, :, v_i]
        else:
            S[col("coverage", v)] = np.broadcast_to(spend.prev_coverage[:, v_i], (R, H)).copy()
    cohort_of = np.array([spend.cohorts.index(c) for c, _ in spend.pop_labels])
    for c_i, c in enumerate(spend.cohorts):
        members = np.flatnonzero(cohort_of == c_i)
        S[col("inflow", c)] = inflow[:, :, members].sum(axis=2)
        S[col("escalations", c)] = esc[:, :, members].sum(axis=2)
        S[col("exits", c)] = exits[:, :, members].sum(axis=2)
        S[col("crisis_person_months", c)] = pt[:, :, members[-1]]
        S[col("qalys", c)] = (pt[:, :, members] * spend.utility[members]).sum(axis=2) / 12.0
    return S
