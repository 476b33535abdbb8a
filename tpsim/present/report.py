"""The business-case report: one self-contained HTML page (charts embedded as PNG data URIs, no
external CSS, scripts, fonts or images), laid out after HM Treasury's Five Case Model as far as
a model of public spend can speak to it:

1. executive summary: the options ranked by net present social value (NPSV), what each costs
   whom, its payback, how sure the figures are and the switching values nearest its central
   case (:mod:`tpsim.present.summary`);
2. the economic case: NPSV, economic and fiscal NPV, the J-curves, switching values;
3. the financial case: annual cash flow per agency and the pool, affordability (section 114
   months), spend against the counterfactual;
4. who pays and who gains: per agency, and the wrong-pocket matrix;
5. outcomes for people;
6. uncertainty and sensitivity (when an ensemble was run);
7. the key assumptions with their sources;
8. the settings and versions that produced it.

Every figure comes from a ready :class:`~tpsim.analysis.comparison.Comparison` (its figures read
through :func:`tpsim.present.documents.scenario_entry`, the builder of ``comparison.json``) and,
optionally, a :class:`~tpsim.analysis.sensitivity.ComparisonUncertainty`. This module does no
simulation and writes no file: :func:`make_charts` returns figures, :func:`render_html` text.
The page's CSS (:mod:`tpsim.present.report_style`) keeps every table inside its column at
1280 px and on A4 portrait (tests/test_report_browser.py checks it in Chromium).
"""
from __future__ import annotations

import base64
import html
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from tpsim import __version__
from tpsim.analysis import cashflow
from tpsim.analysis.comparison import Case, Comparison
from tpsim.config.scenario import Scenario
from tpsim.present import charts, charts_case
from tpsim.present import style as st
from tpsim.present import summary as sm
from tpsim.present import wording
from tpsim.present.assumptions import key_assumptions
from tpsim.present.documents import scenario_entry
from tpsim.present.labels import agency_label, parameter_label, scenario_label
from tpsim.present.report_style import CSS

__all__ = ["Chart", "Uncertainty", "make_charts", "trajectory_charts", "uncertainty_section",
           "render_html", "headline", "embed_png", "SECTIONS"]


# ---------------------------------------------------------------------------------------------
# What a report is made from
# ---------------------------------------------------------------------------------------------


class Chart:
    """A chart of the report: file stem, report section, title, caption, the figure and its
    alt text (default: the title and caption).

    ``figure`` is a matplotlib Figure or a function of no arguments that draws it; it is drawn
    the first time :attr:`figure` is read (so a caller that needs one chart pays for one).
    """

    def __init__(self, stem: str, section: str, title: str, caption: str, figure,
                 alt: str | None = None) -> None:
        self.stem, self.section, self.title, self.caption = stem, section, title, caption
        self.alt = alt or f"{title}. {caption}"
        self._figure = figure

    @property
    def figure(self):
        if callable(self._figure) and not hasattr(self._figure, "savefig"):
            self._figure = self._figure()
        return self._figure

    def __repr__(self) -> str:
        return f"Chart({self.stem!r}, {self.section!r}, {self.title!r})"


SECTIONS = ("economic", "financial", "who", "people", "uncertainty")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _m(value: float | None) -> str:
    """£ in £m with one decimal and a true minus: ``−£30.5m``."""
    return "–" if value is None else st.pounds_m(value / 1e6)


def _signed(value: float | None) -> str:
    return "–" if value is None else (("+" if value > 0 and round(value / 1e6, 1) != 0 else "")
                                      + st.pounds_m(value / 1e6))


def _summary(case: Case) -> dict:
    """The figures of one case as ``comparison.json`` lays them out (one builder for both)."""
    return scenario_entry(case)


def _entries(comparison: Comparison) -> dict[str, dict]:
    return {c.scenario.name: _summary(c) for c in comparison.cases}


#: £: a change in an agency's savings smaller than this rounds to £0.0m and is not shown.
SHOWN_CHANGE = 50_000.0


def _involved(row: dict) -> tuple[bool, bool]:
    """(invests, involved) for an agency row: it bears any extra cost; it bears one or its
    cashable savings change by :data:`SHOWN_CHANGE` or more."""
    invests = row["pv_uplifted_costs_horizon"] > 500.0
    return invests, invests or abs(row["pv_cashable_savings_horizon"]) >= SHOWN_CHANGE


# ---------------------------------------------------------------------------------------------
# Headline figures of one case
# ---------------------------------------------------------------------------------------------


def headline(case: Case, counterfactual: Scenario) -> dict:
    """The headline of one case: NPSV, NPVs, BCR, payback, who pays most and who gains most
    (agency ids; money in £)."""
    s = _summary(case)
    rows = s["agencies"]
    costs = {a: r["pv_uplifted_costs_horizon"] for a, r in rows.items()}
    savings = {a: r["pv_cashable_savings_horizon"] for a, r in rows.items()}
    npv = {a: r["fiscal_npv_horizon"] for a, r in rows.items()}
    biggest = max((abs(v) for v in costs.values()), default=1.0) or 1.0
    payers = sorted((a for a in costs if costs[a] > 0.005 * biggest), key=lambda a: -costs[a])
    gainers = sorted((a for a in savings if savings[a] > 0), key=lambda a: -savings[a])
    return {
        "scenario": case.scenario.name, "label": scenario_label(case.scenario),
        "title": case.scenario.title or case.scenario.name,
        "npsv": s["npsv"], "npsv_parliament": s["npsv_parliament"],
        "npv": s["fiscal_npv"], "npv_parliament": s["npv_parliament"],
        "economic_npv": s["economic_npv"], "bcr": s["bcr"], "economic_bcr": s["economic_bcr"],
        "social_bcr": s["social_bcr"],
        "payback_month": s["payback_month"], "pays_back_in_parliament": s["pays_back_in_parliament"],
        "pv_costs": s["total"]["pv_uplifted_costs_horizon"],
        "pv_savings": s["total"]["pv_cashable_savings_horizon"],
        "optimism_bias": s["optimism_bias"],
        "pays_most": payers[0] if payers else None,
        "gains_most": gainers[0] if gainers else None,
        "payers": payers, "gainers": gainers,
        "better_off": [a for a in npv if npv[a] > 1e3], "worse_off": [a for a in npv if npv[a] < -1e3],
        "costs": costs, "savings": savings, "agency_npv": npv,
    }


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


