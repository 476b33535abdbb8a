"""Publication charts for a business case: one function per chart, each returning a matplotlib
:class:`~matplotlib.figure.Figure` drawn at A4 text width with tpsim's palette (tpsim/style.py).

Two kinds of input:

* charts of simulated trajectories take ``runs``: a sequence of ``(Scenario, Results)`` pairs
  (from :func:`tpsim.models.runner.run`; run ``run`` of each batch is drawn) or
  ``(Scenario, Results, run index)`` triples: :func:`spend_by_agency`, :func:`spend_by_kind`,
  :func:`people_by_need_state`;
* charts of appraisal and ensemble figures take plain numpy arrays and labels, so the
  appraisal, ensemble and sensitivity modules (or a user) can call them with their own numbers:
  :func:`who_pays_who_gains`, :func:`net_benefit_curve`, :func:`wrong_pocket_matrix`,
  :func:`fan_chart`, :func:`tornado_chart`.

Every figure carries a one-line source at the foot (``source=``; build it with
:func:`source_line`), naming tpsim, its version and each scenario with its hash.

Units: money series in Results are £ per month; charts over time show £m a year
(x 12 / 1e6); totals and cumulative values are shown in £m. People are counts at month end.

Writing files is :func:`save_figure` (PNG for documents, SVG for print), which goes through
:func:`tpsim.output.atomic_write_with`; :func:`figure_bytes` renders in memory (for the HTML
report).

Figures are laid out once when made (constrained layout, measured at the PNG resolution) and
then frozen, so saving to PNG and SVG does not lay them out again. To add to a figure and have
it laid out anew, call ``fig.set_layout_engine("constrained")`` first. Elements that callers and
tests look for carry a ``gid``: the title (:func:`chart_title`), the source line
(:func:`chart_source`), the end-of-Parliament line and the payback marker.
"""
from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from tpsim import __version__
from tpsim.present import style as st
from tpsim.present import wording
from tpsim.present.labels import scenario_label, short_label

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, MaxNLocator

__all__ = [
    "spend_by_agency", "spend_by_kind", "people_by_need_state", "who_pays_who_gains",
    "net_benefit_curve", "wrong_pocket_matrix", "fan_chart", "tornado_chart",
    "source_line", "save_figure", "figure_bytes", "chart_title", "chart_source", "short_label",
    "state_label", "series_title", "wrap",
]

# gid values that tests and callers use to find chart elements
GID_SOURCE = "tpsim-source"
GID_PARLIAMENT = "tpsim-parliament-end"
GID_PAYBACK = "tpsim-payback"
GID_TITLE = "tpsim-title"
GID_LEGEND = "tpsim-legend"
GID_SUBTITLE = "tpsim-subtitle"

# Diverging map for the wrong-pocket matrix: vermillion (net cost) - white - blue (net saving).
# Blue/orange-red diverging maps stay readable under red-green colour-vision deficiency.
_DIVERGING = LinearSegmentedColormap.from_list(
    "tpsim_cost_saving", ["#B2400A", "#E69F00", "#F7F7F7", "#56B4E9", "#0B4F82"])


# ---------------------------------------------------------------------------------------------
# Labels and the source line
# ---------------------------------------------------------------------------------------------


def wrap(text: str, width: int = 26, max_lines: int = 3) -> str:
    """``text`` broken onto lines of at most ``width`` characters, at spaces or, inside a long
    identifier such as ``services.early_help.unit_cost``, after a dot or underscore."""
    lines: list[str] = []
    line = ""
    pieces = []
    for token in re.split(r"(?<=[ .])", text):  # spaces and dots first, underscores if needed
        pieces += re.split(r"(?<=_)", token) if len(token) > width else [token]
    for piece in pieces:
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = piece
        else:
            line += piece
    if line.strip() or not lines:
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        lines = lines[:max_lines - 1] + [(last[:width - 1].rstrip() if len(last) >= width else last) + "…"]
    return "\n".join(lines)


def _legend_columns(labels: Sequence[str]) -> int:
    longest = max((len(x) for x in labels), default=0)
    n = len(labels)
    if longest > 24:
        return min(3, n)
    return min(4 if longest > 14 else 5, n)


def state_label(state_id: str) -> str:
    """``"child_in_need" -> "Child in need"``."""
    text = state_id.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _agency_label(scenario, agency: str) -> str:
    return short_label(scenario.agencies.get(agency, {}).get("label") or agency)


def _cohort_label(scenario, cohort: str) -> str:
    return short_label(scenario.cohorts.get(cohort, {}).get("label") or cohort, 60)


_SERIES_TITLES = {
    "spend.total": "Total public spend", "spend.kind.preventive": "Preventive spend",
    "spend.kind.reactive": "Reactive spend", "spend.transition": "Transition costs",
    "spend.overhead": "Overhead", "pool.balance": "Pooled budget balance",
    "pool.spend": "Pooled budget spend", "pool.reinvested": "Savings reinvested by the pool",
}
_SERIES_HEADS = {
    "spend.agency": "Spend", "overhead.agency": "Overhead", "budget.agency": "Budget",
    "reserves.agency": "Reserves", "contribution.agency": "Pool contribution",
    "capture.agency": "Savings captured from", "spend.service": "Spend on",
    "value.service": "Full-cost value of", "activity": "Activity of", "waiting": "Waiting for",
    "coverage": "Coverage of", "funding_level": "Funding level of", "inflow": "Inflow",
    "escalations": "Escalations", "exits": "Exits", "crisis_person_months": "Crisis person-months",
}


