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

from dataclasses import dataclass, field
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


OPTIMISM_BIAS_UPPER_BOUNDS = {
    "standard_buildings": 0.24,
    "non_standard_buildings": 0.51,
    "standard_civil_engineering": 0.44,
    "non_standard_civil_engineering": 0.66,
    "equipment_development": 2.00,
    "outsourcing": 0.41,
}
"""Upper bounds of optimism bias on capital / operating costs by project category (Mott
MacDonald for HM Treasury, Green Book supplementary guidance on optimism bias, table 1)."""

OPTIMISM_BIAS_APPLIED_TO = (
    "the pool's programme spending (pool-funded places, pooled community places, set-up and "
    "double running) net of the recycled captured savings paid into the pool in the month",
    "agency-funded preventive and community places above the counterfactual's planned places",
)
"""The costs optimism bias uplifts (docs/appraisal.md); never captured-savings payments,
protected existing places, overhead, reactive spend or the counterfactual's costs."""


@dataclass(frozen=True)
class OutcomeValue:
    """A declared social value of one outcome series: ``value`` £ per unit, counted per unit
    ``avoided`` (benefit = -Δseries x value) or ``gained`` (benefit = Δseries x value),
    discounted at the standard or the health rate, with its source."""

    series: str
    value: float
    per: str = "avoided"
    discount: str = "standard"
    source: str = ""


@dataclass(frozen=True)
class AppraisalSettings:
    """Green Book settings for one appraisal.

    Rates are per year (the declining long-term schedule applies beyond year 30);
    ``optimism_bias`` is the fraction uplift applied (the category's upper bound unless stepped
    down, with ``optimism_bias_reason``); ``qaly_value`` is £ per QALY at ``qaly_price_year``
    prices and ``qaly_uprating`` the factor to the scenario's prices (the QALY value used is
    ``qaly_value x qaly_uprating``); ``benefit_delay_months`` / ``benefit_haircut`` apply
    optimism bias to benefits (a delay in months and a fractional cut); ``outcome_values`` are
    the declared values of other outcomes; ``parliament_months`` is the first reporting period;
    ``employment_output_value`` is the £ of output per extra person-month in work (at the
    scenario's prices, 0 = not valued) that the economic NPV and the NPSV count, with
    ``employment_output_source``.
    """

    discount_rate: float = 0.035
    health_discount_rate: float = 0.015
    optimism_bias: float = RECOMMENDED_OPTIMISM_BIAS
    qaly_value: float = 70_000.0
    value_qalys: bool = True
    parliament_months: int = PARLIAMENT_MONTHS
    qaly_uprating: float = 1.0
    qaly_price_year: str | None = None
    optimism_bias_category: str | None = None
    optimism_bias_reason: str | None = None
    benefit_delay_months: int = 0
    benefit_haircut: float = 0.0
    outcome_values: tuple[OutcomeValue, ...] = ()
    employment_output_value: float = 0.0
    employment_output_source: str | None = None

    @property
    def qaly_value_used(self) -> float:
        """£ per QALY at the scenario's price year."""
        return self.qaly_value * self.qaly_uprating

    @classmethod
    def from_appraisal(cls, appraisal: Mapping, optimism_bias: float | None = None) -> "AppraisalSettings":
        """From a scenario's resolved ``appraisal`` section; ``optimism_bias`` overrides it."""
        values = tuple(OutcomeValue(series, float(v["value"]), v.get("per", "avoided"),
                                    v.get("discount", "standard"), v.get("source", ""))
                       for series, v in (appraisal.get("outcome_values") or {}).items())
        return cls(
            discount_rate=float(appraisal["discount_rate"]),
            health_discount_rate=float(appraisal["health_discount_rate"]),
            optimism_bias=float(appraisal["optimism_bias"] if optimism_bias is None else optimism_bias),
            qaly_value=float(appraisal["qaly_value"]),
            value_qalys=bool(appraisal["value_qalys"]),
            qaly_uprating=float(appraisal.get("qaly_uprating", 1.0)),
            qaly_price_year=appraisal.get("qaly_price_year"),
            optimism_bias_category=appraisal.get("optimism_bias_category"),
            optimism_bias_reason=appraisal.get("optimism_bias_reason"),
            benefit_delay_months=int(appraisal.get("benefit_delay_months", 0)),
            benefit_haircut=float(appraisal.get("benefit_haircut", 0.0)),
            outcome_values=values,
            employment_output_value=float(appraisal.get("employment_output_value", 0.0)),
            employment_output_source=appraisal.get("employment_output_source"),
        )

    def optimism_bias_block(self, source: str) -> dict:
        """What comparison.json says about optimism bias: the value, category, upper bound,
        reason, which costs it uplifted, and the benefit delay and haircut."""
        bound = OPTIMISM_BIAS_UPPER_BOUNDS.get(self.optimism_bias_category or "")
        return {"value": self.optimism_bias, "source": source,
                "category": self.optimism_bias_category, "upper_bound": bound,
                "stepped_down": bound is not None and self.optimism_bias < bound,
                "reason": self.optimism_bias_reason,
                "applied_to": list(OPTIMISM_BIAS_APPLIED_TO),
                "benefit_delay_months": self.benefit_delay_months,
                "benefit_haircut": self.benefit_haircut}