def _source(comparison: Comparison, scenarios: Sequence[Scenario] | None = None,
            note: str | None = None) -> str:
    scs = scenarios if scenarios is not None else [c.scenario for c in comparison.cases]
    return charts.source_line(list(scs), comparison.counterfactual, note)


def _bias_words(comparison: Comparison) -> str:
    ob = sorted({f"{_summary(c)['optimism_bias']:.0%}" for c in comparison.cases})
    return "no optimism bias" if ob == ["0%"] else "/".join(ob) + " optimism bias on new costs"


def make_charts(comparison: Comparison, extra: Sequence[Chart] = ()) -> list[Chart]:
    """Every chart of the report, in report order (``extra``: e.g. fan and tornado charts
    from an ensemble, appended to the uncertainty section)."""
    cf = comparison.counterfactual
    cf_words = scenario_label(cf)
    out: list[Chart] = []
    start = cf.time.start
    horizon, parliament = comparison.horizon, comparison.parliament
    entries = _entries(comparison)
    names = [c.scenario.name for c in comparison.cases]
    labels = {c.scenario.name: scenario_label(c.scenario) for c in comparison.cases}

    # --- economic case: the J-curves and the switching values
    months = np.arange(1, horizon + 1)
    npsv_curves = {}
    for c in comparison.cases:
        stream = c.appraisal.discounted_npsv
        npsv_curves[c.scenario.name] = np.cumsum(stream if stream is not None
                                                 else c.appraisal.discounted_net)
    fiscal_curves = {c.scenario.name: np.cumsum(c.appraisal.discounted_net) for c in comparison.cases}
    fig = partial(
        charts_case.value_curves, months, npsv_curves, fiscal_curves, labels=labels,
        npsv_break_even={n: (entries[n].get("break_even") or {}).get("npsv_month") for n in names},
        fiscal_payback={n: entries[n]["payback_month"] for n in names}, start=start,
        parliament_months=parliament,
        title=f"Cumulative value of each option against {cf_words}",
        subtitle=("Left: net present social value to date (resource savings and valued QALYs "
                  "minus costs, transfers excluded). Right: the public purse, cashable savings "
                  f"minus costs with {_bias_words(comparison)}. Both discounted at the Green Book "
                  "rates; a circle marks the month a line turns positive and stays so."),
        source=_source(comparison))
    out.append(Chart("net_benefit", "economic", "Cumulative NPSV and fiscal net benefit (the "
                     "J-curves)",
                     "Month by month, what each option has returned so far: below zero it has "
                     "cost more than it has returned.", fig,
                     alt=_curves_alt(comparison, entries, npsv_curves, fiscal_curves)))
    rows = _switching_rows(comparison, entries)
    if rows:
        fig = partial(charts_case.switching_values_chart, rows,
                      title="Switching values: where each option's case turns zero",
                      subtitle=("Each marker is the value at which an option's NPSV (circle) or "
                                "fiscal NPV (square) would be zero, as a multiple of the value "
                                "assumed; markers near ×1 mark assumptions the case is sensitive "
                                "to. Model parameters are changed in the option and the "
                                "counterfactual alike."),
                      source=_source(comparison))
        out.append(Chart("switching_values", "economic", "Switching values",
                         "Only assumptions that turn a case within their searched range are "
                         "drawn; the table below lists the values.", fig,
                         alt="Switching values: " + "; ".join(
                             f"{r['option']}, {r['parameter']}, {r['case_words']} zero at "
                             f"{r['value_text']}" for r in rows)))

    # --- financial case: annual cash flow, spend against the counterfactual
    flows = _cashflow_panels(comparison)
    if flows:
        sc0 = comparison.cases[0].scenario
        ids = list(dict.fromkeys(a for _, _, net, _ in flows for a in net))
        fig = partial(charts_case.cashflow_chart, flows,
                      labels={a: agency_label(sc0, a) for a in ids},
                      colours=st.agency_colours(ids),
                      title="Annual net cash flow by agency against " + cf_words,
                      subtitle=("Cashable savings minus extra costs in each April-March year, "
                                "undiscounted and without optimism bias (cash as a finance "
                                "director sees it); bars above zero are agencies in gain, below "
                                "zero in net cost; the diamond is the total."),
                      source=_source(comparison))
        out.append(Chart("cashflow", "financial", "Annual net cash flow by agency",
                         "Where the money goes year by year; the table below gives the totals.",
                         fig, alt=_cashflow_alt(flows)))
    trajectories = comparison.trajectories()
    cf_run = next(t for t in trajectories if t[0].name == cf.name)
    option_runs = [t for t in trajectories if t[0].name in names]
    context = [sc.name for sc, _, _ in comparison.context]
    fig = partial(charts_case.spend_difference_by_agency, option_runs, cf_run,
                  parliament_months=parliament,
                  title=f"Change in each agency's spend against {cf_words}",
                  source=_source(comparison))
    out.append(Chart("spend_by_agency", "financial", "Change in each agency's spend",
                     "Everything each agency pays for the modelled services, including its "
                     "payments into a pooled budget, minus the same in the counterfactual.", fig))
    fig = partial(charts_case.spend_difference_by_kind,
                  [t for t in trajectories if t[0].name != cf.name], cf_run, context=context,
                  parliament_months=parliament,
                  title=f"Change in reactive and preventive spend against {cf_words}",
                  source=charts.source_line([sc for sc, _, _ in trajectories]))
    out.append(Chart("spend_by_kind", "financial", "Change in reactive and preventive spend",
                     "Demand-led reactive spend and preventive spend, whoever pays, against the "
                     "counterfactual" + ("; context runs are dotted." if context else "."), fig))

    # --- who pays and who gains
    for c in comparison.cases:
        out.extend(_who_charts(comparison, c))

    # --- outcomes for people
    fig = partial(charts_case.people_difference, option_runs, cf_run, parliament_months=parliament,
                  title=f"Change in the number of people in each need state against {cf_words}",
                  source=_source(comparison))
    out.append(Chart("people_by_need_state", "people", "Change in people in each need state",
                     "Fewer people in the high-need states is what prevention buys.", fig))
    out.extend(extra)
    return out


