"""The business-case report: one self-contained HTML page (charts embedded as PNG data URIs, no
external CSS, scripts, fonts or images), shaped like the economic and financial cases of an HM
Treasury Five Case Model business case:

1. headline figures (fiscal NPV, BCR, payback, who pays and who gains);
2. the economic case (the J-curve of cumulative discounted net benefit, outcomes);
3. the financial case (who pays / who gains, the wrong-pocket matrix, spend by agency and kind,
   affordability: section 114 months);
4. people by need state;
5. uncertainty (fan and tornado charts, when an ensemble has been run);
6. the key assumptions with their sources (the scenario files' own comments and ``sources``);
7. the settings and versions that produced it.

Every figure comes from a ready :class:`~tpsim.analysis.comparison.Comparison` (built by
:func:`tpsim.analysis.comparison.compare_scenarios`, as for ``tpsim compare``; its figures read
through :func:`tpsim.present.documents.scenario_entry`, the builder of ``comparison.json``) and,
optionally, a :class:`~tpsim.analysis.sensitivity.ComparisonUncertainty`. This module does no simulation and
writes no file: :func:`make_charts` returns figures, :func:`render_html` returns text.
"""
from __future__ import annotations

import base64
import html
import platform
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from typing import Sequence

import numpy as np

from tpsim import __version__
from tpsim.present import charts
from tpsim.present import style as st
from tpsim.present import wording
from tpsim.present.assumptions import key_assumptions, parameter_label
from tpsim.present.documents import scenario_entry
from tpsim.analysis.comparison import Case, Comparison
from tpsim.config.scenario import Scenario

__all__ = ["Chart", "Uncertainty", "make_charts", "trajectory_charts", "uncertainty_section",
           "render_html", "headline", "embed_png"]


# ---------------------------------------------------------------------------------------------
# What a report is made from
# ---------------------------------------------------------------------------------------------


class Chart:
    """A chart of the report: file stem, report section, title, caption and the figure.

    ``figure`` is a matplotlib Figure or a function of no arguments that draws it; it is drawn
    the first time :attr:`figure` is read (so a caller that needs one chart pays for one).
    """

    def __init__(self, stem: str, section: str, title: str, caption: str, figure) -> None:
        self.stem, self.section, self.title, self.caption = stem, section, title, caption
        self._figure = figure

    @property
    def figure(self):
        if callable(self._figure) and not hasattr(self._figure, "savefig"):
            self._figure = self._figure()
        return self._figure

    def __repr__(self) -> str:
        return f"Chart({self.stem!r}, {self.section!r}, {self.title!r})"


SECTIONS = ("economic", "financial", "people", "uncertainty")


# ---------------------------------------------------------------------------------------------
# Labels and formatting
# ---------------------------------------------------------------------------------------------


def _agency_label(scenario: Scenario, agency: str) -> str:
    if agency == "pool":
        return "Pooled budget (unspent balance)"
    return charts.short_label(scenario.data["agencies"].get(agency, {}).get("label") or agency)


def _title(scenario: Scenario) -> str:
    return scenario.data.get("title") or scenario.name


def _money(value: float | None) -> str:
    return "–" if value is None else st.money(value)


def _m(value: float | None) -> str:
    return "–" if value is None else st.pounds_m(value / 1e6)


def _summary(case: Case) -> dict:
    """The figures of one case as ``comparison.json`` lays them out (one builder for both)."""
    return scenario_entry(case)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------------------------------------
# Headline figures
# ---------------------------------------------------------------------------------------------


