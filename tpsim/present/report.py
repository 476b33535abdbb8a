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
optionally, a :class:`~tpsim.analysis.sensitivity.ComparisonUncertainty`. Nothing here
simulates or writes a file: :func:`render_html` returns the page's text. The charts are made in
:mod:`tpsim.present.report_charts` (re-exported here); the page's CSS
(:mod:`tpsim.present.report_style`) keeps every table inside its column at 1280 px and on A4
portrait (tests/test_report_browser.py checks it in Chromium).
"""
from __future__ import annotations

import base64
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from tpsim import __version__
from tpsim.analysis.comparison import Case, Comparison
from tpsim.config.scenario import Scenario
from tpsim.present import style as st
from tpsim.present import summary as sm
from tpsim.present import wording
from tpsim.present.assumptions import key_assumptions
from tpsim.present.labels import agency_label, parameter_label, scenario_label
from tpsim.present.report_style import CSS
from tpsim.present.report_charts import (SECTIONS, UNCERTAINTY_MEASURES, Chart,  # noqa: F401
                                         Uncertainty, _cashflow_panels, _e, _entries,
                                         _involved, _m, _signed, _summary, make_charts,
                                         trajectory_charts, uncertainty_section)

__all__ = ["Chart", "Uncertainty", "make_charts", "trajectory_charts", "uncertainty_section",
           "render_html", "embed_png", "SECTIONS"]


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
    ranged = any(o.npsv_probability_positive is not None for o in opts)
    head = ["Rank and option", "NPSV", "Fiscal NPV (public purse)", "Largest net cost",
            "Gains most", "Cash payback", "Social value positive from"]
    if ranged:
        head.append("Runs with a positive NPSV")
    rows = []
    for o in opts:
        row = [f"{o.rank}. {o.label}", _signed(o.npsv), _signed(o.fiscal_npv),
               _who(o.largest_cost), _who(o.largest_gain),
               wording.payback(o.payback_month, o.pays_back_in_parliament),
               f"month {o.npsv_break_even}" if o.npsv_break_even is not None else
               (f"not within {o.break_even_searched} months" if o.break_even_searched else "–")]
        if ranged:
            row.append("–" if o.npsv_probability_positive is None
                       else f"{o.npsv_probability_positive:.0%}")
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


class _Figures:
    """The report's charts as HTML figures, each placed once: a section names the charts it
    places first, then takes the rest of its section's charts in report order."""

    def __init__(self, chart_list: Sequence[Chart], png: dict[str, bytes]) -> None:
        self.chart_list, self.png = chart_list, png
        self.shown: set[str] = set()

    def fig(self, stem: str) -> str:
        chart = next((c for c in self.chart_list if c.stem == stem), None)
        if chart is None or stem not in self.png:
            return ""
        self.shown.add(stem)
        return _figure(chart, self.png[stem])

    def rest(self, section: str) -> str:
        return "".join(self.fig(c.stem) for c in self.chart_list if c.section == section
                       and c.stem not in self.shown)


def _summary_section(comparison: Comparison, opts: list[sm.Option], scs: dict, entries: dict,
                     names: str, generated: str) -> list[str]:
    """Title, lede and section 1 (the executive summary)."""
    cf = comparison.counterfactual
    order = [o.name for o in opts]
    start = wording.month_words(cf.time.start)
    said = sm.sentences(opts, cf, comparison.horizon, scs,
                        {n: entries[n].get("qaly_price_year") for n in order})
    return [
        f"<h1>Business case: {_e(names)}</h1>",
        f'<p class="lede">Against the counterfactual, <b>{_e(scenario_label(cf))}</b>: '
        f"{_e(cf.title or cf.name)}. "
        f"{comparison.horizon} months from {_e(start)}, real terms at {_e(cf.price_year)} prices; "
        f"tpsim {_e(__version__)}, {_e(generated)}.</p>",
        '<section id="summary"><h2>1. Executive summary</h2>',
        _summary_table(opts, comparison.horizon),
        "<ul class=\"findings\">" + "".join(f"<li>{_e(s)}</li>" for s in said) + "</ul>",
        f'<p class="note">{_e(_FIVE_CASES)}</p></section>']


def _economic_section(comparison: Comparison, order: list[str], scs: dict, entries: dict,
                      figs: _Figures) -> list[str]:
    """Section 2: the appraisal measures, the J-curves and the switching values."""
    body = [
        '<section id="economic"><h2>2. Economic case</h2>',
        _economic_table(comparison, entries, order),
        f'<p class="note">{_e(_MEASURES_NOTE)}</p>',
        figs.fig("net_benefit"),
        "<h3>Switching values</h3>",
        '<p>The value of each key assumption at which an option\'s case turns zero '
        "(searched in batched runs; model parameters are changed in the option and the "
        "counterfactual alike).</p>",
        figs.fig("switching_values"),
    ]
    for n in order:
        body.append(f"<h4>{_e(scenario_label(scs[n]))}</h4>")
        body.append(_switching_table(scs[n], entries[n]))
    body.append("</section>")
    return body


