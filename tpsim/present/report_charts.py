"""The charts of a business-case report and the figures they share with its HTML: every chart
of a ready :class:`~tpsim.analysis.comparison.Comparison` in report order (:func:`make_charts`),
the level charts of plain runs (:func:`trajectory_charts`, for ``tpsim chart``) and the
uncertainty section of a ready
:class:`~tpsim.analysis.sensitivity.ComparisonUncertainty` (:func:`uncertainty_section`). Each
chart is a :class:`Chart`, drawn when first read. No simulation, no file; money in £ (shown in
£m).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from functools import partial
from typing import Sequence

import numpy as np

from tpsim.analysis import cashflow
from tpsim.analysis.comparison import Case, Comparison
from tpsim.config.scenario import Scenario
from tpsim.present import charts, charts_case
from tpsim.present import style as st
from tpsim.present import summary as sm
from tpsim.present.documents import scenario_entry
from tpsim.present.labels import agency_label, parameter_label, scenario_label

__all__ = ["Chart", "Uncertainty", "SECTIONS", "UNCERTAINTY_MEASURES", "make_charts",
           "trajectory_charts", "uncertainty_section"]


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
    entries = _entries(comparison)
    trajectories = comparison.trajectories()
    cf_run = next(t for t in trajectories if t[0].name == comparison.counterfactual.name)
    names = [c.scenario.name for c in comparison.cases]
    option_runs = [t for t in trajectories if t[0].name in names]
    out = _economic_charts(comparison, entries)
    out += _financial_charts(comparison, trajectories, cf_run, option_runs)
    for c in comparison.cases:
        out.extend(_who_charts(comparison, c))
    fig = partial(charts_case.people_difference, option_runs, cf_run,
                  parliament_months=comparison.parliament,
                  title="Change in the number of people in each need state against "
                        + scenario_label(comparison.counterfactual),
                  source=_source(comparison))
    out.append(Chart("people_by_need_state", "people", "Change in people in each need state",
                     "Fewer people in the high-need states is what prevention buys.", fig))
    out.extend(extra)
    return out


def _economic_charts(comparison: Comparison, entries: dict) -> list[Chart]:
    """The economic case: the J-curves of NPSV and fiscal net benefit, the switching values."""
    cf_words = scenario_label(comparison.counterfactual)
    names = [c.scenario.name for c in comparison.cases]
    labels = {c.scenario.name: scenario_label(c.scenario) for c in comparison.cases}
    months = np.arange(1, comparison.horizon + 1)
    npsv_curves = {}
    for c in comparison.cases:
        stream = c.appraisal.discounted_npsv
        npsv_curves[c.scenario.name] = np.cumsum(stream if stream is not None
                                                 else c.appraisal.discounted_net)
    fiscal_curves = {c.scenario.name: np.cumsum(c.appraisal.discounted_net) for c in comparison.cases}
    fig = partial(
        charts_case.value_curves, months, npsv_curves, fiscal_curves, labels=labels,
        npsv_break_even={n: (entries[n].get("break_even") or {}).get("npsv_month") for n in names},
        fiscal_payback={n: entries[n]["payback_month"] for n in names},
        start=comparison.counterfactual.time.start, parliament_months=comparison.parliament,
        title=f"Cumulative value of each option against {cf_words}",
        subtitle=("Left: net present social value to date (resource savings and valued QALYs "
                  "minus costs, transfers excluded). Right: the public purse, cashable savings "
                  f"minus costs with {_bias_words(comparison)}. Both discounted at the Green Book "
                  "rates; a circle marks the month a line turns positive and stays so."),
        source=_source(comparison))
    out = [Chart("net_benefit", "economic", "Cumulative NPSV and fiscal net benefit (the "
                 "J-curves)",
                 "Month by month, what each option has returned so far: below zero it has "
                 "cost more than it has returned.", fig,
                 alt=_curves_alt(comparison, entries, npsv_curves, fiscal_curves))]
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
    return out


def _financial_charts(comparison: Comparison, trajectories: list, cf_run: tuple,
                      option_runs: list) -> list[Chart]:
    """The financial case: annual cash flow by agency, and spend against the counterfactual
    by agency and by kind (reactive or preventive)."""
    cf_words = scenario_label(comparison.counterfactual)
    parliament = comparison.parliament
    out = []
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
    context = [sc.name for sc, _, _ in comparison.context]
    fig = partial(charts_case.spend_difference_by_agency, option_runs, cf_run,
                  parliament_months=parliament,
                  title=f"Change in each agency's spend against {cf_words}",
                  source=_source(comparison))
    out.append(Chart("spend_by_agency", "financial", "Change in each agency's spend",
                     "Everything each agency pays for the modelled services, including its "
                     "payments into a pooled budget, minus the same in the counterfactual.", fig))
    fig = partial(charts_case.spend_difference_by_kind,
                  [t for t in trajectories if t[0].name != comparison.counterfactual.name],
                  cf_run, context=context, parliament_months=parliament,
                  title=f"Change in reactive and preventive spend against {cf_words}",
                  source=charts.source_line([sc for sc, _, _ in trajectories]))
    out.append(Chart("spend_by_kind", "financial", "Change in reactive and preventive spend",
                     "Demand-led reactive spend and preventive spend, whoever pays, against the "
                     "counterfactual" + ("; context runs are dotted." if context else "."), fig))
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
    """The uncertainty section: fan and tornado charts, a table of NPSV and fiscal NPV figures
    per option (``rows``: one list of cells per option, in :data:`UNCERTAINTY_MEASURES` order
    after the option's label) and the ensemble's metrics by scenario name (for the summary)."""

    charts: list
    rows: list[list[str]]
    note: str
    metrics: dict | None = None
    runs: int | None = None


UNCERTAINTY_MEASURES = ("NPSV, deterministic (the headline run)", "NPSV, mean", "NPSV, median",
                        "NPSV, 10th percentile", "NPSV, 90th percentile",
                        "Runs with a positive NPSV",
                        "Fiscal NPV, deterministic (the headline run)", "Fiscal NPV, mean",
                        "Fiscal NPV, median", "Fiscal NPV, 10th percentile",
                        "Fiscal NPV, 90th percentile", "Runs with a positive fiscal NPV",
                        "Runs paying back within the Parliament")


def uncertainty_section(comparison: Comparison, result) -> Uncertainty:
    """The uncertainty section of a ready
    :class:`~tpsim.analysis.sensitivity.ComparisonUncertainty` (no simulation here): a fan
    chart of the paired change in total public spend, the NPSV's and the fiscal NPV's sampled
    range per option, and a tornado of each option's fiscal NPV."""
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

        def figures(metric: dict) -> list[str]:
            p = metric["percentiles"]
            return [_m(metric.get("deterministic")), _m(metric["mean"]), _m(p.get("p50")),
                    _m(p.get("p10")), _m(p.get("p90"))]

        rows.append([label, *figures(m["npsv"]), f"{m['probability_npsv_positive']:.0%}",
                     *figures(m["npv"]), f"{m['probability_beats_counterfactual']:.0%}",
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
            "(distributions and their sources are listed in each file). Every run is appraised "
            "in full: its NPSV (QALYs valued, transfers out) and its fiscal NPV, over the "
            "horizon; the 10th to 90th percentile is the range of the sampled runs. The "
            "deterministic figure is the headline's run (every parameter at the scenario's "
            "value, the most likely value of its distribution); the mean and median differ from "
            "it because most distributions are skewed against the option (effects with longer "
            "lower tails, delays with longer upper tails) and the model is non-linear "
            "(docs/uncertainty.md).")
    return Uncertainty(out, rows, text, dict(summary.metrics), runs)


def partial_figure(function, *args, **kwargs):
    """A figure drawn when first needed (see :class:`Chart`)."""
    return partial(function, *args, **kwargs)
