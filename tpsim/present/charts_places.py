"""Charts of many places (``tpsim places compare``): the headline net present value of every
place ranked (a dot per place, with the 5th-95th percentile range when an ensemble was run),
and the same figure against deprivation and against population.

Each function takes the rows of places.csv (:func:`tpsim.place.compare.place_row`) and returns
a matplotlib Figure; nothing here simulates or writes files. Money on the axes is £m.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tpsim.present import style as st
from tpsim.present.charts_uncertainty import frame

__all__ = ["headline_key", "ranked_figure", "against_figure", "places_figures"]

_WORDS = {"npsv": "net present social value (NPSV)", "npv": "fiscal net present value (NPV)"}


def headline_key(rows: list[dict]) -> str:
    """The figure the appraisal leads with: ``npsv`` when it reports one, else ``npv``."""
    return "npsv" if rows and "npsv" in rows[0] else "npv"


def _values(rows, key) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows]) / 1e6


def ranked_figure(rows: list[dict], title: str, source: str) -> Figure:
    """Places ranked by the headline figure (£m over the horizon), best at the top; a line
    from the 5th to the 95th percentile of the ensemble where one was run."""
    key = headline_key(rows)
    value = _values(rows, key)
    order = np.argsort(np.nan_to_num(value, nan=-np.inf), kind="stable")
    n = len(rows)
    with st.style_context():
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 1.6 + 0.16 * n), layout="constrained")
        ax = fig.add_subplot()
        y = np.arange(n)
        low, high = _values(rows, f"{key}_p5"), _values(rows, f"{key}_p95")
        if np.isfinite(low).any():
            ax.hlines(y, low[order], high[order], color=st.TOL_BRIGHT[0], alpha=0.45,
                      linewidth=2.0, label="5th to 95th percentile of the ensemble")
        colours = np.where(value[order] >= 0, st.OKABE_ITO["bluish_green"],
                           st.OKABE_ITO["vermillion"])
        ax.scatter(value[order], y, s=14, c=list(colours), zorder=3,
                   label=f"{_WORDS.get(key, key)}")
        ax.axvline(0.0, color=st.COUNTERFACTUAL_COLOUR, linewidth=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels([rows[i]["label"] for i in order], fontsize=6 if n > 40 else 7.5)
        ax.xaxis.set_major_formatter(st.pounds_m_formatter())
        ax.set_xlabel(f"{_WORDS.get(key, key)} over the horizon, £m")
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        frame(fig, title, source)
    return fig


def against_figure(rows: list[dict], x_key: str, x_label: str, title: str, source: str,
                   log_x: bool = False) -> Figure:
    """The headline figure of every place (£m) against one of its characteristics."""
    key = headline_key(rows)
    value = _values(rows, key)
    x = np.array([float(r[x_key]) for r in rows])
    with st.style_context():
        fig = Figure(figsize=(st.A4_TEXT_WIDTH_IN, 3.6), layout="constrained")
        ax = fig.add_subplot()
        low, high = _values(rows, f"{key}_p5"), _values(rows, f"{key}_p95")
        if np.isfinite(low).any():
            ax.vlines(x, low, high, color=st.TOL_BRIGHT[0], alpha=0.45, linewidth=1.6,
                      label="5th to 95th percentile of the ensemble")
        ax.scatter(x, value, s=16, color=st.TOL_BRIGHT[0], zorder=3, label=_WORDS.get(key, key))
        ax.axhline(0.0, color=st.COUNTERFACTUAL_COLOUR, linewidth=0.8)
        if log_x:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(st.thousands_formatter())
        ax.yaxis.set_major_formatter(st.pounds_m_formatter())
        ax.set_xlabel(x_label)
        ax.set_ylabel(f"{key.upper()} over the horizon, £m")
        ax.legend(loc="best")
        frame(fig, title, source)
    return fig


def places_figures(rows: list[dict], scenario: str, counterfactual: str,
                   runs: int = 0) -> dict[str, Figure]:
    """Every chart of ``tpsim places compare`` by file stem."""
    note = f"; {runs:,} ensemble runs per place" if runs else ""
    source = (f"tpsim places compare: {scenario} against {counterfactual} in {len(rows)} places "
              f"built from their profiles on {counterfactual}'s structure{note}. Illustrative "
              f"unless every profile figure is sourced.")
    key = headline_key(rows).upper()
    return {
        "places_ranked": ranked_figure(rows, f"{key} of {scenario} by place", source),
        "places_vs_deprivation": against_figure(
            rows, "imd_decile", "IMD decile (1 = most deprived tenth of authorities)",
            f"{key} of {scenario} against deprivation", source),
        "places_vs_population": against_figure(
            rows, "population", "residents (log scale)",
            f"{key} of {scenario} against population", source, log_x=True),
    }