@dataclass(frozen=True)
class Accounts:
    """Which labelled series belong to whom: agencies, each agency's reactive services, cohorts,
    and each agency's reactive services marked ``transfer`` (payments such as benefits: cash to
    the agency, not a use of real resources)."""

    agencies: tuple[str, ...]
    reactive: Mapping[str, tuple[str, ...]]
    cohorts: tuple[str, ...]
    preventive: Mapping[str, tuple[str, ...]] | None = None  # None: not known (derive spend)
    transfers: Mapping[str, tuple[str, ...]] | None = None   # None: no transfers

    @classmethod
    def from_model(cls, model, scenario_data: Mapping | None = None) -> "Accounts":
        """From a compiled :class:`tpsim.models.structure.Model` and, for the services marked
        ``transfer``, the scenario's resolved data."""
        def of(kind: list[str], a: str) -> tuple[str, ...]:
            return tuple(v for v in kind if model.service_agency[v] == a)

        transfers = None
        if scenario_data is not None:
            marked = {v for v, sv in scenario_data["services"].items() if sv.get("transfer")}
            transfers = {a: tuple(v for v in of(model.reactive, a) if v in marked)
                         for a in model.agencies}
        return cls(tuple(model.agencies), {a: of(model.reactive, a) for a in model.agencies},
                   tuple(model.cohorts), {a: of(model.preventive, a) for a in model.agencies},
                   transfers)


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
    transfers: np.ndarray | None = None     # cashable savings on transfer services (benefits)
    transfer_non_cashable: np.ndarray | None = None  # non-cashable part of those savings
    uplift_base: np.ndarray | None = None   # the intervention's extra costs optimism bias uplifts
    valued: dict[str, np.ndarray] = field(default_factory=dict)  # series -> Δ (declared values)

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
_EMPLOYMENT = ("employed", "employment_value")  # people in work; their tax and NI (HMRC)