def series_title(name: str, scenario=None) -> str:
    """Words for a series name of timeseries.csv: ``"spend.kind.reactive" -> "Reactive
    spend"``, ``"spend.agency.police" -> "Spend: Police"`` (labels from ``scenario`` where it
    has them); an unknown name is returned as it is."""
    if name in _SERIES_TITLES:
        return _SERIES_TITLES[name]
    cohorts = scenario.cohorts if scenario is not None else {}
    services = scenario.services if scenario is not None else {}
    if name.startswith("population."):
        cohort, _, state = name[len("population."):].partition(".")
        label = _cohort_label(scenario, cohort) if scenario is not None else cohort
        return f"People: {label}, {state_label(state).lower()}"
    for head, words in sorted(_SERIES_HEADS.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(head + "."):
            item = name[len(head) + 1:]
            joiner = " " if words.endswith(("of", "for", "on", "from")) else ": "
            if head.endswith(".agency"):
                label = _agency_label(scenario, item) if scenario is not None else item
                return f"{words}{joiner}{label}"
            if item in cohorts:
                return f"{words}: {_cohort_label(scenario, item)}"
            service = services.get(item, {})
            label = short_label(service.get("label") or item.replace("_", " "))
            return f"{words}{joiner}{label}"
    return name


def _scenario_title(scenario) -> str:
    return scenario_label(scenario)


def source_line(scenarios: Sequence, counterfactual=None, note: str | None = None) -> str:
    """``"Source: tpsim 0.1.0; scenario pooled_prevention (hash 1a2b...) against siloed_squeeze
    (hash 3c4d...); real terms, 2024-25 prices."``

    ``scenarios`` and ``counterfactual`` are :class:`~tpsim.config.scenario.Scenario` objects (or
    ``(name, hash)`` pairs).
    """
    def ident(s) -> str:
        name, digest = (s.name, s.hash) if hasattr(s, "hash") else (s[0], s[1])
        return f"{name} (hash {digest})"

    scenarios = [s for s in scenarios if counterfactual is None or _name(s) != _name(counterfactual)]
    parts = [f"Source: tpsim {__version__}"]
    word = "scenario" if len(scenarios) == 1 else "scenarios"
    text = f"{word} " + ", ".join(ident(s) for s in scenarios)
    if counterfactual is not None:
        text += f" against {ident(counterfactual)}"
    parts.append(text)
    prices = {s.price_year for s in list(scenarios) + [counterfactual]
              if s is not None and hasattr(s, "price_year")}
    if len(prices) == 1:
        parts.append(f"real terms, {prices.pop()} prices")
    if note:
        parts.append(note)
    return "; ".join(parts) + "."


def _name(s) -> str:
    return s.name if hasattr(s, "name") else s[0]


# ---------------------------------------------------------------------------------------------
# Figure scaffolding
# ---------------------------------------------------------------------------------------------


def _new_figure(height_in: float, nrows: int = 1, ncols: int = 1, **subplot_kw):
    with st.style_context():
        # laid out at the PNG resolution, so text measured for the layout is the text drawn
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, height_in), dpi=st.PNG_DPI,
                     layout="constrained")
        FigureCanvasAgg(fig)  # a canvas that can measure text (legend placement)
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def _finish(fig: Figure, title: str, source: str | None, subtitle: str | None = None) -> Figure:
    """Title (and subtitle) at the top left, the source line at the foot; the axes are laid out
    in the space between (constrained layout with a reserved rectangle)."""
    with st.style_context():
        height = fig.get_figheight()
        top_in = 0.06
        fig.text(0.005, 1 - top_in / height, title, ha="left", va="top",
                 fontsize=st.RC["figure.titlesize"], fontweight="bold", color=st.TEXT_COLOUR,
                 gid=GID_TITLE)
        top_in += 0.22
        if subtitle:
            sub_lines = textwrap.wrap(subtitle, 120)
            fig.text(0.005, 1 - top_in / height, "\n".join(sub_lines), ha="left", va="top",
                     fontsize=7.5, color=SUBTITLE_COLOUR, gid=GID_SUBTITLE)
            top_in += 0.14 * len(sub_lines) + 0.04
        src = source or f"Source: tpsim {__version__}."
        # never break "name (hash 1a2b...)" across lines
        protected = re.sub(r"(\S+) \(hash (\w+)\)", "\\1\u00a0(hash\u00a0\\2)", src)
        lines = [x.replace("\u00a0", " ") for x in textwrap.wrap(protected, 140)] or [src]
        fig.text(0.005, 0.04 / height, "\n".join(lines), ha="left", va="bottom", fontsize=6.5,
                 color=st.SOURCE_COLOUR, gid=GID_SOURCE)
        foot_in = 0.08 + 0.12 * len(lines)
        legend = next((g for g in fig.legends if g.get_gid() == GID_LEGEND), None)
        if legend is not None:
            legend.set_bbox_to_anchor((0.5, (foot_in + 0.04) / height), transform=fig.transFigure)
            renderer = fig.canvas.get_renderer()
            foot_in += 0.1 + legend.get_window_extent(renderer).height / fig.dpi
        bottom = foot_in / height
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom - (top_in + 0.02) / height),
                                    h_pad=0.04, w_pad=0.05)
        fig.set_label(title)
        # lay the figure out once, then freeze it: saving as PNG and SVG does not redo it
        fig.draw_without_rendering()
        fig.set_layout_engine(None)  # ("none" would keep a placeholder engine: a dry-run draw per save)
    return fig