def _curves_alt(comparison, entries, npsv_curves, fiscal_curves) -> str:
    parts = []
    for c in comparison.cases:
        n = c.scenario.name
        be = (entries[n].get("break_even") or {}).get("npsv_month")
        parts.append(f"{scenario_label(c.scenario)}: NPSV {_m(npsv_curves[n][-1])} and fiscal "
                     f"{_m(fiscal_curves[n][-1])} at month {comparison.horizon}"
                     + (f", NPSV positive from month {be}" if be else ""))
    return "Cumulative NPSV and fiscal net benefit by month. " + "; ".join(parts) + "."


def _switching_rows(comparison: Comparison, entries: dict) -> list[dict]:
    rows = []
    for c in comparison.cases:
        sc = c.scenario
        for e in entries[sc.name].get("switching_values") or []:
            if e.get("value") is None or not e.get("central"):
                continue
            rows.append({"option": scenario_label(sc), "option_name": sc.name,
                         "parameter": parameter_label(sc, e["parameter"]), "case": e["case"],
                         "case_words": "NPSV" if e["case"] == "npsv" else "fiscal NPV",
                         "central": e["central"], "value": e["value"],
                         "value_text": sm.value_format(e["parameter"])(e["value"])})
    return rows


def _cashflow_panels(comparison: Comparison) -> list[tuple]:
    """Per option: (label, financial years, row -> net cash by year, total by year)."""
    try:
        rows = cashflow.comparison_cashflow(comparison)
    except (AttributeError, KeyError, TypeError):  # a comparison without batch runs
        return []
    cols = cashflow.COLUMNS
    i_sc, i_row, i_fy, i_net = (cols.index(k) for k in ("scenario", "row", "financial_year", "net"))
    panels = []
    for c in comparison.cases:
        mine = [r for r in rows if r[i_sc] == c.scenario.name]
        years = list(dict.fromkeys(r[i_fy] for r in mine))
        net: dict[str, list[float]] = {}
        total = []
        for r in mine:
            if r[i_row] == "total":
                total.append(r[i_net])
            else:
                net.setdefault(r[i_row], []).append(r[i_net])
        panels.append((scenario_label(c.scenario), years, net, total))
    return panels


def _cashflow_alt(panels) -> str:
    parts = []
    for label, years, net, total in panels:
        worst = int(np.argmin(total)) if total else 0
        parts.append(f"{label}: total net cash {st.pounds_m(total[0] / 1e6)} in {years[0]}, "
                     f"{st.pounds_m(total[-1] / 1e6)} in {years[-1]}, lowest "
                     f"{st.pounds_m(total[worst] / 1e6)} in {years[worst]}")
    return "Annual net cash flow by agency. " + "; ".join(parts) + "."


def _who_charts(comparison: Comparison, c: Case) -> list[Chart]:
    sc = c.scenario
    cf_words = scenario_label(comparison.counterfactual)
    label = scenario_label(sc)
    s = _summary(c)
    out = []
    rows = dict(s["agencies"])
    ids = [a for a in rows if _involved(rows[a])[1]] or list(rows)
    costs = [rows[a]["pv_uplifted_costs_horizon"] for a in ids]
    savings = [rows[a]["pv_cashable_savings_horizon"] for a in ids]
    pool = s.get("pool") or {}
    if sc.pool.get("enabled") and abs(pool.get("pv_uplifted_costs_horizon", 0.0)) > 0:
        ids.append("pool")
        costs.append(pool["pv_uplifted_costs_horizon"])
        savings.append(pool.get("pv_cashable_savings_horizon", 0.0))
    ob = s["optimism_bias"]
    bias = f"costs include {ob:.0%} optimism bias on new costs" if ob > 0 else "no optimism bias"
    fig = partial(
        charts.who_pays_who_gains, ids, costs, savings,
        labels={a: agency_label(sc, a) for a in ids},
        title=f"Who pays and who gains: {label}",
        subtitle=(f"Against {cf_words}; present values over {comparison.horizon} months at "
                  f"{s['discount_rate']:.1%} a year; {bias}. Negative savings are extra reactive "
                  "spend. Agencies with no change are left out."),
        value_label="£m, present value", source=_source(comparison, [sc]))
    out.append(Chart(f"who_pays_who_gains_{sc.name}", "who", f"Who pays and who gains: {label}",
                     "Per agency, the extra investment it bears (left, hatched) against the "
                     "cashable savings it receives (right, solid); the diamond is the net. The "
                     "pooled budget's row is its programme spending.", fig,
                     alt=f"Who pays and who gains, {label}: " + "; ".join(
                         f"{agency_label(sc, a)} costs {_m(k)}, saves {_m(v)}"
                         for a, k, v in zip(ids, costs, savings)) + "."))
    block = s["attribution"]["cashable"]
    investors = list(block["investing_agencies"])
    if investors:
        agencies = list(block["total"])
        matrix = [[block["matrix"][a][b] for b in agencies] for a in investors]
        payers = list(investors)
        invested = [block["pv_uplifted_costs"][a] for a in investors]
        remainder = [block["remainder"][b] for b in agencies]
        if max(abs(v) for v in remainder) > 0.01 * max(abs(v) for row in matrix for v in row) + 1.0:
            matrix.append(remainder)
            payers.append("interaction")
            invested.append(None)
        labels = {a: agency_label(sc, a) for a in agencies}
        labels["interaction"] = "Interaction, not attributable to one agency"
        fig = partial(
            charts.wrong_pocket_matrix, np.array(matrix), payers, agencies, labels=labels,
            title=f"The wrong pocket: {label}",
            subtitle=("Cashable savings each agency receives (columns) because of the extra "
                      "preventive investment of each paying agency (rows), found by re-running "
                      "without that agency's investment; present values over "
                      f"{comparison.horizon} months. Right: what each paying agency invested "
                      "(present value, with optimism bias)."),
            ylabel="Investment paid for by", xlabel="Agency whose reactive spend falls",
            value_label="£m, present value", invested=invested,
            invested_label="Invested\n(PV)", source=_source(comparison, [sc]))
        out.append(Chart(f"wrong_pocket_{sc.name}", "who", f"The wrong-pocket matrix: {label}",
                         "Read across a row to see where one agency's investment lands; savings "
                         "off the diagonal fall in another agency's pocket.", fig))
    by_service = (s.get("attribution_by_service") or {}).get("cashable")
    if by_service and by_service.get("services"):
        out.append(_service_chart(comparison, sc, by_service))
    return out


