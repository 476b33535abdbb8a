"""The executive summary of a business case, from the figures alone: the options ranked by net
present social value (NPSV), each with its fiscal NPV, who bears the largest net cost and who
gains most, its payback, the section 114 months it moves, the chance of a positive NPSV (and
fiscal NPV) and the NPSV's sampled range when an uncertainty analysis was run, and the
switching values nearest its central case; and
plain sentences that say only what those figures say (no recommendation).

Input: the ``comparison.json`` entries of the options (:func:`tpsim.present.documents.
scenario_entry`) and, optionally, the ensemble's metrics per option (``EnsembleSummary.metrics``).
Money in £; months 1 = the first simulated month.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from tpsim.present import style as st
from tpsim.present.labels import agency_label, parameter_label, scenario_label
from tpsim.present.wording import payback_sentence

#: Switching values shown per option in the summary (nearest the central value first).
SWITCHING_SHOWN = 3

_SMALL = 1e3  # £: an agency row with less than this in costs and savings is "not involved"


@dataclass
class Option:
    """One option's summary figures (money in £)."""

    name: str
    label: str
    rank: int
    npsv: float
    fiscal_npv: float
    economic_npv: float
    payback_month: int | None
    pays_back_in_parliament: bool
    npsv_break_even: int | None
    break_even_searched: int | None
    largest_cost: tuple[str, float] | None      # (agency label, its fiscal NPV < 0)
    largest_gain: tuple[str, float] | None      # (agency label, its fiscal NPV > 0)
    section_114: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    switching: list[dict] = field(default_factory=list)   # see :func:`key_switching_values`
    probability_positive: float | None = None   # of the fiscal NPV, over the Monte Carlo runs
    npv_range: tuple[float, float] | None = None  # fiscal NPV 10th and 90th percentiles
    runs: int | None = None
    npsv_probability_positive: float | None = None  # of the NPSV, over the Monte Carlo runs
    npsv_range: tuple[float, float] | None = None   # NPSV 10th and 90th percentiles
    npsv_mean: float | None = None                  # NPSV, the mean over the runs


def money(value: float) -> str:
    """Signed £ in words for a sentence: ``+£63.3m``, ``−£11.7m``."""
    text = st.money(value)
    return text if value < 0 else "+" + text


def _ratio_distance(entry: dict) -> float:
    central, value = entry["central"], entry["value"]
    if central and central > 0 and value is not None and value > 0:
        return abs(math.log(value / central))
    return math.inf


def key_switching_values(entry: dict, shown: int = SWITCHING_SHOWN) -> list[dict]:
    """The switching values that matter most for one option: those of its NPSV that lie nearest
    the central value (by ratio), then the nearest of its fiscal NPV, ``shown`` in all. Each is
    the ``comparison.json`` entry (``parameter``, ``central``, ``value``, ``case``)."""
    found = [e for e in entry.get("switching_values") or [] if e.get("value") is not None]
    npsv = sorted((e for e in found if e["case"] == "npsv"), key=_ratio_distance)
    fiscal = sorted((e for e in found if e["case"] != "npsv"), key=_ratio_distance)
    picked = npsv[:max(shown - 1, 1)] + fiscal[:1]
    picked += [e for e in npsv[max(shown - 1, 1):] if len(picked) < shown]
    return sorted(picked[:shown], key=lambda e: (e["case"] != "npsv", _ratio_distance(e)))


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym (``NHS``)."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() or not text else text[:1].lower() + text[1:]


def switching_value_text(scenario, entry: dict, qaly_price_year: str | None = None) -> str:
    """A switching value as the clause of a sentence: ``"every preventive effect were 45%
    smaller than assumed"``, ``"the value of a QALY were £24,745 rather than £70,000 (2020-21
    prices)"``, ``"the unit cost of home-care reablement were £8,423 rather than £1,731"``."""
    name, central, value = entry["parameter"], entry["central"], entry["value"]
    fmt = value_format(name)
    if name == "preventive_effect_multiplier":
        change = (1.0 - value) * 100.0
        return (f"every preventive effect were {abs(change):.0f}% "
                f"{'smaller' if change > 0 else 'larger'} than assumed")
    label = parameter_label(scenario, name)
    if ": " in label:
        thing, key = label.rsplit(": ", 1)
        what = f"the {key} of {_lower_first(thing)}"
    else:
        what = "the " + _lower_first(label) if not label.isupper() else label
    prices = f" ({qaly_price_year} prices)" if name == "appraisal.qaly_value" and qaly_price_year else ""
    return f"{what} were {fmt(value)} rather than {fmt(central)}{prices}"


