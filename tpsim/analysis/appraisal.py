"""Green Book appraisal of a scenario against a counterfactual: pure functions on arrays.

Everything here takes labelled monthly series (a mapping ``name -> array over months``, as in
:class:`tpsim.models.results.Results` for one run or as read back from ``timeseries.csv``) and returns
numbers; nothing reads or writes files or runs the model. docs/appraisal.md states every formula.

Conventions
    * ``Δx = x(scenario) - x(counterfactual)``, month by month (month m = 1..H, a flow over
      month m).
    * Money is £ in the month, real terms at the scenario's price year (no inflation is applied:
      the model is in real prices throughout).
    * Per agency a, the agency's cash spend ``spend.agency.a`` is split exactly into
      *investment* (own preventive places, pool contributions, captured-savings payments, and
      the overhead on its preventive spend) and *reactive* spend (reactive cash spend and the
      overhead on it). Costs borne = Δinvestment; cashable savings = -Δreactive, so
      ``cashable - costs = -Δspend.agency.a`` exactly.
    * The pool is a row of its own: ``costs = -Δ(pool balance increment)`` (a pool that spends
      more than it receives bears the difference; money left in the pool is a negative cost),
      so that summed over agencies and the pool, ``cashable - costs = -Δspend.total`` exactly.
    * Discount factor of month m: the Green Book factor of its appraisal year (m - 1) // 12
      (year 0 undiscounted), from :mod:`tpsim.analysis.discounting`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from tpsim.analysis.discounting import monthly_factors

PARLIAMENT_MONTHS = 60
"""Months in a Parliament: the first period every figure is reported over."""

RECOMMENDED_OPTIMISM_BIAS = 0.41
"""Mott MacDonald upper bound for outsourcing (operating costs of commissioned services), the
category that fits a preventive service programme at strategic-outline stage (docs/appraisal.md)."""

POOL_ROW = "pool"
TOTAL_ROW = "total"

# relative tolerance below which a cumulative net benefit counts as zero (floating-point noise)
_RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AppraisalSettings:
    """Green Book settings for one appraisal.

    Rates are per year (the declining long-term schedule applies beyond year 30);
    ``optimism_bias`` is a fraction uplift on costs; ``qaly_value`` is £ per QALY at the
    scenario's prices; ``parliament_months`` is the length of the first reporting period.
    """

    discount_rate: float = 0.035
    health_discount_rate: float = 0.015
    optimism_bias: float = RECOMMENDED_OPTIMISM_BIAS
    qaly_value: float = 70_000.0
    value_qalys: bool = False
    parliament_months: int = PARLIAMENT_MONTHS

    @classmethod
    def from_appraisal(cls, appraisal: Mapping, optimism_bias: float | None = None) -> "AppraisalSettings":
        """From a scenario's resolved ``appraisal`` section; ``optimism_bias`` overrides it."""
        return cls(
            discount_rate=float(appraisal["discount_rate"]),
            health_discount_rate=float(appraisal["health_discount_rate"]),
            optimism_bias=float(appraisal["optimism_bias"] if optimism_bias is None else optimism_bias),
            qaly_value=float(appraisal["qaly_value"]),
            value_qalys=bool(appraisal["value_qalys"]),
        )


@dataclass(frozen=True)
class Accounts:
    """Which labelled series belong to whom: agencies, each agency's reactive services, cohorts."""

    agencies: tuple[str, ...]
    reactive: Mapping[str, tuple[str, ...]]
    cohorts: tuple[str, ...]
    preventive: Mapping[str, tuple[str, ...]] | None = None  # None: not known (derive spend)

    @classmethod
    def from_model(cls, model) -> "Accounts":
        """From a compiled :class:`tpsim.models.structure.Model`."""
        def of(kind: list[str], a: str) -> tuple[str, ...]:
            return tuple(v for v in kind if model.service_agency[v] == a)

        return cls(tuple(model.agencies), {a: of(model.reactive, a) for a in model.agencies},
                   tuple(model.cohorts), {a: of(model.preventive, a) for a in model.agencies})