def _service_chart(comparison: Comparison, sc: Scenario, block: dict) -> Chart:
    """Cashable savings by preventive service (Shapley values over services) and agency."""
    label = scenario_label(sc)
    services = list(block["services"])
    agencies = list(block["total"])
    matrix = [[block["shapley"][v][a] for a in agencies] for v in services]
    rows = list(services)
    if max(abs(x) for x in block["not_attributed"].values()) > 1.0:
        matrix.append([block["not_attributed"][a] for a in agencies])
        rows.append("not_attributed")
    labels = {a: agency_label(sc, a) for a in agencies}
    funders = {block["funded_by"].get(v) for v in services}
    for v in services:
        name = charts.short_label(sc.services[v].get("label") or v, 60)
        funder = block["funded_by"].get(v)
        labels[v] = name if len(funders) == 1 or not funder else f"{name}: {agency_label(sc, funder)}"
    (only,) = funders if len(funders) == 1 else (None,)
    paid = (f"; every service is paid for by the {agency_label(sc, only).lower()}"
            if only == "pool" else f"; every service is paid for by {agency_label(sc, only)}"
            if only else "; each row names the service's funder")
    labels["not_attributed"] = "Not attributed to one service"
    method = ("exact Shapley values over every coalition of services" if block["method"] == "exact"
              else "Shapley values from sampled orderings of the services")
    fig = partial(
        charts.wrong_pocket_matrix, np.array(matrix), rows, agencies, labels=labels,
        title=f"Savings by preventive service: {label}",
        subtitle=(f"Cashable savings (present value over {comparison.horizon} months) each agency "
                  f"receives (columns) from each preventive service (rows){paid}; by {method}, "
                  f"in {block['runs']} batched runs; the rows add up to the option's savings."),
        ylabel="Preventive service", xlabel="Agency whose reactive spend falls",
        value_label="£m, present value", row_label_lines=3, source=_source(comparison, [sc]))
    return Chart(f"savings_by_service_{sc.name}", "who",
                 f"Savings by preventive service: {label}",
                 "Each service's share of the savings, interactions shared out fairly between "
                 "the services (Shapley values).", fig)


def trajectory_charts(runs: Sequence[tuple], counterfactual: str | None = None,
                      context: Sequence[str] = (),
                      parliament_months: int | None = st.PARLIAMENT_MONTHS) -> list[Chart]:
    """The charts over time that need only simulated results (``tpsim chart`` without a
    counterfactual): spend by agency, reactive and preventive spend, people by need state, as
    levels. ``runs`` are ``(scenario, results[, run])``."""
    runs = [tuple(r) if len(r) == 3 else (r[0], r[1], 0) for r in runs]
    src = charts.source_line([sc for sc, _, _ in runs])
    out = []
    fig = partial(charts.spend_by_agency, runs, parliament_months=parliament_months,
                  title="Public spend by agency", source=src)
    out.append(Chart("spend_by_agency", "financial", "Public spend by agency",
                     "Everything each agency pays for the modelled services, including its "
                     "payments into a pooled budget, in £m a year (monthly spend x 12).", fig))
    fig = partial(charts.spend_by_kind, runs, counterfactual=counterfactual, context=context,
                  parliament_months=parliament_months, title="Reactive and preventive spend",
                  source=src)
    out.append(Chart("spend_by_kind", "financial", "Reactive and preventive spend",
                     "Total spend on demand-led reactive services and on preventive services "
                     "(whoever pays), £m a year.", fig))
    fig = partial(charts.people_by_need_state, runs, counterfactual=counterfactual,
                  context=context, parliament_months=parliament_months,
                  title="People in each need state", source=src)
    out.append(Chart("people_by_need_state", "people", "People in each need state",
                     "People in each need state at each month end, lowest need on the left.", fig))
    return out


# ---------------------------------------------------------------------------------------------
# Uncertainty (optional): an ensemble and a one-at-a-time sensitivity analysis
# ---------------------------------------------------------------------------------------------


@dataclass
class Uncertainty:
    """The uncertainty section: fan and tornado charts, a table of fiscal NPV figures per
    option (``rows``: one list of cells per option, in :data:`UNCERTAINTY_MEASURES` order
    after the option's label) and the ensemble's metrics by scenario name (for the summary)."""

    charts: list
    rows: list[list[str]]
    note: str
    metrics: dict | None = None
    runs: int | None = None


UNCERTAINTY_MEASURES = ("Fiscal NPV, deterministic (the headline run)", "Fiscal NPV, mean",
                        "Fiscal NPV, 5th percentile", "Fiscal NPV, median",
                        "Fiscal NPV, 95th percentile", "Runs with a positive fiscal NPV",
                        "Runs paying back within the Parliament")