def headline(case: Case, counterfactual: Scenario) -> dict:
    """The headline of one case: NPV, BCR, payback, who pays most and who gains most."""
    s = _summary(case)
    rows = s["agencies"]
    costs = {a: r["pv_uplifted_costs_horizon"] for a, r in rows.items()}
    savings = {a: r["pv_cashable_savings_horizon"] for a, r in rows.items()}
    npv = {a: r["npv_horizon"] for a, r in rows.items()}
    payers = sorted((a for a in costs if costs[a] > 0.005 * max(abs(v) for v in costs.values() or [1])),
                    key=lambda a: -costs[a])
    gainers = sorted((a for a in savings if savings[a] > 0), key=lambda a: -savings[a])
    better = [a for a in npv if npv[a] > 1e3]
    worse = [a for a in npv if npv[a] < -1e3]
    return {
        "scenario": case.scenario.name,
        "title": _title(case.scenario),
        "npv": s["npv"], "npv_parliament": s["npv_parliament"], "economic_npv": s["economic_npv"],
        "bcr": s["bcr"], "economic_bcr": s["economic_bcr"],
        "payback_month": s["payback_month"], "pays_back_in_parliament": s["pays_back_in_parliament"],
        "pv_costs": s["total"]["pv_uplifted_costs_horizon"],
        "pv_savings": s["total"]["pv_cashable_savings_horizon"],
        "optimism_bias": s["optimism_bias"],
        "pays_most": payers[0] if payers else None,
        "gains_most": gainers[0] if gainers else None,
        "payers": payers, "gainers": gainers, "better_off": better, "worse_off": worse,
        "costs": costs, "savings": savings, "agency_npv": npv,
    }


def _headline_sentence(h: dict, case: Case, cf: Scenario, horizon: int) -> str:
    sc = case.scenario
    npv = h["npv"]
    verdict = "a net fiscal gain" if npv > 0 else "a net fiscal cost"
    text = (f"Against {cf.name.replace('_', ' ')}, {sc.name.replace('_', ' ')} costs "
            f"{_m(h['pv_costs'])} in present value (with {h['optimism_bias']:.0%} optimism bias) and "
            f"saves {_m(h['pv_savings'])} of cashable reactive spend over {horizon} months: "
            f"{verdict} of {_m(abs(npv))} (fiscal NPV {_m(npv)}).")
    text += " " + wording.payback_sentence(h["payback_month"], h["pays_back_in_parliament"])
    if h["pays_most"]:
        text += (f" The largest cost falls on {_agency_label(sc, h['pays_most'])} "
                 f"({_m(h['costs'][h['pays_most']])})")
        if h["gains_most"]:
            text += (f"; the largest saving goes to {_agency_label(sc, h['gains_most'])} "
                     f"({_m(h['savings'][h['gains_most']])}).")
        else:
            text += "."
    if h["better_off"]:
        text += " Better off: " + ", ".join(_agency_label(sc, a) for a in h["better_off"]) + "."
    return text


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------


def _source(comparison: Comparison, scenarios: Sequence[Scenario] | None = None,
            note: str | None = None) -> str:
    scs = scenarios if scenarios is not None else [c.scenario for c in comparison.cases]
    return charts.source_line(list(scs), comparison.counterfactual, note)


def _measure_note(case: Case) -> str:
    ob = _summary(case)["optimism_bias"]
    bias = f"costs include {ob:.0%} optimism bias" if ob > 0 else "no optimism bias on costs"
    return (f"present values over {case.appraisal.horizon_months} months at "
            f"{_summary(case)['discount_rate']:.1%} a year; {bias}")


