"""The business case's charts: each option drawn as its difference from the counterfactual
(whose own level is stated on the chart), the cumulative NPSV and fiscal J-curves, switching
values and the annual cash flow per agency. Matplotlib Figures at A4 text width, framed by
:func:`tpsim.present.charts._finish` (title, subtitle, legend, source line); nothing is written
here.

Runs are ``(scenario, results, run index)`` triples as in :mod:`tpsim.present.charts`. Money
series in Results are £ a month; spend is drawn as £m a year (x 12 / 1e6), present values and
cash flows in £m. People are counts at month end.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from tpsim.present import style as st
from tpsim.present.charts import (GID_PAYBACK, _finish, _legend, _mark_parliament,
                                  _month_axis, _new_figure, wrap)
from tpsim.present.labels import agency_label, scenario_label, short_label, words

__all__ = ["value_curves", "spend_difference_by_agency", "spend_difference_by_kind",
           "people_difference", "switching_values_chart", "cashflow_chart"]

GID_BREAK_EVEN = "tpsim-break-even"


def _option_styles(names: Sequence[str]) -> dict[str, dict]:
    return st.scenario_styles(list(names))


def _yearly(monthly: np.ndarray) -> np.ndarray:
    """A monthly £ series as £m a year, with month 0 drawn at month 1's value."""
    return np.concatenate([[monthly[0]], monthly]) * st.MONTHLY_TO_M_A_YEAR


def _zero_line(ax) -> None:
    ax.axhline(0, color="#444444", linewidth=0.8, zorder=1)


# ---------------------------------------------------------------------------------------------
# The J-curves: cumulative NPSV and fiscal NPV
# ---------------------------------------------------------------------------------------------


def value_curves(months: Sequence[float], npsv: Mapping[str, Sequence[float]],
                 fiscal: Mapping[str, Sequence[float]], *,
                 labels: Mapping[str, str] | None = None,
                 npsv_break_even: Mapping[str, int | None] | None = None,
                 fiscal_payback: Mapping[str, int | None] | None = None,
                 start: str | None = None,
                 parliament_months: int | None = st.PARLIAMENT_MONTHS,
                 title: str = "Cumulative net present social value and fiscal net benefit",
                 subtitle: str | None = None, source: str | None = None) -> Figure:
    """Two panels sharing the £m axis: the cumulative discounted NPSV (social value) and the
    cumulative discounted fiscal net benefit (the public purse) of each option against month,
    with the end of the Parliament marked and a circle where a curve turns and stays
    non-negative (``npsv_break_even``, ``fiscal_payback``: name -> month or None)."""
    months = np.asarray(months, dtype=float)
    labels = dict(labels or {})
    names = list(npsv)
    styles = _option_styles(names)
    n_months = int(np.ceil(months.max())) if months.size else 0
    fig, axes = _new_figure(3.5, 1, 2, sharey=True)
    marks = {"npsv": dict(npsv_break_even or {}), "fiscal": dict(fiscal_payback or {})}
    with st.style_context():
        for ax, curves, key, heading in (
                (axes[0][0], npsv, "npsv", "Social value (NPSV)"),
                (axes[0][1], fiscal, "fiscal", "Public purse (fiscal NPV)")):
            _zero_line(ax)
            for name in names:
                y = np.concatenate([[0.0], np.asarray(curves[name], dtype=float) / 1e6])
                x = np.concatenate([[0.0], months])
                ax.plot(x, y, **styles[name])
                month = marks[key].get(name)
                if month is not None and 0 < month <= n_months:
                    py = float(np.interp(month, x, y))
                    ax.plot([month], [py], marker="o", markersize=6,
                            markerfacecolor="white", markeredgecolor=styles[name]["color"],
                            markeredgewidth=1.8, linestyle="none", zorder=6,
                            gid=GID_BREAK_EVEN if key == "npsv" else GID_PAYBACK)
                    ax.annotate(f"month {month}", (month, py), xytext=(6, -9),
                                textcoords="offset points", fontsize=7, ha="left", va="top",
                                color=styles[name]["color"], fontweight="bold")
            if not any(marks[key].get(n) for n in names):
                ax.text(0.98, 0.04, f"No option turns positive within {n_months} months",
                        transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
                        color=st.TEXT_COLOUR)
            ax.set_title(heading, loc="left")
            _month_axis(ax, n_months, start)
            _mark_parliament(ax, n_months, parliament_months)
            ax.yaxis.set_major_formatter(st.pounds_m_formatter())
        axes[0][0].set_ylabel("Cumulative present value, £m")
        handles = [Line2D([], [], label=labels.get(n, scenario_label(n)), **styles[n]) for n in names]
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
                              markeredgecolor=st.TEXT_COLOUR, markeredgewidth=1.5,
                              label="Turns positive and stays so"))
        _legend(fig, handles, min(3, len(handles)))
    return _finish(fig, title, source, subtitle)