def uncertainty_section(comparison: Comparison, result) -> Uncertainty:
    """The uncertainty section of a ready
    :class:`~tpsim.analysis.sensitivity.ComparisonUncertainty` (no simulation here): a fan
    chart of the paired change in total public spend and the fiscal NPV's range per option,
    and a tornado of each option's fiscal NPV."""
    if not result.has_factors:
        return Uncertainty([], [], "No scenario declares an uncertainty section "
                                   "(docs/uncertainty.md), so there is no range to show.")
    job, summary, runs, seed, swing = (result.job, result.summary, result.runs, result.seed,
                                       result.swing)
    scs = [c.scenario for c in comparison.cases]
    cf = comparison.counterfactual
    cf_words = scenario_label(cf)
    pct = list(summary.percentiles)
    i5, i25, i50, i75, i95 = (pct.index(p) for p in (5.0, 25.0, 50.0, 75.0, 95.0))
    months = np.arange(1, job.n_months + 1)
    note = f"{runs:,} runs, seed {seed}, {job.sampler} sampling"
    out: list[Chart] = []
    rows: list[list[str]] = []
    for t, (series, k, diff) in enumerate(job.tracked):
        if not diff:
            continue
        name = job.names[k]
        sc = next(s for s in scs if s.name == name)
        label = scenario_label(sc)
        q = summary.quantiles[t]
        bands = {"5th to 95th percentile": (q[:, i5], q[:, i95]),
                 "25th to 75th percentile": (q[:, i25], q[:, i75])}
        out.append(Chart(
            f"fan_spend_total_{name}", "uncertainty",
            f"Range of the change in total public spend: {label}",
            f"Total public spend of {label} minus {cf_words} in the same (paired) runs, £m a "
            "year; below zero the option spends less.",
            partial(charts.fan_chart, months, bands, q[:, i50],
                    title=f"Change in total public spend: {label}",
                    ylabel="Change in spend, £m a year", start=cf.time.start,
                    subtitle=f"Against {cf_words}, paired runs; percentiles over {runs:,} runs.",
                    source=charts.source_line([sc], cf, note))))
        m = summary.metrics[name]
        npv = m["npv"]["percentiles"]
        rows.append([label, _m(m["npv"].get("deterministic")), _m(m["npv"]["mean"]),
                     _m(npv.get("p5")), _m(npv.get("p50")), _m(npv.get("p95")),
                     f"{m['probability_beats_counterfactual']:.0%}",
                     f"{m['payback']['probability_within_parliament']:.0%}"])
    for sc in scs:
        if sc.name not in result.tornados:
            continue
        labels, oat = result.tornados[sc.name]
        label = scenario_label(sc)
        out.append(Chart(
            f"tornado_npv_{sc.name}", "uncertainty",
            f"What the fiscal NPV of {label} is most sensitive to",
            "Each bar moves one uncertain parameter alone from its "
            f"{swing * 100:g}th to its {100 - swing * 100:g}th percentile, every other one at the "
            "scenario's own value (the centre is the headline's deterministic run); the widest "
            "swings matter most.",
            partial(charts.tornado_chart,
                    [parameter_label(sc, lab) for lab in labels], oat["low"]["npv"],
                    oat["high"]["npv"], oat["base"]["npv"],
                    title=f"What the fiscal NPV of {label} is most sensitive to",
                    xlabel="Fiscal net present value, £m",
                    low_label=f"Parameter at its {swing * 100:g}th percentile",
                    high_label=f"Parameter at its {100 - swing * 100:g}th percentile",
                    subtitle=f"Against {cf_words}; every other parameter at the scenario's value.",
                    source=charts.source_line([sc], cf))))
    text = (f"Monte Carlo: {note}, under the uncertainty sections of the scenario files "
            "(distributions and their sources are listed in each file). The figures are of the "
            "fiscal NPV over the horizon; the NPSV is not sampled. The deterministic NPV is the "
            "headline's run (every parameter at the scenario's value); the mean and median "
            "differ from it because the model is non-linear and the distributions are skewed "
            "(docs/appraisal.md).")
    return Uncertainty(out, rows, text, dict(summary.metrics), runs)