def monthly_flows(scenario: Mapping[str, np.ndarray], counterfactual: Mapping[str, np.ndarray],
                  accounts: Accounts, new_place_share: Mapping[str, np.ndarray] | None = None,
                  valued_series: Sequence[str] = ()) -> MonthlyFlows:
    """Costs borne and savings received per agency (and the pool), month by month.

    ``scenario`` and ``counterfactual`` are one run's labelled series each (same months).
    ``new_place_share[a]`` (months, fraction): the share of agency a's own preventive spend in
    the scenario that is on places above the counterfactual's planned places (from the
    parameters, :func:`tpsim.analysis.comparison.new_place_shares`); it sets the agency's part
    of the optimism-bias base (no agency part when None). ``valued_series``: series whose
    change is valued (``appraisal.outcome_values``).
    """
    s = agency_spend_split(scenario, accounts)
    c = agency_spend_split(counterfactual, accounts)
    costs = s["investment"] - c["investment"]
    cashable = -(s["reactive"] - c["reactive"])
    # avoided full-cost value of reactive activity, less the avoided reactive cash spend
    non_cashable = -(s["value"] - c["value"]) + (s["reactive_cash"] - c["reactive_cash"])

    def service_sum(series, prefix, services) -> np.ndarray:
        total = np.zeros_like(s["spend"][0])
        for v in services:
            total = total + np.asarray(series[f"{prefix}.{v}"], dtype=float)
        return total

    # savings on transfer services (benefits): in the fiscal case, out of the economic case
    transfers = np.zeros_like(cashable)
    transfer_non_cashable = np.zeros_like(cashable)
    for i, a in enumerate(accounts.agencies):
        marked = (accounts.transfers or {}).get(a, ())
        if marked:
            cash = service_sum(scenario, "spend.service", marked) - service_sum(
                counterfactual, "spend.service", marked)
            value = service_sum(scenario, "value.service", marked) - service_sum(
                counterfactual, "value.service", marked)
            transfers[i] = -cash
            transfer_non_cashable[i] = -value + cash

    # optimism-bias base: agency-funded new places, and the pool's programme spending net of
    # the recycled captured savings that finance it
    agency_base = np.zeros_like(costs)
    if new_place_share is not None:
        extra_preventive = np.maximum(s["preventive"] - c["preventive"], 0.0)
        for i, a in enumerate(accounts.agencies):
            share = np.asarray(new_place_share.get(a, 0.0), dtype=float)
            agency_base[i] = np.minimum(extra_preventive[i], share * s["preventive"][i])
    if "pool.spend" in scenario and "pool.spend" in counterfactual:
        def programme(series) -> np.ndarray:
            return (np.asarray(series["pool.spend"], dtype=float)
                    - np.asarray(series["pool.reinvested"], dtype=float))
        pool_base = programme(scenario) - programme(counterfactual)
    else:
        pool_base = np.zeros_like(s["spend"][0])
    valued = {name: np.asarray(scenario[name], dtype=float)
              - np.asarray(counterfactual[name], dtype=float) for name in valued_series}

    def balance_increment(series: Mapping[str, np.ndarray]) -> np.ndarray:
        balance = np.asarray(series["pool.balance"], dtype=float)
        return np.diff(balance, prepend=0.0)  # the pool opens empty: balance 0 at month 0

    retained = balance_increment(scenario) - balance_increment(counterfactual)
    zeros = np.zeros_like(retained)
    outcomes = {f"{m}.{co}": np.asarray(scenario[f"{m}.{co}"], dtype=float)
                - np.asarray(counterfactual[f"{m}.{co}"], dtype=float)
                for m in _OUTCOMES for co in accounts.cohorts}
    for m in _EMPLOYMENT:  # older timeseries files may lack them: no change in work then
        for co in accounts.cohorts:
            name = f"{m}.{co}"
            outcomes[name] = (np.asarray(scenario[name], dtype=float)
                              - np.asarray(counterfactual[name], dtype=float)
                              if name in scenario and name in counterfactual else zeros.copy())
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
        transfers=np.vstack([transfers, zeros[None, ...]]),
        transfer_non_cashable=np.vstack([transfer_non_cashable, zeros[None, ...]]),
        uplift_base=np.vstack([agency_base, pool_base[None, ...]]),
        valued=valued,
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
    "pv_optimism_bias_parliament", "pv_optimism_bias_horizon",
    "pv_uplifted_costs_parliament", "pv_uplifted_costs_horizon",
    "pv_cashable_savings_parliament", "pv_cashable_savings_horizon",
    "pv_non_cashable_savings_parliament", "pv_non_cashable_savings_horizon",
    "pv_transfer_savings_parliament", "pv_transfer_savings_horizon",
    "pv_qaly_value_parliament", "pv_qaly_value_horizon",
    "pv_outcome_value_parliament", "pv_outcome_value_horizon",
    "pv_employment_output_parliament", "pv_employment_output_horizon",
    "npv_parliament", "npv_horizon", "fiscal_npv_parliament", "fiscal_npv_horizon",
    "economic_npv_parliament", "economic_npv_horizon", "npsv_parliament", "npsv_horizon",
    "bcr", "economic_bcr", "social_bcr", "payback_month", "pays_back_in_parliament",
)
"""The figures reported for every agency, the pool and the total (comparison.csv columns)."""


def adjust_benefits(monthly: np.ndarray, settings: AppraisalSettings) -> np.ndarray:
    """Optimism bias on benefits: a benefit stream delayed by ``benefit_delay_months`` (the
    first months get nothing) and cut by ``benefit_haircut`` (months on the last axis)."""
    x = np.asarray(monthly, dtype=float)
    k = int(settings.benefit_delay_months)
    if k > 0:
        shifted = np.zeros_like(x)
        if k < x.shape[-1]:
            shifted[..., k:] = x[..., :-k]
        x = shifted
    return x * (1.0 - settings.benefit_haircut)