# ---------------------------------------------------------------------------------------------
# Spend and people as differences from the counterfactual
# ---------------------------------------------------------------------------------------------


def spend_difference_by_agency(options: Sequence[tuple], counterfactual: tuple, *,
                               parliament_months: int | None = st.PARLIAMENT_MONTHS,
                               title: str = "Change in each agency's spend against the "
                                            "counterfactual",
                               source: str | None = None) -> Figure:
    """One panel per option: each agency's spend (services, overhead and payments into a pool)
    minus the counterfactual's in the same month, £m a year, sharing one axis. The legend
    gives each agency's counterfactual spend (average £m a year over the horizon), so the size
    of a change can be read against its level."""
    cf_sc, cf_res, cf_k = counterfactual
    agencies = list(cf_res.model.agencies)
    colours = st.agency_colours(agencies)
    n = len(options)
    fig, axes = _new_figure(0.9 + 2.1 * n, n, 1, sharex=True, sharey=True)
    n_months = int(cf_res.model.n_months)
    months = np.concatenate([[0], cf_res.months])
    level = {a: float(np.mean(cf_res[f"spend.agency.{a}"][cf_k])) * st.MONTHLY_TO_M_A_YEAR
             for a in agencies}
    moved = set()
    with st.style_context():
        for r, (sc, res, k) in enumerate(options):
            ax = axes[r][0]
            _zero_line(ax)
            for a in agencies:
                diff = res[f"spend.agency.{a}"][k] - cf_res[f"spend.agency.{a}"][cf_k]
                if np.max(np.abs(diff)) * st.MONTHLY_TO_M_A_YEAR < 0.005:
                    continue
                moved.add(a)
                ax.plot(months, _yearly(diff), color=colours[a], linewidth=1.6)
            ax.set_title(scenario_label(sc), loc="left")
            _month_axis(ax, n_months, sc.time.start if hasattr(sc, "time") else None,
                        show_label=(r == n - 1))
            _mark_parliament(ax, n_months, parliament_months, label=(r == 0))
            ax.yaxis.set_major_formatter(st.pounds_m_formatter())
            ax.set_ylabel("Change, £m a year")
        order = sorted(moved, key=lambda a: -level[a])
        handles = [Line2D([], [], color=colours[a], linewidth=1.8,
                          label=wrap(f"{agency_label(cf_sc, a)} ({st.pounds_m(level[a], 0)})", 34))
                   for a in order]
        _legend(fig, handles, 3)
    subtitle = (f"Above zero the option spends more than {scenario_label(cf_sc)} (the "
                f"counterfactual, £{sum(level.values()):,.0f}m a year in all on average); in "
                "brackets: each agency's counterfactual spend, £m a year on average. Agencies "
                "whose spend does not change are not drawn.")
    return _finish(fig, title, source, subtitle)