def partial_figure(function, *args, **kwargs):
    """A figure drawn when first needed (see :class:`Chart`)."""
    return partial(function, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# HTML pieces
# ---------------------------------------------------------------------------------------------


def embed_png(png: bytes) -> str:
    """A ``data:`` URI for PNG bytes (so the HTML needs no other file)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure(chart: Chart, png: bytes) -> str:
    return (f'<figure id="{_e(chart.stem)}"><img src="{embed_png(png)}" alt="{_e(chart.alt)}">'
            f"<figcaption><b>{_e(chart.title)}.</b> {_e(chart.caption)} "
            f"(Also <code>charts/{_e(chart.stem)}.png</code> and <code>.svg</code>.)</figcaption>"
            "</figure>")


def _table(head: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[bool] | None = None,
           total_last: bool = False, cls: str = "", caption: str | None = None,
           row_heads: bool = False) -> str:
    """A table; cells are escaped text, or raw HTML when given as ``("html", text)``."""
    numeric = list(numeric or [False] * len(head))
    out = [f'<table class="{cls}">']
    if caption:
        out.append(f"<caption>{_e(caption)}</caption>")
    out.append("<thead><tr>")
    out += [f'<th scope="col" class="{"num" if n else ""}">{_e(h)}</th>'
            for h, n in zip(head, numeric)]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        tr = ' class="total"' if total_last and i == len(rows) - 1 else ""
        cells = []
        for j, (v, n) in enumerate(zip(r, numeric)):
            text = v[1] if isinstance(v, tuple) and v and v[0] == "html" else _e(v)
            tag = "th" if row_heads and j == 0 else "td"
            scope = ' scope="row"' if tag == "th" else ""
            cells.append(f'<{tag}{scope} class="{"num" if n else ""}">{text}</{tag}>')
        out.append(f"<tr{tr}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _payback(month: int | None, in_parliament: bool | None = None) -> str:
    return wording.payback(month, in_parliament)


def _summary_table(opts: list[sm.Option], horizon: int) -> str:
    ranged = any(o.probability_positive is not None for o in opts)
    head = ["Rank and option", "NPSV", "Fiscal NPV (public purse)", "Largest net cost",
            "Gains most", "Cash payback", "Social value positive from"]
    if ranged:
        head.append("Runs with a positive fiscal NPV")
    rows = []
    for o in opts:
        row = [f"{o.rank}. {o.label}", _signed(o.npsv), _signed(o.fiscal_npv),
               _who(o.largest_cost), _who(o.largest_gain),
               wording.payback(o.payback_month, o.pays_back_in_parliament),
               f"month {o.npsv_break_even}" if o.npsv_break_even is not None else
               (f"not within {o.break_even_searched} months" if o.break_even_searched else "–")]
        if ranged:
            row.append("–" if o.probability_positive is None else f"{o.probability_positive:.0%}")
        rows.append(row)
    numeric = [False, True, True, False, False, False, False] + ([True] if ranged else [])
    return _table(head, rows, numeric, cls="summary",
                  caption=f"Options ranked by net present social value over {horizon} months "
                          "(present values, £m)")


def _who(pair: tuple[str, float] | None):
    """An agency and its fiscal NPV in one cell, the amount kept on one line."""
    if pair is None:
        return "none"
    return ("html", f'{_e(pair[0])} <span class="amount">{_e(_signed(pair[1]))}</span>')


def _economic_table(comparison: Comparison, entries: dict, order: list[str]) -> str:
    scs = {c.scenario.name: c.scenario for c in comparison.cases}
    head = ["Measure"] + [scenario_label(scs[n]) for n in order]
    p = comparison.parliament

    def row(label, key, fmt=_signed):
        return [label] + [fmt(entries[n][key]) for n in order]

    rows = [row("Net present social value (NPSV), horizon", "npsv"),
            row(f"NPSV, first {p} months (the Parliament)", "npsv_parliament"),
            row("Economic NPV (no transfers, no valued outcomes)", "economic_npv"),
            row("Fiscal NPV (cash, all agencies and the pool)", "fiscal_npv"),
            row(f"Fiscal NPV, first {p} months", "npv_parliament"),
            row("Social benefit-cost ratio", "social_bcr", wording.bcr),
            row("Fiscal benefit-cost ratio", "bcr", wording.bcr),
            ["Cash payback"] + [wording.payback(entries[n]["payback_month"],
                                                entries[n]["pays_back_in_parliament"])
                                for n in order],
            ["NPSV turns positive (break-even)"] + [
                _break_even(entries[n].get("break_even")) for n in order],
            ["Present value of costs, with optimism bias"] + [
                _m(entries[n]["total"]["pv_uplifted_costs_horizon"]) for n in order],
            ["Optimism bias on new costs"] + [f"{entries[n]['optimism_bias']:.0%}" for n in order],
            ["Value of QALYs gained (in the NPSV)"] + [
                _m(entries[n]["outcomes"]["total"]["pv_qaly_value_horizon"]) for n in order]]
    return _table(head, rows, [False] + [True] * len(order), cls="measures", row_heads=True)


def _break_even(be: dict | None) -> str:
    if not be:
        return "–"
    if be.get("npsv_month") is None:
        return f"not within {be['months_searched']} months"
    return f"month {be['npsv_month']}"


def _switching_table(sc: Scenario, entry: dict) -> str:
    found = {}
    for e in entry.get("switching_values") or []:
        found.setdefault(e["parameter"], {"central": e["central"]})[e["case"]] = e
    rows, none = [], 0
    for name, cases in found.items():
        values = [cases.get(k) for k in ("npsv", "fiscal_npv")]
        if all(v is None or v.get("value") is None for v in values):
            none += 1
            continue
        fmt = sm.value_format(name)
        rows.append([parameter_label(sc, name), fmt(cases["central"])] + [
            "n/a" if v is None else ("none in range" if v.get("value") is None else fmt(v["value"]))
            for v in values])
    if not rows:
        return "<p>No assumption searched turns this option's case within its range.</p>"
    note = (f"<p class=\"note\">{none} other assumptions searched never turn the case within "
            "their range.</p>" if none else "")
    return _table(["Assumption", "Assumed", "NPSV is zero at", "Fiscal NPV is zero at"], rows,
                  [False, True, True, True]) + note


def _agency_table(c: Case) -> str:
    sc = c.scenario
    s = _summary(c)
    p = c.appraisal.parliament_months
    rows = []
    blocks = list(s["agencies"].items()) + [("pool", s["pool"]), ("total", s["total"])]
    hidden = []
    for a, r in blocks:
        invests, involved = _involved(r)
        if a not in ("pool", "total") and not involved:
            hidden.append(agency_label(sc, a))
            continue
        if a == "pool":
            pb = ""
        elif a == "total":
            pb = wording.payback(r["payback_month"])
        else:
            pb = wording.agency_payback(r["payback_month"], invests)
        rows.append([agency_label(sc, a), _m(r["costs_parliament"]),
                     _m(r["cashable_savings_parliament"]), _m(r["pv_uplifted_costs_horizon"]),
                     _m(r["pv_cashable_savings_horizon"]), _signed(r["fiscal_npv_horizon"]), pb])
    head = ["Agency", f"Extra cost, first {p} months (cash)", f"Cash saved, first {p} months",
            "Extra cost with optimism bias (PV)", "Cash saved (PV)", "Fiscal NPV", "Payback"]
    note = (f'<p class="note">No change for {_e(", ".join(hidden))} (none of £0.05m or '
            "more).</p>" if hidden else "")
    return _table(head, rows, [False, True, True, True, True, True, False], total_last=True) + note


def _outcomes_table(comparison: Comparison, order: list[str]) -> str:
    cases = {c.scenario.name: c for c in comparison.cases}
    o = {n: _summary(cases[n])["outcomes"]["total"] for n in order}
    p = comparison.parliament
    rows = [
        [f"Escalations to higher need avoided, first {p} months"]
        + [st.thousands(o[n]["escalations_avoided_parliament"]) for n in order],
        [f"Escalations avoided over {comparison.horizon} months"]
        + [st.thousands(o[n]["escalations_avoided_horizon"]) for n in order],
        ["Person-months in crisis avoided"]
        + [st.thousands(o[n]["crisis_person_months_avoided_horizon"]) for n in order],
        ["Exits (deaths, moves away) avoided"]
        + [st.thousands(o[n]["exits_avoided_horizon"], 1) for n in order],
        ["QALYs gained"] + [st.thousands(o[n]["qalys_gained_horizon"], 1) for n in order],
        ["Value of the QALYs gained (PV, in the NPSV)"]
        + [_m(o[n]["pv_qaly_value_horizon"]) for n in order],
    ]
    return _table(["Outcome"] + [scenario_label(cases[n].scenario) for n in order], rows,
                  [False] + [True] * len(order), cls="measures", row_heads=True)


def _cashflow_table(comparison: Comparison, order: list[str]) -> str:
    panels = {p[0]: p for p in _cashflow_panels(comparison)}
    if not panels:
        return ""
    labels = [scenario_label(next(c.scenario for c in comparison.cases if c.scenario.name == n))
              for n in order]
    years = panels[labels[0]][1]
    rows = []
    cumulative = {lab: 0.0 for lab in labels}
    for k, fy in enumerate(years):
        row = [fy]
        for lab in labels:
            net = panels[lab][3][k]
            cumulative[lab] += net
            row += [_signed(net), _signed(cumulative[lab])]
        rows.append(row)
    head = ["Financial year"]
    for lab in labels:
        head += [f"{lab}: net cash in the year", f"{lab}: cumulative"]
    return _table(head, rows, [False] + [True] * (2 * len(labels)), cls="cash",
                  caption="Net cash to the public purse (all agencies and the pool), £m, "
                          "undiscounted, without optimism bias")


def _s114_html(comparison: Comparison, entries: dict, order: list[str]) -> str:
    scs = {c.scenario.name: c.scenario for c in comparison.cases}
    councils = list(dict.fromkeys(a for n in order for a in (entries[n].get("section_114") or {})))
    if not councils:
        return ""
    sc0 = scs[order[0]]

    def month(m):
        return "stay above zero" if m is None else f"month {m}"

    rows = []
    for a in councils:
        cf_month = next(((entries[n]["section_114"].get(a) or {}).get("counterfactual_month")
                         for n in order if a in (entries[n].get("section_114") or {})), None)
        rows.append([agency_label(sc0, a), month(cf_month)] + [
            month((entries[n].get("section_114") or {}).get(a, {}).get("month")) for n in order])
    opts = sm.options(comparison, entries)
    words = [f"{o.label} {sm.section_114_words(o)}." for o in opts if sm.section_114_words(o)]
    return ("<h3>Affordability: when council reserves run out</h3>"
            "<p>A council whose reserves fall below zero has in effect to issue a section 114 "
            "notice (no new spending). " + _e(" ".join(words)) + "</p>"
            + _table(["Council", f"{scenario_label(comparison.counterfactual)} (counterfactual)"]
                     + [scenario_label(scs[n]) for n in order], rows,
                     [False] + [True] * (1 + len(order)),
                     caption="Month from which each council's reserves are below zero"))


def _path_cell(sc_label: str, path: str) -> tuple[str, str]:
    return ("html", f"{_e(sc_label)}<br><code>{_e(path)}</code>" if sc_label != path
            else f"<code>{_e(path)}</code>")


def _assumption_rows(scenario: Scenario, items: list[dict], with_cf: bool) -> str:
    head = (["Parameter", "Value"] + (["Counterfactual"] if with_cf else [])
            + ["Basis and source (from the scenario file)", "Where"])
    rows = [[_path_cell(parameter_label(scenario, r["path"]), r["path"]), r["value"]]
            + ([r["counterfactual"]] if with_cf else [])
            + [r["note"] or "(no comment in the file)", _where(r["where"])] for r in items]
    return _table(head, rows, [False, True] + ([True] if with_cf else []) + [False, False],
                  cls="small assumptions")


def _where(where: str) -> str:
    """``/long/path/scenarios/pooled_prevention.yaml:12`` -> ``pooled_prevention.yaml:12``."""
    if not where:
        return ""
    file, _, line = where.rpartition(":")
    return f"{Path(file).name}:{line}" if file else where


def _assumptions_html(comparison: Comparison) -> str:
    cache: dict = {}
    cf = comparison.counterfactual
    parts = []
    all_sources: dict[str, str] = {}
    for c in comparison.cases:
        ka = key_assumptions(c.scenario, cf, cache)
        all_sources.update(ka["sources"])
        parts.append(f"<h3>{_e(scenario_label(c.scenario))}: what differs from "
                     f"{_e(scenario_label(cf))}</h3>")
        parts.append(_assumption_rows(c.scenario, ka["differences"], True) if ka["differences"]
                     else "<p>No parameter differs.</p>")
    for sc, _, _ in comparison.context:
        ka = key_assumptions(cf, sc, cache)
        all_sources.update(ka["sources"])
        parts.append(f"<h3>The counterfactual ({_e(scenario_label(cf))}): what differs from "
                     f"{_e(scenario_label(sc))}</h3>")
        parts.append(_assumption_rows(cf, ka["differences"], True) if ka["differences"]
                     else "<p>No parameter differs.</p>")
    first = comparison.cases[0].scenario if comparison.cases else cf
    ka = key_assumptions(first, cf, cache)
    all_sources.update(ka["sources"])
    parts.append("<h3>The evidence the savings rest on: preventive services</h3>")
    parts.append(_assumption_rows(first, ka["evidence"], False))
    parts.append("<h3>Appraisal settings (HM Treasury Green Book)</h3>")
    parts.append(_assumption_rows(first, ka["appraisal"], False))
    if all_sources:
        parts.append("<h3>Sources cited above</h3>")
        parts.append(_table(["Id", "Citation"], sorted(all_sources.items()), cls="small"))
    return "".join(parts)


def _versions() -> list[tuple[str, str]]:
    import matplotlib
    out = [("tpsim", __version__), ("Python", platform.python_version()), ("numpy", np.__version__),
           ("matplotlib", matplotlib.__version__)]
    try:
        import numba
        out.append(("numba", numba.__version__))
    except ImportError:  # pragma: no cover
        pass
    return out


def _settings_html(comparison: Comparison, command: str | None, generated: str) -> str:
    cf = comparison.counterfactual
    t = cf.time
    runs = []
    for sc, _, _ in comparison.trajectories():
        role = ("counterfactual" if sc.name == cf.name else
                "context (not appraised)" if any(sc.name == x.name for x, _, _ in comparison.context)
                else "option")
        runs.append([("html", f"{_e(scenario_label(sc))}<br><code>{_e(sc.name)}</code>"), role,
                     str(sc.path) if sc.path is not None else "(built in Python)", sc.hash,
                     ", ".join(k for k, v in sc.loops.items() if v) or "none"])
    parts = [_table(["Scenario", "Role", "File", "Hash", "Feedback loops on"], runs, cls="small")]
    ap = []
    for c in comparison.cases:
        s = _summary(c)
        ap.append([scenario_label(c.scenario), f"{s['discount_rate']:.2%}",
                   f"{s['health_discount_rate']:.2%}", f"{s['optimism_bias']:.0%}"
                   + (" (command line)" if s.get("optimism_bias_source") == "command line" else ""),
                   f"£{s['qaly_value']:,.0f} ({s.get('qaly_price_year', '')} prices)",
                   "yes" if s["value_qalys"] else "no"])
    parts.append(_table(["Option", "Discount rate", "Health discount rate", "Optimism bias",
                         "Value of a QALY", "QALYs in the NPSV"], ap, cls="small"))
    settings = [["Start", wording.month_words(t.start)], ["Horizon", f"{t.horizon} months"],
                ["Parliament", f"{comparison.parliament} months"],
                ["Time step", f"{t.dt} months ({t.method})"],
                ["Prices", f"real terms, {cf.price_year}"],
                ["Runs simulated", f"{comparison.n_runs} (options, counterfactual and one run "
                                   "per investing agency for who pays / who gains)"],
                ["Generated", generated]]
    if command:
        settings.append(["Command", command])
    settings += [[k, v] for k, v in _versions()]
    parts.append(_table(["Setting", "Value"], settings, cls="small"))
    return "".join(parts)


_FIVE_CASES = (
    "This report follows HM Treasury's Five Case Model as far as a model of public spend can: "
    "the economic case (section 2) and the financial case (sections 3 and 4) in full, with "
    "outcomes, uncertainty and the assumptions behind them. The strategic case (why act), the "
    "commercial case (how to buy the services) and the management case (how to deliver them) "
    "need local evidence the model does not hold.")

_MEASURES_NOTE = (
    "NPSV (net present social value, the Green Book's headline): resource costs and savings, "
    "transfers (benefit payments) excluded, plus QALYs and any declared outcomes valued in money. "
    "Economic NPV: the same without valued outcomes. Fiscal NPV: cashable savings (reactive cash "
    "spend avoided, transfers included) minus costs with optimism bias on the intervention's "
    "new costs, all agencies and the pooled budget. Payback and break-even: the first month "
    "from which the cumulative discounted figure stays at or above zero. Present values are "
    "discounted at the Green Book rates.")


def render_html(comparison: Comparison, chart_list: Sequence[Chart], png: dict[str, bytes],
                command: str | None = None, generated: str | None = None,
                uncertainty: Uncertainty | None = None) -> str:
    """The report as one HTML document; ``png`` maps chart stem -> PNG bytes to embed."""
    cf = comparison.counterfactual
    cf_words = scenario_label(cf)
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    entries = _entries(comparison)
    scs = {c.scenario.name: c.scenario for c in comparison.cases}
    metrics = uncertainty.metrics if uncertainty is not None else None
    opts = sm.options(comparison, entries, metrics, uncertainty.runs if uncertainty else None)
    order = [o.name for o in opts]
    shown: set[str] = set()

    def fig(stem: str) -> str:
        chart = next((c for c in chart_list if c.stem == stem), None)
        if chart is None or stem not in png:
            return ""
        shown.add(stem)
        return _figure(chart, png[stem])

    def rest(section: str) -> str:
        return "".join(fig(c.stem) for c in chart_list if c.section == section
                       and c.stem not in shown)

    start = wording.month_words(cf.time.start)
    names = ", ".join(o.label for o in opts)
    said = sm.sentences(opts, cf, comparison.horizon, scs,
                        {n: entries[n].get("qaly_price_year") for n in order})
    body = [
        f"<h1>Business case: {_e(names)}</h1>",
        f'<p class="lede">Against the counterfactual, <b>{_e(cf_words)}</b>: {_e(cf.title or cf.name)}. '
        f"{comparison.horizon} months from {_e(start)}, real terms at {_e(cf.price_year)} prices; "
        f"tpsim {_e(__version__)}, {_e(generated)}.</p>",
        '<section id="summary"><h2>1. Executive summary</h2>',
        _summary_table(opts, comparison.horizon),
        "<ul class=\"findings\">" + "".join(f"<li>{_e(s)}</li>" for s in said) + "</ul>",
        f'<p class="note">{_e(_FIVE_CASES)}</p></section>',
        '<section id="economic"><h2>2. Economic case</h2>',
        _economic_table(comparison, entries, order),
        f'<p class="note">{_e(_MEASURES_NOTE)}</p>',
        fig("net_benefit"),
        "<h3>Switching values</h3>",
        '<p>The value of each key assumption at which an option\'s case turns zero '
        "(searched in batched runs; model parameters are changed in the option and the "
        "counterfactual alike).</p>",
        fig("switching_values"),
    ]
    for n in order:
        body.append(f"<h4>{_e(scenario_label(scs[n]))}</h4>")
        body.append(_switching_table(scs[n], entries[n]))
    body.append("</section>")
    body += ['<section id="financial"><h2>3. Financial case</h2>',
             "<p>Cash as each agency's finance director sees it: undiscounted, by April-March "
             "financial year, without optimism bias (cashflow.csv has every agency, year and "
             "the reserves).</p>",
             fig("cashflow"), _cashflow_table(comparison, order),
             _s114_html(comparison, entries, order),
             "<h3>Spend against the counterfactual</h3>",
             fig("spend_by_agency"), fig("spend_by_kind"), rest("financial"), "</section>"]
    body += ['<section id="who"><h2>4. Who pays and who gains</h2>',
             '<p class="note">Costs are extra preventive investment (own places, payments into '
             "the pooled budget and the overhead on them) against the counterfactual; savings "
             "are reactive spend avoided; a negative saving is extra reactive spend. Money in £m; "
             "PV: present value over the whole horizon.</p>"]
    for n in order:
        body.append(f"<h3>{_e(scenario_label(scs[n]))}</h3>")
        body.append(_agency_table(next(c for c in comparison.cases if c.scenario.name == n)))
        body.append(fig(f"who_pays_who_gains_{n}"))
        body.append(fig(f"wrong_pocket_{n}"))
        body.append(fig(f"savings_by_service_{n}"))
    body.append(rest("who") + "</section>")
    body += ['<section id="people"><h2>5. Outcomes for people</h2>',
             _outcomes_table(comparison, order), rest("people"), "</section>"]
    body.append('<section id="uncertainty"><h2>6. Uncertainty and sensitivity</h2>')
    if uncertainty is not None and uncertainty.rows:
        by_label = {r[0]: r for r in uncertainty.rows}
        labels = [scenario_label(scs[n]) for n in order if scenario_label(scs[n]) in by_label]
        rows = [[measure] + [by_label[lab][k + 1] for lab in labels]
                for k, measure in enumerate(UNCERTAINTY_MEASURES)]
        body.append(_table(["Measure"] + labels, rows, [False] + [True] * len(labels),
                           cls="measures", row_heads=True))
    body.append(rest("uncertainty"))
    if uncertainty is not None:
        body.append(f'<p class="note">{_e(uncertainty.note)}</p>')
    else:
        body.append('<p class="note">The figures above are central estimates from one set of '
                    "parameters; the switching values in section 2 show how far the main ones "
                    "may move. For ranges (fan charts), the chance of a positive fiscal NPV and "
                    "which assumptions matter most (tornado charts), give the scenarios an "
                    "<code>uncertainty</code> section and run <code>tpsim report ... "
                    "--uncertainty RUNS</code> (<code>tpsim demo</code> does so by default).</p>")
    body.append("</section>")
    body += ['<section id="assumptions"><h2>7. Key assumptions and their sources</h2>',
             '<p class="note">Each value with the comment written beside it in the scenario '
             "file, which names its source or says it is an assumption.</p>",
             _assumptions_html(comparison), "</section>",
             '<section id="settings"><h2>8. Settings and version</h2>',
             _settings_html(comparison, command, generated), "</section>"]
    title = f"Business case: {names} against {cf_words}"
    return ("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta name=\"generator\" content=\"tpsim {_e(__version__)}\">\n"
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in body if p) + "\n</main>\n</body>\n</html>\n")