def _row_metrics(costs, uplifted, cashable, non_cashable, transfers, transfer_non_cashable, df,
                 parliament, settings, qaly_value_pv=None, outcome_value_pv=None,
                 employment_pv=None, has_bcr=True) -> dict:
    """The :data:`ROW_METRICS` of one row from its monthly arrays (£ in the month).

    Undiscounted sums are of the modelled streams; present values apply the benefit delay and
    haircut to every benefit stream (cashable, non-cashable, transfer, QALY, outcome and
    employment output values). ``employment_pv`` (discounted, total row only) is a real
    resource benefit: it is in the economic NPV and so in the NPSV.
    """
    out: dict = {}
    zero = np.zeros_like(costs)
    qaly = zero if qaly_value_pv is None else qaly_value_pv        # already adjusted
    valued = zero if outcome_value_pv is None else outcome_value_pv
    output = zero if employment_pv is None else employment_pv
    adj = {name: adjust_benefits(x, settings) for name, x in
           (("cashable", cashable), ("non_cashable", non_cashable), ("transfers", transfers),
            ("transfer_non_cashable", transfer_non_cashable))}
    resource = adj["cashable"] - adj["transfers"] + adj["non_cashable"] - adj["transfer_non_cashable"]
    for name, monthly in (("costs", costs), ("cashable_savings", cashable),
                          ("non_cashable_savings", non_cashable),
                          ("net_fiscal", cashable - costs)):
        out[f"{name}_parliament"], out[f"{name}_horizon"] = _periods(monthly, parliament)
    fiscal = df * (adj["cashable"] - uplifted)
    economic = df * (resource - uplifted) + output
    for name, monthly in (("pv_costs", df * costs), ("pv_uplifted_costs", df * uplifted),
                          ("pv_optimism_bias", df * (uplifted - costs)),
                          ("pv_cashable_savings", df * adj["cashable"]),
                          ("pv_non_cashable_savings", df * adj["non_cashable"]),
                          ("pv_transfer_savings", df * (adj["transfers"] + adj["transfer_non_cashable"])),
                          ("pv_qaly_value", qaly), ("pv_outcome_value", valued),
                          ("pv_employment_output", output),
                          ("npv", fiscal), ("fiscal_npv", fiscal),
                          ("economic_npv", economic),
                          ("npsv", economic + qaly + valued)):
        out[f"{name}_parliament"], out[f"{name}_horizon"] = _periods(monthly, parliament)
    if has_bcr:
        pv_c = out["pv_uplifted_costs_horizon"]
        out["bcr"] = benefit_cost_ratio(out["pv_cashable_savings_horizon"], pv_c)
        resource_pv = out["economic_npv_horizon"] + pv_c
        out["economic_bcr"] = benefit_cost_ratio(resource_pv, pv_c)
        out["social_bcr"] = benefit_cost_ratio(
            resource_pv + out["pv_qaly_value_horizon"] + out["pv_outcome_value_horizon"], pv_c)
        pb = payback_month(fiscal)
    else:
        out["bcr"] = out["economic_bcr"] = out["social_bcr"] = None
        pb = None
    out["payback_month"] = pb
    out["pays_back_in_parliament"] = None if not has_bcr else (pb is not None and pb <= parliament)
    return {k: out[k] for k in ROW_METRICS}


def outcome_value_streams(flows: MonthlyFlows, settings: AppraisalSettings) -> dict[str, np.ndarray]:
    """Discounted £ value per month of each declared outcome (``appraisal.outcome_values``):
    ``±Δseries x value x DF`` (minus for ``per: avoided``; the health rate when
    ``discount: health``), after the benefit delay and haircut (applied before discounting)."""
    n = flows.n_months
    out = {}
    for ov in settings.outcome_values:
        rate = settings.health_discount_rate if ov.discount == "health" else settings.discount_rate
        sign = -1.0 if ov.per == "avoided" else 1.0
        out[ov.series] = (sign * ov.value * discount_factors(n, rate)
                          * adjust_benefits(flows.valued[ov.series], settings))
    return out


def employment_output_stream(flows: MonthlyFlows, settings: AppraisalSettings) -> np.ndarray:
    """Discounted £ value per month of the output of the extra people in work:
    ``ΔE x employment_output_value x DF`` with ``ΔE`` the change in person-months in work
    (``employed.<cohort>``, all cohorts), after the benefit delay and haircut. A real resource
    benefit (economic NPV and NPSV); the tax and NI on it and the benefits saved are transfers
    and stay out."""
    n = flows.n_months
    if not settings.employment_output_value:
        return np.zeros(n)
    employed = sum((v for k, v in flows.outcomes.items() if k.startswith("employed.")), np.zeros(n))
    return (settings.employment_output_value * discount_factors(n, settings.discount_rate)
            * adjust_benefits(employed, settings))