def _legend(fig: Figure, handles, ncols: int) -> None:
    """One legend for the figure, placed by :func:`_finish` between the axes and the source."""
    if handles is None:
        handles = []
        seen = set()
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in seen and not lab.startswith("_"):
                    seen.add(lab)
                    handles.append(h)
    legend = fig.legend(handles=handles, loc="lower center", ncols=max(1, ncols),
                        bbox_to_anchor=(0.5, 0.0), bbox_transform=fig.transFigure,
                        borderaxespad=0.0, handlelength=2.4, columnspacing=1.4)
    legend.set_gid(GID_LEGEND)


def chart_title(fig: Figure) -> str:
    """The title of a chart made here."""
    return _gid_text(fig, GID_TITLE)


def chart_source(fig: Figure) -> str:
    """The source line of a chart made here (on one line)."""
    return _gid_text(fig, GID_SOURCE).replace("\n", " ")


def _gid_text(fig: Figure, gid: str) -> str:
    for t in fig.texts:
        if t.get_gid() == gid:
            return t.get_text()
    return ""


SUBTITLE_COLOUR = "#444444"


def _month_axis(ax, n_months: int, start_label: str | None, show_label: bool = True,
                compact: bool = False) -> None:
    ax.set_xlim(0, n_months)
    ticks = st.month_ticks(n_months)
    if compact and len(ticks) > 4:
        step = 60 if n_months >= 120 else 24
        ticks = list(range(0, n_months + 1, step))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    if n_months > 24 and not compact:
        ax.xaxis.set_minor_locator(FixedLocator(range(0, n_months + 1, 12 if n_months > 60 else 6)))
    if show_label:
        when = f" from {wording.month_words(start_label)}" if start_label else ""
        ax.set_xlabel(f"Months{when}")


def _mark_parliament(ax, n_months: int, parliament_months: int | None, label: bool = True) -> None:
    if not parliament_months or parliament_months >= n_months:
        return
    ax.axvline(parliament_months, color=st.PARLIAMENT_COLOUR, linestyle=(0, (2, 2)), linewidth=1.0,
               zorder=1, gid=GID_PARLIAMENT)
    if label:
        ax.text(parliament_months, 1.0, " End of Parliament", transform=ax.get_xaxis_transform(),
                ha="left", va="top", fontsize=6.8, color=st.PARLIAMENT_COLOUR)


def _start(runs) -> str | None:
    starts = {sc.time.start for sc, _, _ in runs}
    return starts.pop() if len(starts) == 1 else None


def _check_runs(runs, run: int = 0) -> list[tuple]:
    """``runs`` as ``(scenario, results, run index)`` triples: a pair uses ``run``."""
    out = []
    for item in runs:
        if len(item) == 2:
            out.append((item[0], item[1], run))
        elif len(item) == 3:
            out.append((item[0], item[1], int(item[2])))
        else:
            raise ValueError("each run is (scenario, results) or (scenario, results, run index)")
    if not out:
        raise ValueError("at least one (scenario, results) pair is needed")
    return out


# ---------------------------------------------------------------------------------------------
# Charts of trajectories
# ---------------------------------------------------------------------------------------------