def value_format(parameter: str):
    """How a parameter's values read: £ for unit costs and the QALY value, a percentage for
    optimism bias, ``×0.55`` for a multiplier, else three significant figures."""
    if parameter.endswith("unit_cost") or parameter.endswith("qaly_value") or parameter.endswith("_cost"):
        return lambda v: f"£{v:,.0f}"
    if parameter.endswith("optimism_bias"):
        return lambda v: f"{v:.0%}"
    if parameter.endswith("multiplier"):
        return lambda v: f"×{v:.2f}"
    return lambda v: f"{v:.3g}"


def _agency_extremes(scenario, entry: dict):
    # agencies only: the pooled budget's row is the agencies' money, not another payer
    rows = {a: r for a, r in entry["agencies"].items()
            if abs(r["pv_uplifted_costs_horizon"]) + abs(r["pv_cashable_savings_horizon"]) > _SMALL}
    net = {a: r["fiscal_npv_horizon"] for a, r in rows.items()}
    worst = min(net, key=net.get, default=None)
    best = max(net, key=net.get, default=None)
    cost = (agency_label(scenario, worst), net[worst]) if worst and net[worst] < -_SMALL else None
    gain = (agency_label(scenario, best), net[best]) if best and net[best] > _SMALL else None
    return cost, gain


def _range(metric: dict) -> tuple[float, float]:
    """The sampled range of an ensemble metric: its 10th and 90th percentiles."""
    return metric["percentiles"]["p10"], metric["percentiles"]["p90"]


def options(comparison, entries: dict[str, dict], metrics: dict | None = None,
            runs: int | None = None) -> list[Option]:
    """Every option of ``comparison`` with its summary figures, best NPSV first. ``entries``:
    scenario name -> its ``comparison.json`` block; ``metrics``: scenario name -> ensemble
    metrics (``npsv`` and ``npv`` percentiles, ``probability_npsv_positive``,
    ``probability_beats_counterfactual``), when run."""
    out = []
    for case in comparison.cases:
        sc = case.scenario
        e = entries[sc.name]
        cost, gain = _agency_extremes(sc, e)
        be = e.get("break_even") or {}
        s114 = [(agency_label(sc, a), v.get("month"), v.get("counterfactual_month"))
                for a, v in (e.get("section_114") or {}).items()]
        m = (metrics or {}).get(sc.name)
        out.append(Option(
            name=sc.name, label=scenario_label(sc), rank=0, npsv=e["npsv"],
            fiscal_npv=e["fiscal_npv"], economic_npv=e["economic_npv"],
            payback_month=e["payback_month"], pays_back_in_parliament=e["pays_back_in_parliament"],
            npsv_break_even=be.get("npsv_month"), break_even_searched=be.get("months_searched"),
            largest_cost=cost, largest_gain=gain, section_114=s114,
            switching=key_switching_values(e),
            probability_positive=None if m is None else m["probability_beats_counterfactual"],
            npv_range=None if m is None else _range(m["npv"]),
            runs=runs if m is not None else None,
            npsv_probability_positive=None if not m or "npsv" not in m
            else m["probability_npsv_positive"],
            npsv_range=None if not m or "npsv" not in m else _range(m["npsv"]),
            npsv_mean=None if not m or "npsv" not in m else m["npsv"]["mean"]))
    out.sort(key=lambda o: -o.npsv)
    for k, o in enumerate(out, start=1):
        o.rank = k
    return out


def _payback_words(o: Option, horizon: int) -> str:
    """The cash payback (:func:`tpsim.present.wording.payback_sentence`, the wording of every
    output) and the month the social value breaks even."""
    text = payback_sentence(o.payback_month, o.pays_back_in_parliament)
    if o.npsv_break_even is not None:
        text += f" Its social value (NPSV) turns positive in month {o.npsv_break_even}."
    elif o.break_even_searched:
        text += (f" Its social value (NPSV) is still negative after {o.break_even_searched} "
                 "months.")
    return text


def possessive(name: str) -> str:
    """``"Police" -> "Police's"``, ``"Council children's services" -> "... services'"``."""
    return name + ("'" if name.endswith("s") else "'s")