def spend_difference_by_kind(runs: Sequence[tuple], counterfactual: tuple, *,
                             context: Sequence[str] = (),
                             parliament_months: int | None = st.PARLIAMENT_MONTHS,
                             title: str = "Change in reactive and preventive spend against the "
                                          "counterfactual",
                             source: str | None = None) -> Figure:
    """Two panels: total reactive (demand-led) and total preventive spend of each run minus the
    counterfactual's, £m a year; runs named in ``context`` are dotted grey. The counterfactual's
    own spend on each is stated in the panel title."""
    cf_sc, cf_res, cf_k = counterfactual
    names = [sc.name for sc, _, _ in runs]
    styles = st.scenario_styles(names, None, context)
    n_months = int(cf_res.model.n_months)
    months = np.concatenate([[0], cf_res.months])
    fig, axes = _new_figure(3.3, 1, 2)
    with st.style_context():
        for ax, kind, heading in ((axes[0][0], "reactive", "Reactive services"),
                                  (axes[0][1], "preventive", "Preventive services")):
            _zero_line(ax)
            base = cf_res[f"spend.kind.{kind}"][cf_k]
            for sc, res, k in runs:
                ax.plot(months, _yearly(res[f"spend.kind.{kind}"][k] - base), **styles[sc.name])
            mean = float(np.mean(base)) * st.MONTHLY_TO_M_A_YEAR
            ax.set_title(f"{heading}\n(counterfactual: {st.pounds_m(mean, 0)} a year)", loc="left",
                         fontsize=8.5)
            _month_axis(ax, n_months, cf_sc.time.start)
            _mark_parliament(ax, n_months, parliament_months)
            ax.yaxis.set_major_formatter(st.pounds_m_formatter())
        axes[0][0].set_ylabel("Change, £m a year")
        handles = [Line2D([], [], label=scenario_label(sc), **styles[sc.name]) for sc, _, _ in runs]
        _legend(fig, handles, min(3, len(handles)))
    subtitle = (f"Each run's spend minus {scenario_label(cf_sc)} (the counterfactual) in the "
                "same month, whoever pays; below zero it spends less. In brackets: the "
                "counterfactual's own spend, on average over the horizon.")
    return _finish(fig, title, source, subtitle)


def people_difference(options: Sequence[tuple], counterfactual: tuple, *,
                      parliament_months: int | None = st.PARLIAMENT_MONTHS,
                      title: str = "Change in the number of people in each need state",
                      source: str | None = None) -> Figure:
    """One panel per cohort: for each need state (lowest need at the top), each option's people
    minus the counterfactual's at the horizon (bar) and at the end of the Parliament (open
    marker). The tick labels give the counterfactual's number at the horizon."""
    cf_sc, cf_res, cf_k = counterfactual
    cohorts = list(cf_res.model.cohorts)
    styles = _option_styles([sc.name for sc, _, _ in options])
    n_months = int(cf_res.model.n_months)
    at_parliament = parliament_months if parliament_months and parliament_months < n_months else None
    heights = [len(cf_res.model.states[c]) for c in cohorts]
    fig, axes = _new_figure(1.3 + 0.2 * sum(heights) * max(1, len(options)) ** 0.5 + 0.45 * len(cohorts),
                            len(cohorts), 1, gridspec_kw={"height_ratios": heights})
    n_opt = len(options)
    bar_h = 0.8 / max(1, n_opt)
    with st.style_context():
        for r, c in enumerate(cohorts):
            ax = axes[r][0]
            states = list(cf_res.model.states[c])
            y = np.arange(len(states))[::-1].astype(float)
            ax.axvline(0, color="#444444", linewidth=0.8)
            for j, (sc, res, k) in enumerate(options):
                offset = (j - (n_opt - 1) / 2) * bar_h
                for i, s in enumerate(states):
                    series = res[f"population.{c}.{s}"][k] - cf_res[f"population.{c}.{s}"][cf_k]
                    ax.barh(y[i] - offset, series[-1], height=bar_h * 0.92,
                            color=styles[sc.name]["color"])
                    if at_parliament:
                        ax.plot([series[at_parliament - 1]], [y[i] - offset], marker="o",
                                markersize=4, markerfacecolor="white",
                                markeredgecolor=st.TEXT_COLOUR, markeredgewidth=0.9,
                                linestyle="none", zorder=5)
            cf_end = [cf_res[f"population.{c}.{s}"][cf_k][-1] for s in states]
            ax.set_yticks(y, [f"{words(s)} ({st.thousands(v)})" for s, v in zip(states, cf_end)],
                          fontsize=7.2)
            ax.set_title(short_label(cf_sc.cohorts[c].get("label") or words(c), 70), loc="left",
                         fontsize=8.5)
            ax.grid(axis="x")
            ax.grid(axis="y", visible=False)
            ax.xaxis.set_major_formatter(st.thousands_formatter())
            lo, hi = ax.get_xlim()
            span = max(abs(lo), abs(hi), 1.0)
            ax.set_xlim(-span * 1.05, span * 1.05)
        axes[-1][0].set_xlabel(f"People, option minus counterfactual, at month {n_months}")
        handles = [Patch(facecolor=styles[sc.name]["color"], label=scenario_label(sc))
                   for sc, _, _ in options]
        if at_parliament:
            handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
                                  markeredgecolor=st.TEXT_COLOUR, label=f"At the end of the "
                                                                        f"Parliament (month {at_parliament})"))
        _legend(fig, handles, min(3, len(handles)))
    subtitle = (f"Bars: people in each state at month {n_months} minus {scenario_label(cf_sc)} "
                "(the counterfactual); left of zero, fewer people in that state. In brackets: "
                "the counterfactual's number at that month. Each panel has its own scale.")
    return _finish(fig, title, source, subtitle)