def spend_by_agency(runs: Sequence, *, run: int = 0,
                    parliament_months: int | None = st.PARLIAMENT_MONTHS,
                    title: str = "Public spend by agency", source: str | None = None) -> Figure:
    """Spend of each agency over time (£m a year), stacked, one panel per scenario, sharing the
    y axis; the end of the Parliament is marked.

    Agency spend includes its own services, overhead, and what it pays into a pool (so the
    stacks add up to money leaving agency budgets, not the resource cost in ``spend.total``).
    """
    runs = _check_runs(runs, run)
    n = len(runs)
    ncols = 1 if n == 1 else 2
    nrows = int(np.ceil(n / ncols))
    fig, axes = _new_figure(1.0 + 2.3 * nrows + 0.5, nrows, ncols, sharey=True)
    agencies = list(dict.fromkeys(a for _, res, _ in runs for a in res.model.agencies))
    colours = st.agency_colours(agencies)
    labels = {}
    top = 0.0
    with st.style_context():
        for k, (sc, res, k_run) in enumerate(runs):
            ax = axes[k // ncols][k % ncols]
            months = np.concatenate([[0], res.months])
            ys, cols = [], []
            for a in res.model.agencies:
                monthly = res[f"spend.agency.{a}"][k_run]
                y = np.concatenate([[monthly[0]], monthly]) * st.MONTHLY_TO_M_A_YEAR
                ys.append(y)
                cols.append(colours[a])
                labels.setdefault(a, _agency_label(sc, a))
            ax.stackplot(months, *ys, colors=cols, labels=[labels[a] for a in res.model.agencies],
                         linewidth=0.4, edgecolor="white")
            top = max(top, float(np.sum(ys, axis=0).max()))
            ax.set_title(_scenario_title(sc), loc="left")
            _month_axis(ax, int(res.model.n_months), sc.time.start)
            _mark_parliament(ax, int(res.model.n_months), parliament_months)
            ax.yaxis.set_major_formatter(st.pounds_m_formatter())
            if k % ncols == 0:
                ax.set_ylabel("Spend, £m a year")
        axes[0][0].set_ylim(0, top * 1.1)  # shared: headroom for the Parliament label
        for k in range(n, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        handles = [Patch(facecolor=colours[a], label=wrap(labels[a])) for a in agencies]
        _legend(fig, handles, _legend_columns([labels[a] for a in agencies]))
    return _finish(fig, title, source)


def spend_by_kind(runs: Sequence, *, counterfactual: str | None = None,
                  context: Sequence[str] = (), run: int = 0,
                  parliament_months: int | None = st.PARLIAMENT_MONTHS,
                  title: str = "Reactive and preventive spend", source: str | None = None) -> Figure:
    """Total reactive spend and total preventive spend (£m a year), each in its own panel, with
    every scenario overlaid as one line (the counterfactual, named by ``counterfactual``,
    dashed dark grey; runs named in ``context``, dotted light grey)."""
    runs = _check_runs(runs, run)
    fig, axes = _new_figure(3.4, 1, 2)
    styles = st.scenario_styles([sc.name for sc, _, _ in runs], counterfactual, context)
    n_months = max(int(res.model.n_months) for _, res, _ in runs)
    zoomed: list[str] = []
    with st.style_context():
        for ax, kind, heading in ((axes[0][0], "reactive", "Reactive services (demand-led)"),
                                  (axes[0][1], "preventive", "Preventive services")):
            for sc, res, k_run in runs:
                monthly = res[f"spend.kind.{kind}"][k_run]
                months = np.concatenate([[0], res.months])
                y = np.concatenate([[monthly[0]], monthly]) * st.MONTHLY_TO_M_A_YEAR
                ax.plot(months, y, label=_scenario_title(sc), **styles[sc.name])
            ax.set_title(heading, loc="left")
            _month_axis(ax, n_months, _start(runs))
            _mark_parliament(ax, n_months, parliament_months)
            ax.set_ylabel("Spend, £m a year")
            ax.yaxis.set_major_formatter(st.pounds_m_formatter())
            if _pad_ylim(ax, runs, kind):
                zoomed.append(heading.split(" (")[0].lower())
        handles = [Line2D([], [], label=_scenario_title(sc), **styles[sc.name]) for sc, _, _ in runs]
        _legend(fig, handles, min(4, len(handles)))
    subtitle = (f"The axis of {' and '.join(zoomed)} does not start at zero." if zoomed else None)
    return _finish(fig, title, source, subtitle)


def _pad_ylim(ax, runs, kind) -> bool:
    """Start the axis at zero unless the lines sit far above it; keep a small relative range
    from looking like a collapse."""
    values = np.concatenate([res[f"spend.kind.{kind}"][k_run] for _, res, k_run in runs]) * st.MONTHLY_TO_M_A_YEAR
    lo, hi = float(values.min()), float(values.max())
    if hi <= 0:
        return False
    if lo > 0.6 * hi:  # zoom in, but show at least +-10% around the middle
        mid = 0.5 * (lo + hi)
        half = max(0.5 * (hi - lo) * 1.15, 0.1 * mid)
        ax.set_ylim(mid - half, mid + half)
        return True
    ax.set_ylim(0, hi * 1.08)
    return False


def people_by_need_state(runs: Sequence, *, counterfactual: str | None = None,
                         context: Sequence[str] = (), run: int = 0,
                         cohorts: Sequence[str] | None = None,
                         parliament_months: int | None = st.PARLIAMENT_MONTHS,
                         title: str = "People in each need state",
                         source: str | None = None) -> Figure:
    """People in each need state at month end: one row per cohort, one panel per need state
    (lowest need on the left), every scenario overlaid as one line. Each panel has its own
    scale, so small changes in small high-need groups stay visible."""
    runs = _check_runs(runs, run)
    sc0, res0, _ = runs[0]
    cohorts = list(cohorts or res0.model.cohorts)
    ncols = max(len(res0.model.states[c]) for c in cohorts)
    nrows = len(cohorts)
    fig, axes = _new_figure(0.9 + 1.55 * nrows, nrows, ncols)
    styles = st.scenario_styles([sc.name for sc, _, _ in runs], counterfactual, context)
    n_months = max(int(res.model.n_months) for _, res, _ in runs)
    with st.style_context():
        for r, c in enumerate(cohorts):
            states = res0.model.states[c]
            for j in range(ncols):
                ax = axes[r][j]
                if j >= len(states):
                    ax.set_visible(False)
                    continue
                s = states[j]
                for sc, res, k_run in runs:
                    y = res[f"population.{c}.{s}"][k_run]
                    ax.plot(res.months, y, label=_scenario_title(sc), **styles[sc.name])
                ax.set_title(state_label(s), loc="left", fontsize=7.8)
                _month_axis(ax, n_months, None, show_label=(r == nrows - 1), compact=True)
                if r == nrows - 1:
                    ax.set_xlabel("Months", fontsize=7)
                _mark_parliament(ax, n_months, parliament_months, label=False)
                ax.yaxis.set_major_locator(MaxNLocator(3))
                ax.yaxis.set_major_formatter(st.thousands_formatter())
                ax.tick_params(labelsize=6.5)
                _min_span(ax, 0.04)
                if j == 0:
                    ax.set_ylabel("\n".join(textwrap.wrap(_cohort_label(sc0, c), 24)[:3])
                                  + "\n(people)", fontsize=7)
        handles = [Line2D([], [], label=_scenario_title(sc), **styles[sc.name]) for sc, _, _ in runs]
        if parliament_months and parliament_months < n_months:
            handles.append(Line2D([], [], color=st.PARLIAMENT_COLOUR, linestyle=(0, (2, 2)),
                                  linewidth=1.0, label="End of Parliament"))
        _legend(fig, handles, min(5, len(handles)))
    subtitle = (f"People at each month end{' from ' + wording.month_words(_start(runs)) if _start(runs) else ''}; "
                "each panel has its own scale, which does not start at zero.")
    return _finish(fig, title, source, subtitle)


def _min_span(ax, fraction: float) -> None:
    """Widen the y range to at least ``fraction`` of its middle (no magnified noise)."""
    lo, hi = ax.get_ylim()
    mid = 0.5 * (lo + hi)
    span = max(hi - lo, fraction * abs(mid), 1.0)
    ax.set_ylim(mid - span / 2, mid + span / 2)


# ---------------------------------------------------------------------------------------------
# Charts of appraisal figures (plain arrays)
# ---------------------------------------------------------------------------------------------


def who_pays_who_gains(agencies: Sequence[str], costs: Sequence[float], savings: Sequence[float],
                       *, labels: Mapping[str, str] | Sequence[str] | None = None,
                       title: str = "Who pays and who gains",
                       subtitle: str | None = None,
                       value_label: str = "£m, discounted present value",
                       source: str | None = None) -> Figure:
    """Diverging bars: per agency, the costs it bears drawn to the left (hatched) and the
    savings it receives drawn to the right (solid), with a diamond at the net (savings - costs).

    ``costs`` and ``savings`` are signed £ (shown in £m): a negative cost (less spent than in
    the counterfactual) is drawn to the right, a negative saving (extra spend) to the left.
    ``agencies`` are ids (they fix the colours); ``labels`` maps id -> display name (or is a
    list in the same order). The first agency is drawn at the top.
    """
    agencies = list(agencies)
    costs = np.asarray(costs, dtype=float) / 1e6
    savings = np.asarray(savings, dtype=float) / 1e6
    if costs.shape != (len(agencies),) or savings.shape != (len(agencies),):
        raise ValueError("costs and savings need one value per agency")
    names = _labels(agencies, labels)
    colours = st.agency_colours(agencies)
    net = savings - costs
    n = len(agencies)
    fig, axes = _new_figure(1.5 + 0.46 * n)
    ax = axes[0][0]
    with st.style_context():
        centre = np.arange(n)[::-1].astype(float)  # first agency at the top
        bar_h = 0.36
        for k in range(n):
            c = colours[agencies[k]]
            ax.barh(centre[k] + bar_h / 2, -costs[k], height=bar_h, color=c, alpha=0.4,
                    hatch="////", edgecolor=c, linewidth=0.6, gid=f"cost:{agencies[k]}")
            ax.barh(centre[k] - bar_h / 2, savings[k], height=bar_h, color=c, edgecolor=c,
                    linewidth=0.6, gid=f"saving:{agencies[k]}")
        ax.scatter(net, centre, marker="D", s=24, color="white", edgecolor=st.TEXT_COLOUR,
                   linewidth=1.0, zorder=5, gid="net")
        ax.set_yticks(centre, [wrap(x, 30, 2) for x in names])
        ax.set_ylim(-0.6, n - 0.4)
        ax.axvline(0, color="#444444", linewidth=0.8)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(st.pounds_m_formatter())
        ax.set_xlabel(value_label)
        span = max(float(np.max(np.abs(costs), initial=0)), float(np.max(np.abs(savings), initial=0)),
                   float(np.max(np.abs(net), initial=0)), 1e-9)
        ax.set_xlim(-span * 1.32, span * 1.32)
        for k in range(n):
            for drawn, meant, y in ((-costs[k], costs[k], centre[k] + bar_h / 2),
                                    (savings[k], savings[k], centre[k] - bar_h / 2)):
                if abs(drawn) < 0.005 * span:
                    continue
                ax.text(drawn + np.sign(drawn) * span * 0.045, y, st.pounds_m(meant),
                        ha="left" if drawn > 0 else "right", va="center", fontsize=6.5,
                        color=st.TEXT_COLOUR)
        ax.text(0.0, 1.0, "◀ costs borne", transform=ax.transAxes, ha="left", va="bottom",
                fontsize=7.5, color=st.TEXT_COLOUR, fontweight="bold")
        ax.text(1.0, 1.0, "savings received ▶", transform=ax.transAxes, ha="right", va="bottom",
                fontsize=7.5, color=st.TEXT_COLOUR, fontweight="bold")
        handles = [Patch(facecolor="#999999", alpha=0.4, hatch="////", edgecolor="#777777",
                         label="Costs borne (upper bar)"),
                   Patch(facecolor="#777777", label="Savings received (lower bar)"),
                   Line2D([], [], marker="D", linestyle="none", markerfacecolor="white",
                          markeredgecolor=st.TEXT_COLOUR, label="Net (savings − costs)")]
        _legend(fig, handles, 3)
    return _finish(fig, title, source, subtitle)


def _labels(ids: Sequence[str], labels) -> list[str]:
    if labels is None:
        return [state_label(i) for i in ids]
    if isinstance(labels, Mapping):
        return [short_label(labels.get(i, i)) for i in ids]
    labels = list(labels)
    if len(labels) != len(ids):
        raise ValueError("one label per item is needed")
    return [short_label(x) for x in labels]


def net_benefit_curve(months: Sequence[float], curves: Mapping[str, Sequence[float]],
                      payback_months: Mapping[str, float | None] | None = None, *,
                      start: str | None = None,
                      parliament_months: int | None = st.PARLIAMENT_MONTHS,
                      title: str = "Cumulative discounted net benefit",
                      subtitle: str | None = None,
                      source: str | None = None) -> Figure:
    """The J-curve: cumulative discounted net benefit (£, shown in £m) against month, one line
    per comparison (``curves``: name -> values at ``months``), with a marker at each payback
    month (``payback_months``: name -> month or None when it does not pay back).

    The payback marker sits at ``(payback_month, value interpolated at that month)``; its
    ``gid`` is ``"tpsim-payback"`` and its label ``"Payback: <name>"``.
    """
    months = np.asarray(months, dtype=float)
    payback_months = dict(payback_months or {})
    fig, axes = _new_figure(3.5)
    ax = axes[0][0]
    styles = st.scenario_styles(list(curves))
    n_months = int(np.ceil(months.max())) if months.size else 0
    with st.style_context():
        ax.axhline(0, color="#444444", linewidth=0.8, zorder=1)
        for name, values in curves.items():
            y = np.asarray(values, dtype=float) / 1e6
            if y.shape != months.shape:
                raise ValueError(f"curve {name!r} needs one value per month")
            x, yy = (np.concatenate([[0.0], months]), np.concatenate([[0.0], y])) \
                if months.size and months[0] > 0 else (months, y)
            ax.plot(x, yy, label=scenario_label(name), **styles[name])
            pb = payback_months.get(name)
            if pb is not None and np.isfinite(pb):
                py = float(np.interp(pb, x, yy))
                ax.plot([pb], [py], marker="o", markersize=7, markerfacecolor="white",
                        markeredgecolor=styles[name]["color"], markeredgewidth=2.0,
                        linestyle="none", zorder=6, gid=GID_PAYBACK, label=f"Payback: {name}")
                ax.annotate(f"pays back in month {pb:g}", (pb, py), xytext=(-7, 7),
                            textcoords="offset points", fontsize=7, color=styles[name]["color"],
                            ha="right", va="bottom", fontweight="bold")
        _month_axis(ax, n_months, start)
        _mark_parliament(ax, n_months, parliament_months)
        ax.set_ylabel("Net benefit to date, £m")
        ax.yaxis.set_major_formatter(st.pounds_m_formatter())
        handles = [Line2D([], [], label=scenario_label(name), **styles[name]) for name in curves]
        if any(payback_months.get(n) is not None for n in curves):
            handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
                                  markeredgecolor=st.TEXT_COLOUR, markeredgewidth=1.5,
                                  label="Payback: the month it has paid for itself"))
        not_paid = [scenario_label(n) for n in curves if payback_months.get(n) is None]
        _legend(fig, handles, min(3, len(handles)))
        if not_paid:
            ax.set_title("No payback within the horizon: " + ", ".join(not_paid), loc="right",
                         fontsize=7.5, fontweight="normal", color=st.TEXT_COLOUR)
    return _finish(fig, title, source, subtitle)