def qaly_value_stream(flows: MonthlyFlows, settings: AppraisalSettings) -> np.ndarray:
    """Discounted £ value per month of the QALYs gained (0 unless ``value_qalys``):
    ``ΔQ x qaly_value x qaly_uprating x DFh``, after the benefit delay and haircut (applied
    before discounting)."""
    n = flows.n_months
    if not settings.value_qalys:
        return np.zeros(n)
    qalys = sum((v for k, v in flows.outcomes.items() if k.startswith("qalys.")), np.zeros(n))
    return (settings.qaly_value_used * discount_factors(n, settings.health_discount_rate)
            * adjust_benefits(qalys, settings))


def outcome_figures(flows: MonthlyFlows, settings: AppraisalSettings) -> dict:
    """Outcomes avoided or gained, per cohort and in total, over the Parliament and horizon.

    ``escalations_avoided`` (people moving up a need state), ``crisis_person_months_avoided``
    (person-months in each cohort's highest need state), ``exits_avoided`` (deaths and moves
    away), ``qalys_gained`` (undiscounted), ``pv_qalys_gained`` (discounted at the health rate)
    and ``pv_qaly_value`` (£, ``pv_qalys_gained x qaly_value x qaly_uprating``; in the NPSV when
    ``value_qalys``); ``valued`` holds each declared outcome value (PV, £, and its source).
    """
    n = flows.n_months
    parliament = min(settings.parliament_months, n)
    dfh = discount_factors(n, settings.health_discount_rate)
    cohorts = flows.cohorts

    df = discount_factors(n, settings.discount_rate)

    def figures(delta: Mapping[str, np.ndarray]) -> dict:
        out = {}
        for key, monthly in (("employment_gained", delta["employed"]),
                             ("pv_employment_output",  # as employment_output_stream
                              settings.employment_output_value * df
                              * adjust_benefits(delta["employed"], settings)),
                             ("employment_tax_gained", delta["employment_value"]),
                             ("escalations_avoided", -delta["escalations"]),
                             ("crisis_person_months_avoided", -delta["crisis_person_months"]),
                             ("exits_avoided", -delta["exits"]),
                             ("qalys_gained", delta["qalys"]),
                             ("pv_qalys_gained", dfh * delta["qalys"]),
                             ("pv_qaly_value", settings.qaly_value_used * dfh * delta["qalys"])):
            out[f"{key}_parliament"], out[f"{key}_horizon"] = _periods(monthly, parliament)
        return out

    def delta(m: str, c: str) -> np.ndarray:
        return flows.outcomes.get(f"{m}.{c}", np.zeros(n))

    measures = (*_OUTCOMES, *_EMPLOYMENT)
    by_cohort = {c: figures({m: delta(m, c) for m in measures}) for c in cohorts}
    total = figures({m: sum((delta(m, c) for c in cohorts), np.zeros(n)) for m in measures})
    valued = {}
    for ov in settings.outcome_values:
        stream = outcome_value_streams(flows, settings)[ov.series]
        valued[ov.series] = {"value": ov.value, "per": ov.per, "discount": ov.discount,
                             "source": ov.source,
                             "change_horizon": float(flows.valued[ov.series].sum()),
                             "pv_value_parliament": float(stream[:parliament].sum()),
                             "pv_value_horizon": float(stream.sum())}
    employment = {"value_per_person_month": settings.employment_output_value,
                  "source": settings.employment_output_source,
                  "in_economic_npv": bool(settings.employment_output_value)}
    return {"total": total, "by_cohort": by_cohort, "valued": valued, "employment": employment}


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
    discounted_npsv: np.ndarray | None = None  # months: total NPSV stream, discounted

    @property
    def total(self) -> dict:
        return self.rows[TOTAL_ROW]

    def headline(self) -> dict:
        """The figures a reader asks for first: the NPSV over the horizon (the headline), the
        economic NPV and the fiscal NPV (total and per agency), BCRs and fiscal payback."""
        t = self.total
        return {
            "headline": "npsv",
            "npsv": t["npsv_horizon"],
            "npsv_parliament": t["npsv_parliament"],
            "economic_npv": t["economic_npv_horizon"],
            "fiscal_npv": t["fiscal_npv_horizon"],
            "fiscal_npv_by_agency": {r: self.rows[r]["fiscal_npv_horizon"] for r in self.rows
                                     if r != TOTAL_ROW},
            "npv": t["npv_horizon"],
            "npv_basis": "npv is the fiscal NPV (an alias of fiscal_npv): PV of cashable savings "
                         "minus PV of costs with optimism bias, all agencies and the pool, over "
                         "the horizon; the headline is npsv",
            "npv_parliament": t["npv_parliament"],
            "bcr": t["bcr"],
            "economic_bcr": t["economic_bcr"],
            "social_bcr": t["social_bcr"],
            "payback_month": t["payback_month"],
            "pays_back_in_parliament": t["pays_back_in_parliament"],
        }