def _financial_section(comparison: Comparison, order: list[str], entries: dict,
                       figs: _Figures) -> list[str]:
    """Section 3: cash by agency and financial year, section 114 risk, spend charts."""
    return ['<section id="financial"><h2>3. Financial case</h2>',
            "<p>Cash as each agency's finance director sees it: undiscounted, by April-March "
            "financial year, without optimism bias (cashflow.csv has every agency, year and "
            "the reserves).</p>",
            figs.fig("cashflow"), _cashflow_table(comparison, order),
            _s114_html(comparison, entries, order),
            "<h3>Spend against the counterfactual</h3>",
            figs.fig("spend_by_agency"), figs.fig("spend_by_kind"), figs.rest("financial"),
            "</section>"]


def _who_section(comparison: Comparison, order: list[str], scs: dict,
                 figs: _Figures) -> list[str]:
    """Section 4: per option, each agency's costs and savings and their charts."""
    body = ['<section id="who"><h2>4. Who pays and who gains</h2>',
            '<p class="note">Costs are extra preventive investment (own places, payments into '
            "the pooled budget and the overhead on them) against the counterfactual; savings "
            "are reactive spend avoided; a negative saving is extra reactive spend. Money in £m; "
            "PV: present value over the whole horizon.</p>"]
    for n in order:
        body.append(f"<h3>{_e(scenario_label(scs[n]))}</h3>")
        body.append(_agency_table(next(c for c in comparison.cases if c.scenario.name == n)))
        body.append(figs.fig(f"who_pays_who_gains_{n}"))
        body.append(figs.fig(f"wrong_pocket_{n}"))
        body.append(figs.fig(f"savings_by_service_{n}"))
    body.append(figs.rest("who") + "</section>")
    return body


def _uncertainty_html(uncertainty: Uncertainty | None, order: list[str], scs: dict,
                      figs: _Figures) -> list[str]:
    """Section 6: the ensemble's measures per option and its charts, or how to get them."""
    body = ['<section id="uncertainty"><h2>6. Uncertainty and sensitivity</h2>']
    if uncertainty is not None and uncertainty.rows:
        by_label = {r[0]: r for r in uncertainty.rows}
        labels = [scenario_label(scs[n]) for n in order if scenario_label(scs[n]) in by_label]
        rows = [[measure] + [by_label[lab][k + 1] for lab in labels]
                for k, measure in enumerate(UNCERTAINTY_MEASURES)]
        body.append(_table(["Measure"] + labels, rows, [False] + [True] * len(labels),
                           cls="measures", row_heads=True))
    body.append(figs.rest("uncertainty"))
    if uncertainty is not None:
        body.append(f'<p class="note">{_e(uncertainty.note)}</p>')
    else:
        body.append('<p class="note">The figures above are central estimates from one set of '
                    "parameters; the switching values in section 2 show how far the main ones "
                    "may move. For ranges of the NPSV and the fiscal NPV, the chance of each "
                    "being positive, fan charts and which assumptions matter most (tornado "
                    "charts), give the scenarios an "
                    "<code>uncertainty</code> section and run <code>tpsim report ... "
                    "--uncertainty RUNS</code> (<code>tpsim demo</code> does so by default).</p>")
    body.append("</section>")
    return body


def render_html(comparison: Comparison, chart_list: Sequence[Chart], png: dict[str, bytes],
                command: str | None = None, generated: str | None = None,
                uncertainty: Uncertainty | None = None) -> str:
    """The report as one HTML document; ``png`` maps chart stem -> PNG bytes to embed."""
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    entries = _entries(comparison)
    scs = {c.scenario.name: c.scenario for c in comparison.cases}
    metrics = uncertainty.metrics if uncertainty is not None else None
    opts = sm.options(comparison, entries, metrics, uncertainty.runs if uncertainty else None)
    order = [o.name for o in opts]
    names = ", ".join(o.label for o in opts)
    figs = _Figures(chart_list, png)
    body = _summary_section(comparison, opts, scs, entries, names, generated)
    body += _economic_section(comparison, order, scs, entries, figs)
    body += _financial_section(comparison, order, entries, figs)
    body += _who_section(comparison, order, scs, figs)
    body += ['<section id="people"><h2>5. Outcomes for people</h2>',
             _outcomes_table(comparison, order), figs.rest("people"), "</section>"]
    body += _uncertainty_html(uncertainty, order, scs, figs)
    body += ['<section id="assumptions"><h2>7. Key assumptions and their sources</h2>',
             '<p class="note">Each value with the comment written beside it in the scenario '
             "file, which names its source or says it is an assumption.</p>",
             _assumptions_html(comparison), "</section>",
             '<section id="settings"><h2>8. Settings and version</h2>',
             _settings_html(comparison, command, generated), "</section>"]
    title = f"Business case: {names} against {scenario_label(comparison.counterfactual)}"
    return ("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta name=\"generator\" content=\"tpsim {_e(__version__)}\">\n"
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in body if p) + "\n</main>\n</body>\n</html>\n")