def wrong_pocket_matrix(matrix, payers: Sequence[str], gainers: Sequence[str], *,
                        labels: Mapping[str, str] | None = None,
                        title: str = "The wrong pocket: whose spending saves whose budget",
                        subtitle: str | None = None,
                        xlabel: str = "Agency whose spending falls (saving received)",
                        ylabel: str = "Investment paid for by",
                        value_label: str = "£m, discounted present value",
                        invested: Sequence[float | None] | None = None,
                        invested_label: str = "Invested\n(PV)",
                        row_label_lines: int = 2,
                        source: str | None = None) -> Figure:
    """Annotated heat map: cell (i, j) is the saving (£, shown in £m; negative = extra cost)
    that ``gainers[j]`` receives because of what ``payers[i]`` spends. Rows and columns are
    agency (or investment) ids; ``labels`` maps ids to display names. Blue is a saving,
    orange a cost; each cell carries its value. ``invested`` (£ per payer row, None for a row
    without one) adds a column of what each payer invested, set apart from the matrix, so a
    row's savings can be read against its cost."""
    m = np.asarray(matrix, dtype=float) / 1e6
    payers, gainers = list(payers), list(gainers)
    if m.shape != (len(payers), len(gainers)):
        raise ValueError(f"matrix is {m.shape}, expected {len(payers)} x {len(gainers)}")
    labels = dict(labels or {})
    ylabels = [wrap(short_label(labels.get(p, state_label(p))), 28, row_label_lines)
               for p in payers]
    xlabels = [short_label(labels.get(g, state_label(g))) for g in gainers]
    fig, axes = _new_figure(2.3 + 0.36 * len(payers))
    ax = axes[0][0]
    with st.style_context():
        vmax = float(np.nanmax(np.abs(m))) if m.size and np.nanmax(np.abs(m)) > 0 else 1.0
        norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
        image = ax.imshow(m, cmap=_DIVERGING, norm=norm, aspect="auto")
        ax.set_xticks(range(len(gainers)), [wrap(x, 12, 5) for x in xlabels], fontsize=6.5)
        ax.set_yticks(range(len(payers)), ylabels, fontsize=7.3)
        ax.grid(False)
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.tick_params(length=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                v = m[i, j]
                if not np.isfinite(v):
                    continue
                dark = abs(v) > 0.55 * vmax
                ax.text(j, i, _cell_text(v), ha="center", va="center", fontsize=7,
                        color="white" if dark else st.TEXT_COLOUR)
        if invested is not None:
            x_inv = len(gainers) - 0.5 + 0.75
            ax.text(x_inv, -0.5, invested_label, ha="center", va="bottom", fontsize=6.8,
                    fontweight="bold", color=st.TEXT_COLOUR, clip_on=False)
            for i, v in enumerate(list(invested)[:len(payers)]):
                if v is not None:
                    ax.text(x_inv, i, st.pounds_m(v / 1e6, 1), ha="center", va="center",
                            fontsize=7, color=st.TEXT_COLOUR, clip_on=False, gid="invested")
            ax.set_xlim(-0.5, len(gainers) - 0.5 + 1.5)
        bar = fig.colorbar(image, ax=ax, shrink=0.85, pad=0.01)
        bar.set_label(value_label + "\n(blue = saving, orange = extra cost)", fontsize=7)
        bar.ax.yaxis.set_major_formatter(st.pounds_m_formatter())
        bar.ax.tick_params(labelsize=6.5)
    return _finish(fig, title, source, subtitle)


def _cell_text(v: float) -> str:
    if abs(v) < 0.05:
        return "£0.0m" if v == 0 or abs(v) < 0.005 else st.pounds_m(v, 2)
    return st.pounds_m(v, 1)


# ---------------------------------------------------------------------------------------------
# Ensemble charts (plain arrays): fan chart and tornado
# ---------------------------------------------------------------------------------------------


def fan_chart(months: Sequence[float], quantile_bands: Mapping[str, tuple], median: Sequence[float],
              *, title: str = "Range of outcomes",
              ylabel: str = "Spend, £m a year",
              scale: float = st.MONTHLY_TO_M_A_YEAR,
              value_format: str = "pounds_m",
              colour: str = st.TOL_BRIGHT[0],
              median_label: str = "Median",
              reference: tuple[str, Sequence[float]] | None = None,
              start: str | None = None,
              parliament_months: int | None = st.PARLIAMENT_MONTHS,
              subtitle: str | None = None,
              source: str | None = None) -> Figure:
    """Percentile bands over time around a median line.

    ``quantile_bands`` maps a band label to ``(lo, hi)`` arrays, e.g.
    ``{"5th to 95th percentile": (p5, p95), "25th to 75th percentile": (p25, p75)}``; wider bands
    are drawn lighter, whatever the order given. Values are multiplied by ``scale`` (default
    £ per month -> £m a year; use 1.0 for people, 1e-6 for £ -> £m). ``value_format`` is
    ``"pounds_m"`` or ``"thousands"`` for the y tick labels. ``reference`` adds one dashed line
    (label, values), e.g. the counterfactual's median.
    """
    x = np.asarray(months, dtype=float)
    med = np.asarray(median, dtype=float) * scale
    if med.shape != x.shape:
        raise ValueError("median needs one value per month")
    bands = []
    for label, (lo, hi) in quantile_bands.items():
        lo = np.asarray(lo, dtype=float) * scale
        hi = np.asarray(hi, dtype=float) * scale
        if lo.shape != x.shape or hi.shape != x.shape:
            raise ValueError(f"band {label!r} needs one low and one high value per month")
        bands.append((float(np.mean(hi - lo)), label, lo, hi))
    bands.sort(key=lambda b: -b[0])  # widest first, lightest
    fig, axes = _new_figure(3.4)
    ax = axes[0][0]
    n_months = int(np.ceil(x.max())) if x.size else 0
    with st.style_context():
        alphas = np.linspace(0.18, 0.45, len(bands)) if bands else []
        for alpha, (_, label, lo, hi) in zip(alphas, bands):
            ax.fill_between(x, lo, hi, color=colour, alpha=float(alpha), linewidth=0, label=label)
        ax.plot(x, med, color=colour, linewidth=1.8, label=median_label)
        if reference is not None:
            ax.plot(x, np.asarray(reference[1], dtype=float) * scale, color=st.COUNTERFACTUAL_COLOUR,
                    linestyle=(0, (5, 2)), linewidth=1.4, label=reference[0])
        _month_axis(ax, n_months, start)
        _mark_parliament(ax, n_months, parliament_months)
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(st.pounds_m_formatter() if value_format == "pounds_m"
                                     else st.thousands_formatter())
        _legend(fig, None, min(4, len(bands) + 1 + (reference is not None)))
    return _finish(fig, title, source, subtitle)


def tornado_chart(labels: Sequence[str], low_values: Sequence[float], high_values: Sequence[float],
                  base: float, *, title: str = "What the result is most sensitive to",
                  xlabel: str = "Net present value, £m",
                  scale: float = 1e-6,
                  value_format: str = "pounds_m",
                  low_label: str = "Parameter at its low value",
                  high_label: str = "Parameter at its high value",
                  max_bars: int | None = 15,
                  subtitle: str | None = None,
                  source: str | None = None) -> Figure:
    """Tornado: for each parameter (``labels``), a bar from the result at its low value to the
    result at its high value, centred on ``base`` (the result with every parameter central);
    widest swing at the top. Values are multiplied by ``scale`` (default £ -> £m)."""
    labels = list(labels)
    lo = np.asarray(low_values, dtype=float) * scale
    hi = np.asarray(high_values, dtype=float) * scale
    b = float(base) * scale
    if lo.shape != (len(labels),) or hi.shape != (len(labels),):
        raise ValueError("low_values and high_values need one value per label")
    order = np.argsort(-np.abs(hi - lo), kind="stable")
    if max_bars is not None:
        order = order[:max_bars]
    order = order[::-1]  # widest at the top
    fig, axes = _new_figure(max(2.6, 1.5 + 0.3 * len(order)))
    ax = axes[0][0]
    fmt = st.pounds_m_formatter() if value_format == "pounds_m" else st.thousands_formatter()
    with st.style_context():
        y = np.arange(len(order))
        ax.barh(y, lo[order] - b, left=b, height=0.6, color=st.OKABE_ITO["orange"],
                label=low_label)
        ax.barh(y, hi[order] - b, left=b, height=0.6, color=st.OKABE_ITO["blue"], label=high_label)
        ax.axvline(b, color=st.TEXT_COLOUR, linewidth=1.0)
        ax.text(b, 1.0, f" Central: {fmt(b)}", transform=ax.get_xaxis_transform(), ha="left",
                va="bottom", fontsize=7)
        ax.set_yticks(y, [wrap(labels[k], 38, 2) for k in order], fontsize=7)
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(fmt)
        ax.set_xlabel(xlabel)
        _legend(fig, None, 2)
    return _finish(fig, title, source, subtitle)


# ---------------------------------------------------------------------------------------------
# Rendering and saving
# ---------------------------------------------------------------------------------------------


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure rendered in memory as PNG (``PNG_DPI``) or SVG."""
    buf = io.BytesIO()
    with st.style_context():
        fig.savefig(buf, format=fmt, dpi=st.PNG_DPI if fmt == "png" else None,
                    metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict:
    if fmt == "png":
        return {"Software": f"tpsim {__version__} (matplotlib)"}
    if fmt == "svg":
        return {"Creator": f"tpsim {__version__} (matplotlib)", "Date": None}
    return {}


def save_figure(fig: Figure, folder: str | Path, stem: str,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``folder/stem.png`` and ``folder/stem.svg`` (atomically); returns the paths."""
    from tpsim.output import atomic_write_with

    paths = []
    for fmt in formats:
        path = Path(folder) / f"{stem}.{fmt}"

        def write(tmp: str, fmt=fmt) -> None:
            with st.style_context():
                fig.savefig(tmp, format=fmt, dpi=st.PNG_DPI if fmt == "png" else None,
                            metadata=_metadata(fmt))

        paths.append(atomic_write_with(path, write))
    return paths