def make_charts(comparison: Comparison, extra: Sequence[Chart] = ()) -> list[Chart]:
    """Every chart of the report, in report order (``extra``: e.g. fan and tornado charts
    from an ensemble, appended to the uncertainty section)."""
    cf = comparison.counterfactual
    out: list[Chart] = []
    start = cf.data["time"]["start"]
    horizon = comparison.horizon
    parliament = comparison.parliament

    # --- economic case: the J-curve
    months = np.arange(1, horizon + 1)
    curves = {c.scenario.name: np.cumsum(c.appraisal.discounted_net) for c in comparison.cases}
    paybacks = {c.scenario.name: _summary(c)["payback_month"] for c in comparison.cases}
    ob = sorted({f"{_summary(c)['optimism_bias']:.0%}" for c in comparison.cases})
    bias = "no optimism bias" if ob == ["0%"] else "/".join(ob) + " optimism bias"
    fig = partial(
        charts.net_benefit_curve, months, curves, paybacks, start=start,
        parliament_months=parliament,
        title=f"Cumulative discounted net benefit against {cf.name.replace('_', ' ')}",
        subtitle=(f"Cashable savings minus costs (with {bias}), all agencies and the pool, "
                  "discounted at the Green Book rate; the line crosses zero where the investment "
                  "has paid for itself."),
        source=_source(comparison))
    out.append(Chart("net_benefit", "economic", "Cumulative discounted net benefit (the J-curve)",
                     "The fiscal case month by month: below zero, the investment has cost more than "
                     "it has saved so far. A circle marks the payback month.", fig))

    # --- financial case: who pays / who gains and the wrong-pocket matrix, per scenario
    for c in comparison.cases:
        sc = c.scenario
        rows = dict(_summary(c)["agencies"])
        ids = list(rows)
        costs = [rows[a]["pv_uplifted_costs_horizon"] for a in ids]
        savings = [rows[a]["pv_cashable_savings_horizon"] for a in ids]
        pool = _summary(c).get("pool") or {}
        if sc.data.get("pool", {}).get("enabled") and abs(pool.get("pv_uplifted_costs_horizon", 0.0)) > 0:
            ids.append("pool")
            costs.append(pool["pv_uplifted_costs_horizon"])
            savings.append(pool.get("pv_cashable_savings_horizon", 0.0))
        labels = {a: _agency_label(sc, a) for a in ids}
        fig = partial(
            charts.who_pays_who_gains, ids, costs, savings, labels=labels,
            title=f"Who pays and who gains: {sc.name.replace('_', ' ')}",
            subtitle=f"Against {cf.name.replace('_', ' ')}; {_measure_note(c)}. "
                     "Negative savings are extra reactive spend.",
            value_label="£m, present value", source=_source(comparison, [sc]))
        out.append(Chart(f"who_pays_who_gains_{sc.name}", "financial",
                         f"Who pays and who gains: {sc.name.replace('_', ' ')}",
                         "Per agency, the extra investment it bears (left, hatched) against the "
                         "cashable savings it receives (right, solid); the diamond is the net. "
                         "The pooled budget row is money paid in but not spent (a negative cost).",
                         fig))
        block = _summary(c)["attribution"]["cashable"]
        investors = list(block["investing_agencies"])
        if investors:
            agencies = list(block["total"])
            matrix = [[block["matrix"][a][b] for b in agencies] for a in investors]
            payers = list(investors)
            remainder = [block["remainder"][b] for b in agencies]
            if max(abs(v) for v in remainder) > 0.01 * max(abs(v) for row in matrix for v in row) + 1.0:
                matrix.append(remainder)
                payers.append("interaction")
            labels = {a: _agency_label(sc, a) for a in agencies}
            labels["interaction"] = "Interaction, not attributable to one agency"
            fig = partial(
                charts.wrong_pocket_matrix, np.array(matrix), payers, agencies, labels=labels,
                title=f"The wrong pocket: {sc.name.replace('_', ' ')}",
                subtitle=("Cashable savings each agency receives (columns) because of the extra "
                          "preventive investment of each paying agency (rows), found by re-running "
                          f"without that agency's investment; {_measure_note(c)}."),
                ylabel="Investment paid for by", xlabel="Agency whose reactive spend falls",
                value_label="£m, present value", source=_source(comparison, [sc]))
            out.append(Chart(f"wrong_pocket_{sc.name}", "financial",
                             f"The wrong-pocket matrix: {sc.name.replace('_', ' ')}",
                             "Read across a row to see where one agency's investment lands. "
                             "Savings off the diagonal fall in another agency's pocket.", fig))

    context = [sc.name for sc, _, _ in comparison.context]
    out.extend(trajectory_charts(comparison.trajectories(), counterfactual=cf.name,
                                 context=context, parliament_months=parliament))
    out.extend(extra)
    return out