# ---------------------------------------------------------------------------------------------
# Switching values
# ---------------------------------------------------------------------------------------------

_RATIO_TICKS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)


def switching_values_chart(rows: Sequence[dict], *,
                           title: str = "Switching values: where each option's case turns zero",
                           subtitle: str | None = None, source: str | None = None) -> Figure:
    """How far each assumption must move before an option's case turns: per row (``option``,
    ``option_name``, ``parameter`` label, ``case`` "npsv" or "fiscal_npv", ``central``,
    ``value`` and ``value_text``), a marker at the switching value as a multiple of the central
    value on a log axis (1 = the central case); circles for the NPSV, squares for the fiscal
    NPV, one colour per option. Values nearer 1 are the fragile assumptions."""
    rows = [r for r in rows if r["value"] is not None and r["central"] and r["value"] > 0]
    params = list(dict.fromkeys(r["parameter"] for r in rows))
    options = list(dict.fromkeys(r["option_name"] for r in rows))
    styles = _option_styles(options)
    option_words = {r["option_name"]: r["option"] for r in rows}
    fig, axes = _new_figure(1.4 + 0.36 * max(1, len(params)))
    ax = axes[0][0]
    n_opt = max(1, len(options))
    with st.style_context():
        ratios = [r["value"] / r["central"] for r in rows] or [1.0]
        lo = min(min(ratios), 0.5) / 2.2  # room for the value labels beside the markers
        hi = max(max(ratios), 2.0) * 2.0
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.axvline(1.0, color=st.TEXT_COLOUR, linewidth=1.0)
        ax.text(1.0, 1.0, " central case", transform=ax.get_xaxis_transform(), ha="left",
                va="bottom", fontsize=7)
        y_of = {p: len(params) - 1 - i for i, p in enumerate(params)}
        for r in rows:
            j = options.index(r["option_name"])
            y = y_of[r["parameter"]] + (j - (n_opt - 1) / 2) * 0.28
            ratio = r["value"] / r["central"]
            colour = styles[r["option_name"]]["color"]
            ax.plot([1.0, ratio], [y, y], color=colour, linewidth=1.0, alpha=0.6)
            ax.plot([ratio], [y], marker="o" if r["case"] == "npsv" else "s", markersize=6,
                    color=colour, linestyle="none", zorder=5)
            ax.annotate(r["value_text"], (ratio, y), xytext=(5 if ratio >= 1 else -5, 0),
                        textcoords="offset points", ha="left" if ratio >= 1 else "right",
                        va="center", fontsize=6.5, color=st.TEXT_COLOUR)
        ax.set_yticks([y_of[p] for p in params], [wrap(p, 34, 2) for p in params], fontsize=7)
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(-0.7, len(params) - 0.3)
        ticks = [t for t in _RATIO_TICKS if lo <= t <= hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, pos=None: f"×{v:g}"))
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("Switching value as a multiple of the central value (log scale)")
        handles = [Line2D([], [], color=styles[o]["color"], marker="o", linestyle="none",
                          label=option_words[o]) for o in options]
        handles += [Line2D([], [], color="#777777", marker="o", linestyle="none",
                           label="NPSV turns zero"),
                    Line2D([], [], color="#777777", marker="s", linestyle="none",
                           label="Fiscal NPV turns zero")]
        _legend(fig, handles, 2)
    return _finish(fig, title, source, subtitle)