# ---------------------------------------------------------------------------------------------
# Splitting one run's agency spend into investment and reactive spend
# ---------------------------------------------------------------------------------------------


def agency_spend_split(series: Mapping[str, np.ndarray], accounts: Accounts) -> dict[str, np.ndarray]:
    """Split each agency's monthly cash spend into investment and reactive spend.

    Returns arrays shaped ``agencies x months`` (£ in the month):

    * ``spend``: ``spend.agency.a``;
    * ``preventive``: its own preventive spend = spend - overhead - contribution - capture
      - reactive cash (the model has no other component; 0 for an agency without
      preventive services);
    * ``reactive_cash``: the cash spend of its reactive services;
    * ``value``: the full-cost value of its reactive activity (``value.service.*``);
    * ``investment``: preventive + contribution + capture + overhead x preventive / services;
    * ``reactive``: reactive cash + overhead x reactive cash / services
      (so investment + reactive = spend, up to rounding; an agency without reactive services
      has exactly 0 reactive spend, one without preventive services exactly its transfers as
      investment).
    """
    keys = ("spend", "preventive", "reactive_cash", "value", "investment", "reactive")
    out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for a in accounts.agencies:
        spend = np.asarray(series[f"spend.agency.{a}"], dtype=float)
        overhead = np.asarray(series[f"overhead.agency.{a}"], dtype=float)
        transfers = (np.asarray(series[f"contribution.agency.{a}"], dtype=float)
                     + np.asarray(series[f"capture.agency.{a}"], dtype=float))
        reactive_cash = np.zeros_like(spend)
        value = np.zeros_like(spend)
        for r in accounts.reactive[a]:
            reactive_cash = reactive_cash + np.asarray(series[f"spend.service.{r}"], dtype=float)
            value = value + np.asarray(series[f"value.service.{r}"], dtype=float)
        if accounts.preventive is not None and not accounts.preventive[a]:
            preventive = np.zeros_like(spend)  # exactly: no rounding noise from the subtraction
        else:
            preventive = spend - overhead - transfers - reactive_cash
        services = preventive + reactive_cash
        with np.errstate(divide="ignore", invalid="ignore"):
            preventive_share = np.where(services > 0.0, preventive / np.where(services > 0.0, services, 1.0), 0.0)
        preventive_share = np.clip(preventive_share, 0.0, 1.0)
        investment = preventive + transfers + overhead * preventive_share
        reactive = reactive_cash + overhead * (1.0 - preventive_share)
        for k, v in zip(keys, (spend, preventive, reactive_cash, value, investment, reactive)):
            out[k].append(v)
    return {k: np.array(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# Monthly differences against the counterfactual
# ---------------------------------------------------------------------------------------------


@dataclass
class MonthlyFlows:
    """Monthly costs and savings of a scenario against its counterfactual (£ in the month).

    ``rows`` are the agencies then ``"pool"``; every array is ``rows x months`` unless stated.
    """

    rows: tuple[str, ...]
    costs: np.ndarray          # extra investment spend borne (signed; negative = less invested)
    cashable: np.ndarray       # avoided reactive cash spend and overhead
    non_cashable: np.ndarray   # avoided full-cost value of reactive activity minus the cashable part
    spend_change: np.ndarray   # agencies x months: Δspend.agency.<a>
    total_spend_change: np.ndarray  # months: Δspend.total
    transition_change: np.ndarray   # months: Δspend.transition (pool set-up and double running)
    outcomes: dict[str, np.ndarray]  # "<measure>.<cohort>" -> months, Δ scenario - counterfactual
    cohorts: tuple[str, ...] = ()

    @property
    def n_months(self) -> int:
        return int(self.costs.shape[1])

    @property
    def agencies(self) -> tuple[str, ...]:
        return self.rows[:-1]

    def net(self) -> np.ndarray:
        """Net fiscal benefit before optimism bias, rows x months: cashable - costs."""
        return self.cashable - self.costs


_OUTCOMES = ("escalations", "crisis_person_months", "exits", "qalys")


def monthly_flows(scenario: Mapping[str, np.ndarray], counterfactual: Mapping[str, np.ndarray],
                  accounts: Accounts) -> MonthlyFlows:
    """Costs borne and savings received per agency (and the pool), month by month.

    ``scenario`` and ``counterfactual`` are one run's labelled series each (same months).
    """
    s = agency_spend_split(scenario, accounts)
    c = agency_spend_split(counterfactual, accounts)
    costs = s["investment"] - c["investment"]
    cashable = -(s["reactive"] - c["reactive"])
    # avoided full-cost value of reactive activity, less the avoided reactive cash spend
    non_cashable = -(s["value"] - c["value"]) + (s["reactive_cash"] - c["reactive_cash"])

    def balance_increment(series: Mapping[str, np.ndarray]) -> np.ndarray:
        balance = np.asarray(series["pool.balance"], dtype=float)
        return np.diff(balance, prepend=0.0)  # the pool opens empty: balance 0 at month 0

    retained = balance_increment(scenario) - balance_increment(counterfactual)
    zeros = np.zeros_like(retained)
    outcomes = {f"{m}.{co}": np.asarray(scenario[f"{m}.{co}"], dtype=float)
                - np.asarray(counterfactual[f"{m}.{co}"], dtype=float)
                for m in _OUTCOMES for co in accounts.cohorts}
    return MonthlyFlows(
        rows=(*accounts.agencies, POOL_ROW),
        costs=np.vstack([costs, -retained[None, :]]),
        cashable=np.vstack([cashable, zeros[None, :]]),
        non_cashable=np.vstack([non_cashable, zeros[None, :]]),
        spend_change=s["spend"] - c["spend"],
        total_spend_change=np.asarray(scenario["spend.total"], dtype=float)
        - np.asarray(counterfactual["spend.total"], dtype=float),
        transition_change=np.asarray(scenario["spend.transition"], dtype=float)
        - np.asarray(counterfactual["spend.transition"], dtype=float),
        outcomes=outcomes,
        cohorts=tuple(accounts.cohorts),
    )


# ---------------------------------------------------------------------------------------------
# Discounting, optimism bias, NPV, BCR, payback
# ---------------------------------------------------------------------------------------------


def discount_factors(n_months: int, annual_rate: float) -> np.ndarray:
    """Green Book discount factor of each month 1..n_months (index 0 is month 1).

    Month m belongs to appraisal year (m - 1) // 12; year 0 is undiscounted and year t has
    1/(1+r)^t while the rate is constant (the declining schedule applies after year 30).
    """
    return monthly_factors(n_months, annual_rate, declining=True)


def uplift_costs(costs: np.ndarray, optimism_bias: float, uplifted_rows: np.ndarray | None = None) -> np.ndarray:
    """Costs with the optimism-bias uplift: ``costs + optimism_bias x max(costs, 0)``.

    Only extra spend is uplifted (a month in which an agency invests less than in the
    counterfactual is not made to look better). ``uplifted_rows`` (bool per row) limits the
    uplift to those rows (the pool's balance row is not uplifted: its spending is the
    contributions, already uplifted).
    """
    costs = np.asarray(costs, dtype=float)
    extra = optimism_bias * np.maximum(costs, 0.0)
    if uplifted_rows is not None:
        extra = extra * np.asarray(uplifted_rows, dtype=float).reshape((-1,) + (1,) * (costs.ndim - 1))
    return costs + extra


def payback_month(discounted_net: np.ndarray, tolerance: float | None = None) -> int | None:
    """Payback month of a monthly discounted net-benefit stream (index 0 is month 1).

    The first month at which the cumulative discounted net benefit is >= 0 after having been
    < 0; 0 when it is never negative (no net outlay: pays back at once); None when it is still
    negative at the horizon ("not within horizon"). Values within ``tolerance`` of zero count as
    zero (default: 1e-9 of the sum of absolute monthly values, at least 1e-6 £).
    """
    x = np.asarray(discounted_net, dtype=float)
    if tolerance is None:
        tolerance = max(1e-6, _RELATIVE_TOLERANCE * float(np.abs(x).sum()))
    cumulative = np.cumsum(x)
    negative = np.flatnonzero(cumulative < -tolerance)
    if negative.size == 0:
        return 0
    after = np.flatnonzero(cumulative[negative[0]:] >= -tolerance)
    if after.size == 0:
        return None
    return int(negative[0] + after[0] + 1)


def benefit_cost_ratio(pv_benefits: float, pv_costs: float, tolerance: float = 1e-6) -> float | None:
    """PV benefits / PV (uplifted) costs; None when costs are zero or negative (read the NPV)."""
    if pv_costs <= tolerance:
        return None
    return float(pv_benefits / pv_costs)


def _periods(monthly: np.ndarray, parliament: int) -> tuple[float, float]:
    """(sum over the Parliament, sum over the horizon) of a monthly series."""
    return float(np.sum(monthly[..., :parliament])), float(np.sum(monthly))


ROW_METRICS = (
    "costs_parliament", "costs_horizon",
    "cashable_savings_parliament", "cashable_savings_horizon",
    "non_cashable_savings_parliament", "non_cashable_savings_horizon",
    "net_fiscal_parliament", "net_fiscal_horizon",
    "pv_costs_parliament", "pv_costs_horizon",
    "pv_uplifted_costs_parliament", "pv_uplifted_costs_horizon",
    "pv_cashable_savings_parliament", "pv_cashable_savings_horizon",
    "pv_non_cashable_savings_parliament", "pv_non_cashable_savings_horizon",
    "pv_qaly_value_parliament", "pv_qaly_value_horizon",
    "npv_parliament", "npv_horizon", "economic_npv_parliament", "economic_npv_horizon",
    "bcr", "economic_bcr", "payback_month", "pays_back_in_parliament",
)
"""The figures reported for every agency, the pool and the total (comparison.csv columns)."""


def _row_metrics(costs, uplifted, cashable, non_cashable, df, parliament, qaly_value_pv=None,
                 has_bcr=True) -> dict:
    """The :data:`ROW_METRICS` of one row from its monthly arrays (£ in the month)."""
    out: dict = {}
    qaly = np.zeros_like(costs) if qaly_value_pv is None else qaly_value_pv
    for name, monthly in (("costs", costs), ("cashable_savings", cashable),
                          ("non_cashable_savings", non_cashable),
                          ("net_fiscal", cashable - costs)):
        out[f"{name}_parliament"], out[f"{name}_horizon"] = _periods(monthly, parliament)
    for name, monthly in (("pv_costs", df * costs), ("pv_uplifted_costs", df * uplifted),
                          ("pv_cashable_savings", df * cashable),
                          ("pv_non_cashable_savings", df * non_cashable),
                          ("pv_qaly_value", qaly),
                          ("npv", df * (cashable - uplifted)),
                          ("economic_npv", df * (cashable + non_cashable - uplifted) + qaly)):
        out[f"{name}_parliament"], out[f"{name}_horizon"] = _periods(monthly, parliament)
    if has_bcr:
        out["bcr"] = benefit_cost_ratio(out["pv_cashable_savings_horizon"], out["pv_uplifted_costs_horizon"])
        out["economic_bcr"] = benefit_cost_ratio(
            out["pv_cashable_savings_horizon"] + out["pv_non_cashable_savings_horizon"]
            + out["pv_qaly_value_horizon"], out["pv_uplifted_costs_horizon"])
        pb = payback_month(df * (cashable - uplifted))
    else:
        out["bcr"] = out["economic_bcr"] = None
        pb = None
    out["payback_month"] = pb
    out["pays_back_in_parliament"] = None if not has_bcr else (pb is not None and pb <= parliament)
    return {k: out[k] for k in ROW_METRICS}


def outcome_figures(flows: MonthlyFlows, settings: AppraisalSettings) -> dict:
    """Outcomes avoided or gained, per cohort and in total, over the Parliament and horizon.

    ``escalations_avoided`` (people moving up a need state), ``crisis_person_months_avoided``
    (person-months in each cohort's highest need state), ``exits_avoided`` (deaths and moves
    away), ``qalys_gained`` (undiscounted), ``pv_qalys_gained`` (discounted at the health rate)
    and ``pv_qaly_value`` (£, ``pv_qalys_gained x qaly_value``; in the economic NPV only when
    ``value_qalys``).
    """
    n = flows.n_months
    parliament = min(settings.parliament_months, n)
    dfh = discount_factors(n, settings.health_discount_rate)
    cohorts = flows.cohorts

    def figures(delta: Mapping[str, np.ndarray]) -> dict:
        out = {}
        for key, monthly in (("escalations_avoided", -delta["escalations"]),
                             ("crisis_person_months_avoided", -delta["crisis_person_months"]),
                             ("exits_avoided", -delta["exits"]),
                             ("qalys_gained", delta["qalys"]),
                             ("pv_qalys_gained", dfh * delta["qalys"]),
                             ("pv_qaly_value", settings.qaly_value * dfh * delta["qalys"])):
            out[f"{key}_parliament"], out[f"{key}_horizon"] = _periods(monthly, parliament)
        return out

    by_cohort = {c: figures({m: flows.outcomes[f"{m}.{c}"] for m in _OUTCOMES}) for c in cohorts}
    total = figures({m: sum((flows.outcomes[f"{m}.{c}"] for c in cohorts), np.zeros(n))
                     for m in _OUTCOMES})
    return {"total": total, "by_cohort": by_cohort}


@dataclass
class Appraisal:
    """The appraisal of one scenario: per-row figures, outcomes and the monthly streams."""

    settings: AppraisalSettings
    rows: dict[str, dict]            # agency / "pool" / "total" -> ROW_METRICS
    outcomes: dict
    parliament_months: int
    horizon_months: int
    discounted_net: np.ndarray       # months: total fiscal net benefit after uplift, discounted
    reconciliation: dict[str, float]  # largest absolute error of the accounting identities (£)

    @property
    def total(self) -> dict:
        return self.rows[TOTAL_ROW]

    def headline(self) -> dict:
        """The figures a reader asks for first (fiscal NPV over the horizon, ...)."""
        t = self.total
        return {
            "npv": t["npv_horizon"],
            "npv_basis": "fiscal: PV of cashable savings minus PV of costs with optimism bias, "
                         "all agencies and the pool, over the horizon",
            "npv_parliament": t["npv_parliament"],
            "economic_npv": t["economic_npv_horizon"],
            "bcr": t["bcr"],
            "economic_bcr": t["economic_bcr"],
            "payback_month": t["payback_month"],
            "pays_back_in_parliament": t["pays_back_in_parliament"],
        }


def appraise(flows: MonthlyFlows, settings: AppraisalSettings) -> Appraisal:
    """NPV, BCR and payback per agency, for the pool's balance and in total.

    Fiscal NPV = sum over months of DF x (cashable - uplifted costs); economic NPV adds
    DF x non-cashable savings and, in total when ``settings.value_qalys``, the QALYs gained
    valued at ``qaly_value`` and discounted at the health rate. The total row is the sum of the
    agency rows and the pool row, for every additive figure.
    """
    n = flows.n_months
    parliament = min(settings.parliament_months, n)
    df = discount_factors(n, settings.discount_rate)
    is_agency = np.array([r != POOL_ROW for r in flows.rows])
    uplifted = uplift_costs(flows.costs, settings.optimism_bias, is_agency)
    outcomes = outcome_figures(flows, settings)
    rows = {}
    for i, name in enumerate(flows.rows):
        rows[name] = _row_metrics(flows.costs[i], uplifted[i], flows.cashable[i],
                                  flows.non_cashable[i], df, parliament,
                                  has_bcr=bool(is_agency[i]))
    qaly_pv = None
    if settings.value_qalys:
        dfh = discount_factors(n, settings.health_discount_rate)
        qalys = sum((v for k, v in flows.outcomes.items() if k.startswith("qalys.")), np.zeros(n))
        qaly_pv = settings.qaly_value * dfh * qalys
    total_costs = flows.costs.sum(axis=0)
    total_uplifted = uplifted.sum(axis=0)
    total_cashable = flows.cashable.sum(axis=0)
    rows[TOTAL_ROW] = _row_metrics(total_costs, total_uplifted, total_cashable,
                                   flows.non_cashable.sum(axis=0), df, parliament, qaly_pv)
    net = flows.net()
    reconciliation = {
        "agency_spend": float(np.max(np.abs(net[:-1] + flows.spend_change), initial=0.0)),
        "total_spend": float(np.max(np.abs(net.sum(axis=0) + flows.total_spend_change), initial=0.0)),
    }
    return Appraisal(settings, rows, outcomes, parliament, n, df * (total_cashable - total_uplifted),
                     reconciliation)


def savings_by_agency(flows: MonthlyFlows, settings: AppraisalSettings,
                      include_non_cashable: bool = False) -> np.ndarray:
    """Present value over the horizon of each agency's savings (£), in ``flows.agencies`` order:
    cashable, or cashable + non-cashable. The measure of the who-pays / who-gains matrix."""
    df = discount_factors(flows.n_months, settings.discount_rate)
    savings = flows.cashable[:-1] + (flows.non_cashable[:-1] if include_non_cashable else 0.0)
    return (savings * df).sum(axis=1)


def pv_costs_by_agency(flows: MonthlyFlows, settings: AppraisalSettings) -> np.ndarray:
    """Present value over the horizon of each agency's costs with optimism bias (£)."""
    df = discount_factors(flows.n_months, settings.discount_rate)
    return (uplift_costs(flows.costs[:-1], settings.optimism_bias) * df).sum(axis=1)


def attribution_matrix(agencies: Sequence[str], total: np.ndarray,
                       without: Mapping[str, np.ndarray]) -> dict:
    """Who pays / who gains: the savings each investing agency's spend produced for each agency.

    ``total[b]``: agency b's savings in the scenario (against the counterfactual);
    ``without[a][b]``: agency b's savings when investing agency a's extra investment is
    removed. Row a, column b = ``total[b] - without[a][b]``; the interaction remainder is
    ``total - sum of rows`` (so rows + remainder = total exactly); the wrong-pocket share of
    row a is the part of the row's sum that lands on other agencies (None when the row's sum
    is not positive).
    """
    total = np.asarray(total, dtype=float)
    matrix = {a: total - np.asarray(without[a], dtype=float) for a in without}
    remainder = total - sum(matrix.values(), np.zeros_like(total))
    share = {}
    for a, row in matrix.items():
        row_sum = float(row.sum())
        own = float(row[list(agencies).index(a)])
        share[a] = (row_sum - own) / row_sum if row_sum > 1e-6 else None
    return {
        "investing_agencies": list(matrix),
        "matrix": {a: dict(zip(agencies, map(float, row))) for a, row in matrix.items()},
        "row_totals": {a: float(row.sum()) for a, row in matrix.items()},
        "remainder": dict(zip(agencies, map(float, remainder))),
        "total": dict(zip(agencies, map(float, total))),
        "wrong_pocket_share": share,
    }


ATTRIBUTION_MEASURES = {
    "cashable": "PV over the horizon of cashable savings (avoided reactive cash spend and "
                "overhead), £",
    "economic": "PV over the horizon of cashable plus non-cashable savings, £",
}


def who_pays_who_gains(flows: MonthlyFlows, without: Mapping[str, MonthlyFlows],
                       settings: AppraisalSettings) -> dict:
    """The who-pays / who-gains blocks (``cashable`` and ``economic``) of one scenario.

    ``flows``: the scenario against the counterfactual; ``without[a]``: the run without
    investing agency a's extra investment, against the same counterfactual. Each block is
    :func:`attribution_matrix` plus ``pv_uplifted_costs`` (each investing agency's PV of costs
    with optimism bias: what it paid) and ``measure``.
    """
    costs = dict(zip(flows.agencies, pv_costs_by_agency(flows, settings)))
    out = {}
    for measure, economic in (("cashable", False), ("economic", True)):
        block = attribution_matrix(flows.agencies, savings_by_agency(flows, settings, economic),
                                   {a: savings_by_agency(f, settings, economic)
                                    for a, f in without.items()})
        block["pv_uplifted_costs"] = {a: float(costs[a]) for a in block["investing_agencies"]}
        block["measure"] = ATTRIBUTION_MEASURES[measure]
        out[measure] = block
    return out