def trajectory_charts(runs: Sequence[tuple], counterfactual: str | None = None,
                      context: Sequence[str] = (),
                      parliament_months: int | None = st.PARLIAMENT_MONTHS) -> list[Chart]:
    """The charts over time that need only simulated results: spend by agency, reactive and
    preventive spend, people by need state. ``runs`` are ``(scenario, results[, run])``."""
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
    note = (f"; the counterfactual ({counterfactual.replace('_', ' ')}) is dashed"
            if counterfactual else "") + ("; context runs are dotted" if context else "")
    out.append(Chart("spend_by_kind", "financial", "Reactive and preventive spend",
                     "Total spend on demand-led reactive services and on preventive services "
                     f"(whoever pays), £m a year{note}.", fig))
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
    """The uncertainty section: fan and tornado charts and a table of NPV percentiles."""

    charts: list
    rows: list[list[str]]
    note: str


def uncertainty_section(comparison: Comparison, result) -> Uncertainty:
    """The uncertainty section of a ready
    :class:`~tpsim.analysis.sensitivity.ComparisonUncertainty` (no simulation here): a fan
    chart of the paired change in total public spend and a row of NPV percentiles per scenario
    (:func:`tpsim.present.charts.fan_chart`), and a tornado of each scenario's NPV
    (:func:`tpsim.present.charts.tornado_chart`)."""
    if not result.has_factors:
        return Uncertainty([], [], "No scenario declares an uncertainty section "
                                   "(docs/uncertainty.md), so there is no range to show.")
    job, summary, runs, seed, swing = (result.job, result.summary, result.runs, result.seed,
                                       result.swing)
    scs = [c.scenario for c in comparison.cases]
    cf = comparison.counterfactual
    pct = list(summary.percentiles)
    i5, i25, i50, i75, i95 = (pct.index(p) for p in (5.0, 25.0, 50.0, 75.0, 95.0))
    months = np.arange(1, job.n_months + 1)
    start = cf.data["time"]["start"]
    note = f"{runs:,} runs, seed {seed}, {job.sampler} sampling"
    out: list[Chart] = []
    rows: list[list[str]] = []
    for t, (series, k, diff) in enumerate(job.tracked):
        if not diff:
            continue
        name = job.names[k]
        sc = next(s for s in scs if s.name == name)
        q = summary.quantiles[t]
        bands = {"5th to 95th percentile": (q[:, i5], q[:, i95]),
                 "25th to 75th percentile": (q[:, i25], q[:, i75])}
        out.append(Chart(
            f"fan_spend_total_{name}", "uncertainty",
            f"Range of the change in total public spend: {name.replace('_', ' ')}",
            f"Total public spend of {name.replace('_', ' ')} minus {cf.name.replace('_', ' ')} in "
            "the same (paired) runs, £m a year; below zero the scenario spends less.",
            partial_figure(charts.fan_chart, months, bands, q[:, i50],
                           title=f"Change in total public spend: {name.replace('_', ' ')}",
                           ylabel="Change in spend, £m a year", start=start,
                           subtitle=f"Against {cf.name.replace('_', ' ')}, paired runs; "
                                    f"percentiles over {runs:,} runs.",
                           source=charts.source_line([sc], cf, note))))
        m = summary.metrics[name]
        npv = m["npv"]["percentiles"]
        rows.append([name.replace("_", " "), _m(npv.get("p5")), _m(npv.get("p50")),
                     _m(npv.get("p95")), f"{m['probability_beats_counterfactual']:.0%}",
                     f"{m['payback']['probability_within_parliament']:.0%}"])
    for sc in scs:
        if sc.name not in result.tornados:
            continue
        labels, oat = result.tornados[sc.name]
        out.append(Chart(
            f"tornado_npv_{sc.name}", "uncertainty",
            f"What the NPV of {sc.name.replace('_', ' ')} is most sensitive to",
            "Each bar moves one uncertain parameter alone from its "
            f"{swing * 100:g}th to its {100 - swing * 100:g}th percentile, every other one at its "
            "median; the widest swings matter most.",
            partial_figure(charts.tornado_chart,
                           [parameter_label(sc, lab) for lab in labels], oat["low"]["npv"],
                           oat["high"]["npv"], oat["base"]["npv"],
                           title=f"What the NPV of {sc.name.replace('_', ' ')} is most sensitive to",
                           xlabel="Fiscal net present value, £m",
                           low_label=f"Parameter at its {swing * 100:g}th percentile",
                           high_label=f"Parameter at its {100 - swing * 100:g}th percentile",
                           subtitle=f"Against {cf.name.replace('_', ' ')}; every other parameter "
                                    "at its median.",
                           source=charts.source_line([sc], cf))))
    text = (f"Monte Carlo: {note}, under the uncertainty sections of the scenario files "
            "(distributions and their sources are listed in each file). NPV percentiles are "
            "fiscal, over the horizon.")
    return Uncertainty(out, rows, text)