# ---------------------------------------------------------------------------------------------
# The financial case: annual cash flow per agency
# ---------------------------------------------------------------------------------------------


def cashflow_chart(panels: Sequence[tuple[str, Sequence[str], Mapping[str, Sequence[float]],
                                          Sequence[float]]], *,
                   labels: Mapping[str, str], colours: Mapping[str, str] | None = None,
                   title: str = "Annual cash flow by agency",
                   subtitle: str | None = None, source: str | None = None) -> Figure:
    """One panel per option (``(option label, financial years, row id -> net cash £ per year,
    total £ per year)``): each agency's (and the pool's) net cash in each April-March year,
    savings minus costs, undiscounted and without optimism bias, as bars stacked above zero
    (gains) and below (net costs), with the total net marked; one £m axis for every panel."""
    ids = list(dict.fromkeys(a for _, _, net, _ in panels for a in net))
    colours = dict(colours or st.agency_colours(ids))
    n = len(panels)
    fig, axes = _new_figure(1.0 + 2.2 * n, n, 1, sharey=True)
    with st.style_context():
        for r, (label, years, net, total) in enumerate(panels):
            ax = axes[r][0]
            x = np.arange(len(years))
            up = np.zeros(len(years))
            down = np.zeros(len(years))
            for a in ids:
                v = np.asarray(net.get(a, np.zeros(len(years))), dtype=float) / 1e6
                if np.max(np.abs(v), initial=0.0) < 0.005:
                    continue
                pos, neg = np.where(v > 0, v, 0.0), np.where(v < 0, v, 0.0)
                ax.bar(x, pos, bottom=up, width=0.72, color=colours[a], edgecolor="white",
                       linewidth=0.4)
                ax.bar(x, neg, bottom=down, width=0.72, color=colours[a], edgecolor="white",
                       linewidth=0.4)
                up += pos
                down += neg
            ax.plot(x, np.asarray(total, dtype=float) / 1e6, marker="D", markersize=4.5,
                    color=st.TEXT_COLOUR, markerfacecolor="white", linewidth=1.0, zorder=5)
            _zero_line(ax)
            ax.set_title(label, loc="left")
            ax.set_xticks(x, [y if k % 2 == 0 or len(years) <= 8 else "" for k, y in enumerate(years)],
                          fontsize=7)
            ax.set_xlim(-0.6, len(years) - 0.4)
            ax.yaxis.set_major_formatter(st.pounds_m_formatter())
            ax.set_ylabel("Net cash, £m a year")
        axes[-1][0].set_xlabel("Financial year (April to March)")
        shown = [a for a in ids if any(np.max(np.abs(np.asarray(net.get(a, [0.0]), dtype=float)),
                                              initial=0.0) >= 5e3 for _, _, net, _ in panels)]
        handles = [Patch(facecolor=colours[a], label=wrap(labels.get(a, a), 28)) for a in shown]
        handles.append(Line2D([], [], marker="D", markerfacecolor="white", color=st.TEXT_COLOUR,
                              linewidth=1.0, label="Total net cash"))
        _legend(fig, handles, 3)
    return _finish(fig, title, source, subtitle)
