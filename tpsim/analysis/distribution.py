"""Distributional analysis of a scenario whose cohorts carry a deprivation band
(``<cohort>_q1 .. <cohort>_q5``, built by :mod:`tpsim.place.bands`): outcomes and NPSV by band,
and an NPSV with Green Book distributional weights beside the unweighted one (docs/appraisal.md,
"Distributional analysis", states every formula).

By band ``q`` (money: present values in £ at the scenario's price year, over the horizon):

* ``pv_preventive_cost`` = Σ DF x Δspend on the band's preventive services (public money);
* ``pv_resource_savings`` = Σ DF x adj(-Δvalue of the band's reactive, non-transfer services)
  (the full-cost value of reactive activity avoided: cashable and non-cashable);
* ``pv_qaly_value`` = Σ DFh x adj(ΔQALYs of the band's cohorts) x QALY value (when
  ``value_qalys``), and ``pv_outcome_values`` the declared outcome values of the band's
  cohorts and services: the **household** impacts, which accrue to the band's residents;
* ``npsv`` = -cost + savings + QALY value + outcome values.

``place_wide`` = NPSV - Σ_q npsv_q: what no band carries (optimism bias, overheads, the pool's
set-up, double running and balance, services outside the bands), so the bands and the
place-wide remainder add up to the headline NPSV exactly.

Weights: ``w_q = (median income / band income) ** 1.3`` (Green Book 2022 Annex A3: the
elasticity of the marginal utility of income). Only household impacts are weighted; public
costs and savings fall on taxpayers at large and keep weight 1, so

    weighted NPSV = NPSV + Σ_q (w_q - 1) x (pv_qaly_value_q + pv_outcome_values_q).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tpsim.analysis.appraisal import (AppraisalSettings, adjust_benefits, discount_factors,
                                      outcome_value_streams)

__all__ = ["ELASTICITY", "BAND_INCOME_RATIO", "MEDIAN_INCOME", "INCOME_SOURCE", "BandFlows",
           "band_weights", "distribution", "scenario_bands", "case_distribution"]

#: Elasticity of the marginal utility of income (Green Book 2022, Annex A3).
ELASTICITY = 1.3

#: Median household disposable income, UK, £ a year, FYE 2023 (ONS, Household disposable
#: income and inequality, UK: financial year ending 2023, released 24 September 2024, main
#: points: "median household disposable income in the UK was £34,500").
MEDIAN_INCOME = 34500.0
#: Each national IMD quintile's typical household income as a ratio of the median: an
#: assumption (no ONS table of household income by IMD quintile was read). The IMD income
#: domain ranks neighbourhoods by the share of people on low-income benefits, so income falls
#: with deprivation; the ratios span 0.70 (q1) to 1.35 (q5), about the spread of ONS small-area
#: (MSOA) net household income estimates between the most and the least deprived areas.
BAND_INCOME_RATIO = {"q1": 0.70, "q2": 0.85, "q3": 1.00, "q4": 1.15, "q5": 1.35}
INCOME_SOURCE = ("assumption: band incomes are the ratios BAND_INCOME_RATIO "
                 "(q1 0.70 .. q5 1.35) of the UK median household disposable "
                 "income, GBP 34,500 in FYE 2023 (ONS Household disposable income and "
                 "inequality, UK: FYE 2023); no ONS table of income by IMD quintile was read")
INCOME_PRICE_YEAR = "2022-23"


def band_weights(incomes: Mapping[str, float], median: float,
                 elasticity: float = ELASTICITY) -> dict[str, float]:
    """Green Book distributional weight of each band: ``(median / income) ** elasticity``."""
    return {q: (median / y) ** elasticity for q, y in incomes.items()}


@dataclass
class BandFlows:
    """One band's monthly changes against the counterfactual (months on the axis): £ in the
    month of preventive spend (``cost``) and of reactive full-cost value avoided
    (``resource_saving``), QALYs (``qalys``), and the present value of its declared outcome
    values (``pv_outcome_values``, £, already discounted and adjusted); ``outcomes`` the
    undiscounted totals of its outcome measures (people, person-months, QALYs)."""

    cost: np.ndarray
    resource_saving: np.ndarray
    qalys: np.ndarray
    pv_outcome_values: float = 0.0
    outcomes: Mapping[str, float] | None = None
    population: float = 0.0


def distribution(bands: Mapping[str, BandFlows], settings: AppraisalSettings, npsv: float,
                 incomes: Mapping[str, float] | None = None, median: float = MEDIAN_INCOME,
                 elasticity: float = ELASTICITY) -> dict:
    """The ``distribution`` block (the module docstring's formulas): per band its population
    share, income, weight, outcomes and NPSV parts; the place-wide remainder; the unweighted
    NPSV (``npsv``, the headline's) and ``weighted_npsv`` beside it. ``incomes`` (£ a year by
    band) default to :data:`BAND_INCOME_RATIO` x ``median``."""
    given = incomes is not None
    if incomes is None:
        incomes = {q: BAND_INCOME_RATIO[q] * median for q in bands}
    weights = band_weights({q: incomes[q] for q in bands}, median, elasticity)
    people = sum(b.population for b in bands.values())
    out_bands = {}
    household_gain = 0.0
    for q, b in bands.items():
        n = b.cost.shape[-1]
        df = discount_factors(n, settings.discount_rate)
        pv_cost = float((df * b.cost).sum())
        pv_savings = float((df * adjust_benefits(b.resource_saving, settings)).sum())
        pv_qaly = 0.0
        if settings.value_qalys:
            dfh = discount_factors(n, settings.health_discount_rate)
            pv_qaly = float((settings.qaly_value_used * dfh
                             * adjust_benefits(b.qalys, settings)).sum())
        household = pv_qaly + b.pv_outcome_values
        band_npsv = -pv_cost + pv_savings + household
        household_gain += (weights[q] - 1.0) * household
        out_bands[q] = {
            "population_share": b.population / people if people > 0 else None,
            "income": incomes[q], "weight": weights[q],
            "outcomes": dict(b.outcomes or {}),
            "pv_preventive_cost": pv_cost, "pv_resource_savings": pv_savings,
            "pv_qaly_value": pv_qaly, "pv_outcome_values": b.pv_outcome_values,
            "household_benefits": household, "npsv": band_npsv,
            "weighted_household_benefits": weights[q] * household,
        }
    bands_total = sum(v["npsv"] for v in out_bands.values())
    return {
        "elasticity": elasticity, "median_income": median,
        "income_source": "given by the caller" if given or median != MEDIAN_INCOME
        else INCOME_SOURCE,
        "income_price_year": INCOME_PRICE_YEAR,
        "bands": out_bands,
        "npsv": npsv,
        "npsv_bands": bands_total,
        "place_wide": npsv - bands_total,
        "weighted_npsv": npsv + household_gain,
        "basis": "weighted_npsv = npsv + sum over bands of (weight - 1) x household_benefits "
                 "(QALY and declared outcome values accruing to the band's residents); public "
                 "costs and savings keep weight 1; weight = (median_income / income) ** "
                 "elasticity (Green Book Annex A3). Supplementary: the headline is npsv",
    }


def scenario_bands(scenario_data: Mapping) -> dict[str, dict[str, list[str]]]:
    """The bands of a scenario: band -> {"cohorts": [...], "services": [...]} for the cohorts
    named ``<cohort>_q1 .. _q5`` and the services on them (empty when no cohort is banded)."""
    from tpsim.place.bands import band_of

    out: dict[str, dict[str, list[str]]] = {}
    for c in scenario_data["cohorts"]:
        b = band_of(c)
        if b is not None:
            out.setdefault(b[1], {"cohorts": [], "services": []})["cohorts"].append(c)
    for v, sv in scenario_data["services"].items():
        b = band_of(sv["cohort"])
        if b is not None and b[1] in out:
            out[b[1]]["services"].append(v)
    return dict(sorted(out.items()))


_MEASURES = (("escalations_avoided", "escalations", -1.0),
             ("crisis_person_months_avoided", "crisis_person_months", -1.0),
             ("exits_avoided", "exits", -1.0), ("qalys_gained", "qalys", 1.0))


def _band_flows(members: Mapping[str, Sequence[str]], scenario_data: Mapping,
                s: Mapping[str, np.ndarray], c: Mapping[str, np.ndarray],
                settings: AppraisalSettings, valued_pv: Mapping[str, float]) -> BandFlows:
    def delta(name: str) -> np.ndarray:
        return np.asarray(s[name], dtype=float) - np.asarray(c[name], dtype=float)

    n = len(np.asarray(s["spend.total"]))
    cost, saving, qalys = np.zeros(n), np.zeros(n), np.zeros(n)
    for v in members["services"]:
        sv = scenario_data["services"][v]
        if sv["kind"] == "preventive":
            cost += delta(f"spend.service.{v}")
        elif not sv.get("transfer"):
            saving -= delta(f"value.service.{v}")
    outcomes = {}
    for key, measure, sign in _MEASURES:
        outcomes[f"{key}_horizon"] = float(sum(sign * delta(f"{measure}.{co}").sum()
                                              for co in members["cohorts"]))
    for co in members["cohorts"]:
        qalys += delta(f"qalys.{co}")
    mine = set(members["cohorts"]) | {f"activity.{v}" for v in members["services"]}
    pv_values = sum(pv for series, pv in valued_pv.items()
                    if series.split(".", 1)[1] in mine or series in mine)
    population = sum(float(st["initial"]) for co in members["cohorts"]
                     for st in scenario_data["cohorts"][co]["states"].values())
    return BandFlows(cost, saving, qalys, float(pv_values), outcomes, population)


def case_distribution(case, counterfactual_series: Mapping[str, np.ndarray],
                      incomes: Mapping[str, float] | None = None,
                      median: float = MEDIAN_INCOME) -> dict | None:
    """The ``distribution`` block of one appraised case (a
    :class:`tpsim.analysis.comparison.Case`) against the counterfactual's series, or None
    when the scenario's cohorts carry no band."""
    data = case.scenario.data
    bands = scenario_bands(data)
    if not bands:
        return None
    series = {name: arr[case.run] for name, arr in case.results.series.items()}
    valued_pv = {k: float(v.sum()) for k, v in
                 outcome_value_streams(case.flows, case.settings).items()}
    flows = {q: _band_flows(m, data, series, counterfactual_series, case.settings, valued_pv)
             for q, m in bands.items()}
    npsv = case.appraisal.headline()["npsv"]
    return distribution(flows, case.settings, npsv, incomes, median)