def partial_figure(function, *args, **kwargs):
    """A figure drawn when first needed (see :class:`Chart`)."""
    return partial(function, *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #1f1f1f; --muted: #555; --rule: #d0d0d0; --band: #f4f6f8; --accent: #0072B2; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 60rem; padding: 1.5rem 1.5rem 4rem;
       line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .6rem; border-top: 3px solid var(--accent); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p.lede { color: var(--muted); margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .86rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .45rem; text-align: left;
         vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid #999; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); gap: .8rem; }
.card { border: 1px solid var(--rule); border-left: 5px solid var(--accent); padding: .7rem .9rem;
        background: #fff; }
.card h3 { margin-top: 0; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: .15rem .8rem; margin: .4rem 0; }
.card dt { color: var(--muted); }
.card dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0 1.6rem; break-inside: avoid; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .86rem; color: var(--muted); margin-top: .3rem; }
.note { font-size: .86rem; color: var(--muted); }
code { font-size: .85em; background: var(--band); padding: 0 .2em; }
.small { font-size: .8rem; }
@page { size: A4; margin: 16mm 14mm; }
@media print { body { max-width: none; padding: 0; font-size: 10.5pt; }
               h2 { break-after: avoid; } table, .card { break-inside: avoid; } }
"""


def embed_png(png: bytes) -> str:
    """A ``data:`` URI for PNG bytes (so the HTML needs no other file)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure(chart: Chart, png: bytes) -> str:
    return (f'<figure id="{_e(chart.stem)}"><img src="{embed_png(png)}" alt="{_e(chart.title)}">'
            f"<figcaption><b>{_e(chart.title)}.</b> {_e(chart.caption)} "
            f"(Also <code>charts/{_e(chart.stem)}.png</code> and <code>.svg</code>.)</figcaption></figure>")


def _table(head: Sequence[str], rows: Sequence[Sequence], numeric: Sequence[bool] | None = None,
           total_last: bool = False, cls: str = "") -> str:
    numeric = list(numeric or [False] * len(head))
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f'<th class="{"num" if n else ""}">{_e(h)}</th>' for h, n in zip(head, numeric)]
    out.append("</tr></thead><tbody>")
    for i, r in enumerate(rows):
        tr = ' class="total"' if total_last and i == len(rows) - 1 else ""
        out.append(f"<tr{tr}>" + "".join(f'<td class="{"num" if n else ""}">{_e(v)}</td>'
                                         for v, n in zip(r, numeric)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _headline_cards(comparison: Comparison) -> str:
    cf = comparison.counterfactual
    cards = []
    for c in comparison.cases:
        h = headline(c, cf)
        sc = c.scenario
        dl = [("Fiscal NPV, horizon", _m(h["npv"])),
              (f"Fiscal NPV, Parliament ({comparison.parliament} months)", _m(h["npv_parliament"])),
              ("Economic NPV", _m(h["economic_npv"])),
              ("Benefit-cost ratio", wording.bcr(h["bcr"])),
              ("Payback", wording.payback(h["payback_month"], h["pays_back_in_parliament"])),
              ("Pays most", f"{_agency_label(sc, h['pays_most'])} ({_m(h['costs'][h['pays_most']])})"
               if h["pays_most"] else "no agency"),
              ("Gains most", f"{_agency_label(sc, h['gains_most'])} ({_m(h['savings'][h['gains_most']])})"
               if h["gains_most"] else "no agency")]
        body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in dl)
        cards.append(f'<div class="card"><h3>{_e(sc.name.replace("_", " "))}</h3>'
                     f'<p class="small">{_e(_title(sc))}</p><dl>{body}</dl>'
                     f"<p>{_e(_headline_sentence(h, c, cf, comparison.horizon))}</p></div>")
    return '<div class="cards">' + "".join(cards) + "</div>"


def _agency_table(c: Case) -> str:
    sc = c.scenario
    s = _summary(c)
    rows = []
    blocks = list(s["agencies"].items()) + [("pool", s["pool"]), ("total", s["total"])]
    for a, r in blocks:
        label = "Total" if a == "total" else _agency_label(sc, a)
        pb = "" if a == "pool" else wording.payback(r["payback_month"])
        rows.append([label, _m(r["costs_parliament"]), _m(r["cashable_savings_parliament"]),
                     _m(r["pv_uplifted_costs_horizon"]), _m(r["pv_cashable_savings_horizon"]),
                     _m(r["pv_non_cashable_savings_horizon"]), _m(r["npv_horizon"]), pb])
    head = ["Agency", "Costs, Parliament (undiscounted)", "Cashable savings, Parliament",
            "Costs + optimism bias (PV)", "Cashable savings (PV)", "Non-cashable savings (PV)",
            "Fiscal NPV", "Payback"]
    return _table(head, rows, [False, True, True, True, True, True, True, False], total_last=True)


def _outcomes_table(comparison: Comparison) -> str:
    rows = []
    for c in comparison.cases:
        o = _summary(c)["outcomes"]["total"]
        rows.append([c.scenario.name.replace("_", " "),
                     st.thousands(o["escalations_avoided_parliament"]),
                     st.thousands(o["escalations_avoided_horizon"]),
                     st.thousands(o["crisis_person_months_avoided_horizon"]),
                     st.thousands(o["exits_avoided_horizon"], 1),
                     st.thousands(o["qalys_gained_horizon"], 1),
                     _m(o["pv_qaly_value_horizon"])])
    head = ["Scenario", "Escalations avoided, Parliament", "Escalations avoided, horizon",
            "Crisis person-months avoided", "Exits (deaths, moves) avoided", "QALYs gained",
            "Value of QALYs (PV)"]
    return _table(head, rows, [False] + [True] * 6)


def _s114_table(comparison: Comparison) -> str:
    rows = []
    for sc, res, k in comparison.trajectories():
        months = res.s114_months(k)
        if not months:
            continue
        cells = [sc.name.replace("_", " ")]
        for a, m in months.items():
            cells.append(f"{_agency_label(sc, a)}: " + ("reserves stay above zero" if m is None
                                                        else f"below zero from month {m}"))
        rows.append([cells[0], "; ".join(cells[1:])])
    if not rows:
        return ""
    return ("<h3>Affordability: council reserves</h3><p>A council whose reserves fall below zero "
            "has in effect issued a section 114 notice.</p>"
            + _table(["Run", "Council reserves"], rows))


def _assumption_rows(items: list[dict], with_cf: bool) -> str:
    head = ["Parameter", "Value"] + (["Counterfactual"] if with_cf else []) + ["Basis and source (from the scenario file)", "Where"]
    rows = [[r["path"], r["value"]] + ([r["counterfactual"]] if with_cf else [])
            + [r["note"] or "(no comment in the file)", r["where"]] for r in items]
    return _table(head, rows, [False, True] + ([True] if with_cf else []) + [False, False],
                  cls="small")


def _assumptions_html(comparison: Comparison) -> str:
    cache: dict = {}
    cf = comparison.counterfactual
    parts = []
    all_sources: dict[str, str] = {}
    for c in comparison.cases:
        ka = key_assumptions(c.scenario, cf, cache)
        all_sources.update(ka["sources"])
        parts.append(f"<h3>{_e(c.scenario.name.replace('_', ' '))}: what differs from "
                     f"{_e(cf.name.replace('_', ' '))}</h3>")
        parts.append(_assumption_rows(ka["differences"], True) if ka["differences"]
                     else "<p>No parameter differs.</p>")
    for sc, _, _ in comparison.context:
        ka = key_assumptions(cf, sc, cache)
        all_sources.update(ka["sources"])
        parts.append(f"<h3>The counterfactual ({_e(cf.name.replace('_', ' '))}): what differs from "
                     f"{_e(sc.name.replace('_', ' '))}</h3>")
        parts.append(_assumption_rows(ka["differences"], True) if ka["differences"]
                     else "<p>No parameter differs.</p>")
    first = comparison.cases[0].scenario if comparison.cases else cf
    ka = key_assumptions(first, cf, cache)
    all_sources.update(ka["sources"])
    parts.append("<h3>The evidence the savings rest on: preventive services</h3>")
    parts.append(_assumption_rows(ka["evidence"], False))
    parts.append("<h3>Appraisal settings (HM Treasury Green Book)</h3>")
    parts.append(_assumption_rows(ka["appraisal"], False))
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
    t = cf.data["time"]
    runs = []
    for sc, _, _ in comparison.trajectories():
        role = ("counterfactual" if sc.name == cf.name else
                "context (not appraised)" if any(sc.name == x.name for x, _, _ in comparison.context)
                else "scenario")
        runs.append([sc.name, role, str(sc.path) if sc.path is not None else "(built in Python)",
                     sc.hash, ", ".join(k for k, v in sc.data["loops"].items() if v) or "none"])
    parts = [_table(["Scenario", "Role", "File", "Hash", "Feedback loops on"], runs, cls="small")]
    ap = [[c.scenario.name, f"{_summary(c)['discount_rate']:.2%}",
           f"{_summary(c)['health_discount_rate']:.2%}", f"{_summary(c)['optimism_bias']:.0%}"
           + (" (command line)" if _summary(c).get("optimism_bias_source") == "command line" else ""),
           f"£{_summary(c)['qaly_value']:,.0f}", "yes" if _summary(c)["value_qalys"] else "no"]
          for c in comparison.cases]
    parts.append(_table(["Scenario", "Discount rate", "Health discount rate", "Optimism bias",
                         "Value of a QALY", "QALYs in economic NPV"], ap, cls="small"))
    settings = [["Start", t["start"]], ["Horizon", f"{t['horizon']} months"],
                ["Parliament", f"{comparison.parliament} months"],
                ["Time step", f"{t['dt']} months ({t['method']})"],
                ["Prices", f"real terms, {cf.data['price_year']}"],
                ["Runs simulated", f"{comparison.n_runs} (scenarios, counterfactual and "
                                   "one run per investing agency for who pays / who gains)"],
                ["Generated", generated]]
    if command:
        settings.append(["Command", command])
    settings += [[k, v] for k, v in _versions()]
    parts.append(_table(["Setting", "Value"], settings, cls="small"))
    return "".join(parts)


def render_html(comparison: Comparison, chart_list: Sequence[Chart], png: dict[str, bytes],
                command: str | None = None, generated: str | None = None,
                uncertainty: Uncertainty | None = None) -> str:
    """The report as one HTML document; ``png`` maps chart stem -> PNG bytes to embed."""
    cf = comparison.counterfactual
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    names = ", ".join(c.scenario.name.replace("_", " ") for c in comparison.cases)
    by_section = {s: [c for c in chart_list if c.section == s] for s in SECTIONS}

    def figs(section: str) -> str:
        return "".join(_figure(c, png[c.stem]) for c in by_section[section] if c.stem in png)

    start = wording.month_words(cf.data["time"]["start"])
    body = [
        f"<h1>Business case: {_e(names)}</h1>",
        f'<p class="lede">Economic and financial cases against the counterfactual '
        f"<b>{_e(cf.name.replace('_', ' '))}</b> ({_e(_title(cf))}). {comparison.horizon} months "
        f"from {_e(start)}, real terms at {_e(cf.data['price_year'])} prices; produced by tpsim "
        f"{_e(__version__)} on {_e(generated)}.</p>",
        "<h2>1. Headline figures</h2>",
        _headline_cards(comparison),
        '<p class="note">Fiscal NPV: present value of cashable savings (reactive cash spend avoided) '
        "minus present value of costs with optimism bias, all agencies and the pooled budget. "
        "Economic NPV adds non-cashable savings (capacity freed but not released as cash)"
        " and, where the scenario asks for it, QALYs valued in money. BCR: present value of cashable "
        "savings over present value of costs. Payback: the first month from which the cumulative "
        "discounted net benefit stays at or above zero.</p>",
        "<h2>2. Economic case</h2>",
        figs("economic"),
        "<h3>Outcomes for people</h3>",
        _outcomes_table(comparison),
        "<h2>3. Financial case: who pays and who gains</h2>",
    ]
    body.append('<p class="note">Costs are extra preventive investment (own places, payments into '
                "the pooled budget and the overhead on them) against the counterfactual; savings are "
                "reactive spend avoided. A negative saving is extra reactive spend. Money in £m; "
                "present values (PV) over the whole horizon.</p>")
    shown = set()
    for c in comparison.cases:
        name = c.scenario.name
        body.append(f"<h3>{_e(name.replace('_', ' '))}: costs and savings by agency</h3>")
        body.append(_agency_table(c))
        for chart in by_section["financial"]:
            if chart.stem in (f"who_pays_who_gains_{name}", f"wrong_pocket_{name}") and chart.stem in png:
                body.append(_figure(chart, png[chart.stem]))
                shown.add(chart.stem)
    body.append("<h3>Spend over time</h3>")
    body.append("".join(_figure(c, png[c.stem]) for c in by_section["financial"]
                        if c.stem in png and c.stem not in shown))
    body.append(_s114_table(comparison))
    body.append("<h2>4. People</h2>")
    body.append(figs("people"))
    body.append("<h2>5. Uncertainty</h2>")
    if uncertainty is not None and uncertainty.rows:
        body.append(_table(["Scenario", "NPV, 5th percentile", "NPV, median", "NPV, 95th percentile",
                            "Runs better than the counterfactual", "Runs paying back within the Parliament"],
                           uncertainty.rows, [False, True, True, True, True, True]))
    if by_section["uncertainty"]:
        body.append(figs("uncertainty"))
    if uncertainty is not None:
        body.append(f'<p class="note">{_e(uncertainty.note)}</p>')
    else:
        body.append('<p class="note">The figures above are central estimates from one set of '
                    "parameters. For ranges (fan charts), the chance of beating the counterfactual "
                    "and which assumptions matter most (tornado chart), give scenarios with an "
                    "<code>uncertainty</code> section and run <code>tpsim report ... --uncertainty "
                    "RUNS</code> (or <code>tpsim ensemble</code> and <code>tpsim sensitivity</code>)."
                    "</p>")
    body.append("<h2>6. Key assumptions and their sources</h2>")
    body.append('<p class="note">Each value with the comment written beside it in the scenario '
                "file, which names its source or says it is an assumption.</p>")
    body.append(_assumptions_html(comparison))
    body.append("<h2>7. Settings and version</h2>")
    body.append(_settings_html(comparison, command, generated))
    title = f"Business case: {names} against {cf.name.replace('_', ' ')}"
    return ("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta name=\"generator\" content=\"tpsim {_e(__version__)}\">\n"
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(p for p in body if p) + "\n</body>\n</html>\n")