def uplifted_costs(flows: MonthlyFlows, settings: AppraisalSettings) -> np.ndarray:
    """Costs with optimism bias, rows x months: ``C + ob x max(base, 0)`` where the base is
    :attr:`MonthlyFlows.uplift_base` (the intervention's new costs; none when not known)."""
    base = np.zeros_like(flows.costs) if flows.uplift_base is None else flows.uplift_base
    return flows.costs + settings.optimism_bias * np.maximum(base, 0.0)


def appraise(flows: MonthlyFlows, settings: AppraisalSettings) -> Appraisal:
    """Fiscal NPV, economic NPV and NPSV, BCRs and payback per agency, for the pool's balance
    and in total (docs/appraisal.md states every formula).

    Fiscal NPV = Σ DF x (cashable - uplifted costs); economic NPV = Σ DF x (cashable - transfer
    savings + non-cashable - uplifted costs) + (total row) the output of the extra people in
    work; NPSV = economic NPV + (total row) the QALYs gained
    valued at ``qaly_value x qaly_uprating`` discounted at the health rate + the declared
    outcome values. The total row is the sum of the agency rows and the pool row, for every
    additive figure.
    """
    n = flows.n_months
    parliament = min(settings.parliament_months, n)
    df = discount_factors(n, settings.discount_rate)
    is_agency = np.array([r != POOL_ROW for r in flows.rows])
    uplifted = uplifted_costs(flows, settings)
    zeros = np.zeros_like(flows.costs)
    transfers = zeros if flows.transfers is None else flows.transfers
    transfer_nc = zeros if flows.transfer_non_cashable is None else flows.transfer_non_cashable
    outcomes = outcome_figures(flows, settings)
    rows = {}
    for i, name in enumerate(flows.rows):
        rows[name] = _row_metrics(flows.costs[i], uplifted[i], flows.cashable[i],
                                  flows.non_cashable[i], transfers[i], transfer_nc[i], df,
                                  parliament, settings, has_bcr=bool(is_agency[i]))
    qaly_pv = qaly_value_stream(flows, settings)
    valued_pv = sum(outcome_value_streams(flows, settings).values(), np.zeros(n))
    output_pv = employment_output_stream(flows, settings)
    total_cashable = flows.cashable.sum(axis=0)
    total_uplifted = uplifted.sum(axis=0)
    rows[TOTAL_ROW] = _row_metrics(flows.costs.sum(axis=0), total_uplifted, total_cashable,
                                   flows.non_cashable.sum(axis=0), transfers.sum(axis=0),
                                   transfer_nc.sum(axis=0), df, parliament, settings, qaly_pv,
                                   valued_pv, output_pv)
    net = flows.net()
    reconciliation = {
        "agency_spend": float(np.max(np.abs(net[:-1] + flows.spend_change), initial=0.0)),
        "total_spend": float(np.max(np.abs(net.sum(axis=0) + flows.total_spend_change), initial=0.0)),
    }
    resource = adjust_benefits(total_cashable - transfers.sum(axis=0) + flows.non_cashable.sum(axis=0)
                               - transfer_nc.sum(axis=0), settings)
    npsv_stream = df * (resource - total_uplifted) + output_pv + qaly_pv + valued_pv
    fiscal_stream = df * (adjust_benefits(total_cashable, settings) - total_uplifted)
    return Appraisal(settings, rows, outcomes, parliament, n, fiscal_stream, reconciliation,
                     npsv_stream)


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
    return (uplifted_costs(flows, settings)[:-1] * df).sum(axis=1)


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