def section_114_words(o: Option) -> str | None:
    """What the option does to each council's section 114 month, in one clause, or None."""
    parts = []
    for council, month, cf_month in o.section_114:
        if month is None and cf_month is None:
            continue
        if month is None:
            parts.append(f"keeps {possessive(council)} reserves above zero (below zero from month "
                         f"{cf_month} in the counterfactual)")
        elif cf_month is None:
            parts.append(f"takes {possessive(council)} reserves below zero from month {month}, which the "
                         "counterfactual avoids")
        elif month < cf_month:
            parts.append(f"brings {possessive(council)} section 114 month forward from {cf_month} to {month}")
        elif month > cf_month:
            parts.append(f"puts {possessive(council)} section 114 month back from {cf_month} to {month}")
        else:
            parts.append(f"leaves {possessive(council)} section 114 month at {month}")
    if not parts:
        return None
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def sentences(opts: list[Option], counterfactual, horizon: int,
              scenarios: dict, qaly_price_years: dict | None = None) -> list[str]:
    """The summary in plain sentences generated from the figures, in reading order: the
    ranking, how sure the figures are, then per option what it costs whom, its payback and
    section 114 effects, and its switching values."""
    cf = scenario_label(counterfactual)
    out: list[str] = []
    if not opts:
        return out
    best = opts[0]
    if len(opts) == 1:
        out.append(f"{best.label} has a net present social value (NPSV, the Green Book's headline "
                   f"measure) of {money(best.npsv)} over {horizon} months against {cf} (the "
                   "counterfactual).")
    else:
        others = ", ".join(f"{o.label} ({money(o.npsv)})" for o in opts[1:])
        lead = ("ranks first" if best.npsv > 0 else
                "has the least negative NPSV; no option has a positive one")
        out.append(f"On net present social value (NPSV, the Green Book's headline measure), "
                   f"{best.label} {lead}: {money(best.npsv)} over {horizon} months against "
                   f"{cf} (the counterfactual), ahead of {others}.")
    ranged = [o for o in opts if o.npsv_probability_positive is not None]
    if ranged:
        parts = [f"{o.label} in {o.npsv_probability_positive:.0%} of them (mean "
                 f"{money(o.npsv_mean)}; 10th to 90th percentile {money(o.npsv_range[0])} to "
                 f"{money(o.npsv_range[1])})" for o in ranged]
        fiscal = [f"{o.probability_positive:.0%} for {o.label}" for o in ranged]
        out.append(f"How sure: across {ranged[0].runs:,} Monte Carlo runs of the uncertain "
                   "assumptions, the NPSV is positive for " + "; ".join(parts)
                   + ". The fiscal NPV is positive in " + ", ".join(fiscal).replace(
                       " for ", " of the runs for ", 1) + ".")
    else:
        out.append("How sure: these are central estimates; no uncertainty analysis was run "
                   "(the switching values below show how far the main assumptions may move).")
    for o in opts:
        fiscal = "better off" if o.fiscal_npv > 0 else "worse off"
        text = (f"{o.label}: the public purse is {st.money(abs(o.fiscal_npv))} {fiscal} in "
                f"present value (fiscal NPV {money(o.fiscal_npv)})")
        if o.largest_cost:
            text += f"; {o.largest_cost[0]} bears the largest net cost ({money(o.largest_cost[1])})"
        if o.largest_gain:
            text += (f"{' and' if o.largest_cost else ';'} {o.largest_gain[0]} gains most "
                     f"({money(o.largest_gain[1])})")
        text += ". " + _payback_words(o, horizon)
        s114 = section_114_words(o)
        if s114:
            text += f" It {s114}."
        out.append(text)
    for o in opts:
        if not o.switching:
            continue
        sc = scenarios[o.name]
        year = (qaly_price_years or {}).get(o.name)
        npsv = [switching_value_text(sc, e, year) for e in o.switching if e["case"] == "npsv"]
        fiscal = [switching_value_text(sc, e, year) for e in o.switching if e["case"] != "npsv"]
        bits = []
        if npsv:
            bits.append(f"its NPSV would {'fall' if o.npsv > 0 else 'rise'} to zero if "
                        + ", or if ".join(npsv))
        if fiscal:
            bits.append(f"its fiscal NPV would {'fall' if o.fiscal_npv > 0 else 'rise'} to zero "
                        "if " + ", or if ".join(fiscal))
        out.append(f"Switching values for {o.label}: " + "; ".join(bits) + ".")
    return out
