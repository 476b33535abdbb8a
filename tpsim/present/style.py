"""The look of every tpsim chart: a colour-blind-safe palette, a fixed colour per agency, the
figure size and fonts for A4 pages, and number formatters in plain words.

Palettes
    Agencies use the Okabe-Ito palette (Okabe and Ito 2008, "Color Universal Design"), which
    stays distinguishable under the common colour-vision deficiencies. The known agency ids
    always get the same colour, in every chart and every scenario; any other agency takes the
    next free colour from Paul Tol's "muted" scheme in the order the scenario lists it.
    Scenarios (lines overlaid on one chart) use Paul Tol's "bright" scheme, with a dashed dark
    grey for the counterfactual. Need states use an ordered (sequential) ramp from viridis,
    dark for the highest need.

Units
    The kernel's money series are £ per month. Charts that say "£m a year" multiply by
    ``MONTHLY_TO_M_A_YEAR`` (12 / 1e6); cumulative totals are shown in £m.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")  # charts are files; never open a window

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import cm  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from tpsim.present import wording  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Palettes
# ---------------------------------------------------------------------------------------------

#: Okabe-Ito (2008), in its published order.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Paul Tol's "muted" qualitative scheme (for agencies beyond the known ids).
TOL_MUTED = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
             "#882255", "#AA4499"]

#: Paul Tol's "bright" qualitative scheme (for scenarios overlaid on one chart).
TOL_BRIGHT = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377"]

#: The fixed colour of each known agency id: the same in every chart.
AGENCY_COLOURS = {
    "council_asc": OKABE_ITO["blue"],
    "council_childrens": OKABE_ITO["sky_blue"],
    "council_public_health": OKABE_ITO["bluish_green"],
    "nhs_acute": OKABE_ITO["vermillion"],
    "nhs_community": OKABE_ITO["orange"],
    "police": OKABE_ITO["reddish_purple"],
    "dwp": OKABE_ITO["black"],
    "housing": OKABE_ITO["yellow"],
    "pool": "#999999",  # the pooled budget (not an agency) where a chart shows it
}

COUNTERFACTUAL_COLOUR = "#555555"
CONTEXT_COLOUR = "#999999"
PARLIAMENT_COLOUR = "#777777"
GAIN_COLOUR = OKABE_ITO["bluish_green"]
COST_COLOUR = OKABE_ITO["vermillion"]
TEXT_COLOUR = "#222222"
SOURCE_COLOUR = "#555555"
GRID_COLOUR = "#DDDDDD"

#: Months in a Parliament (five years): marked on every chart over time.
PARLIAMENT_MONTHS = 60

#: £ per month -> £m a year.
MONTHLY_TO_M_A_YEAR = 12.0 / 1e6

# ---------------------------------------------------------------------------------------------
# Sizes: A4 portrait has a 210 mm page; with 20 mm margins the text block is 170 mm = 6.7 in.
# Figures are drawn at that width so 8-9 pt text stays 8-9 pt on the printed page.
# ---------------------------------------------------------------------------------------------

A4_TEXT_WIDTH_IN = 6.7
PNG_DPI = 200

RC = {
    "font.family": "sans-serif",  # DejaVu Sans (shipped with matplotlib), then common fallbacks
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 8.5,
    "axes.edgecolor": "#444444",
    "axes.labelcolor": TEXT_COLOUR,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": GRID_COLOUR,
    "grid.linewidth": 0.6,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",  # text stays text in SVG (searchable, editable for print)
    "lines.linewidth": 1.6,
}


def style_context():
    """``with style_context(): ...`` draws with tpsim's fonts and sizes (rcParams restored after)."""
    return plt.rc_context(RC)


# ---------------------------------------------------------------------------------------------
# Colour maps
# ---------------------------------------------------------------------------------------------


def agency_colours(agencies: Iterable[str]) -> dict[str, str]:
    """A colour for each agency id: the fixed colour of a known id, else the next unused
    colour of Tol's muted scheme (then Okabe-Ito, then grey) in the order given.

    The order matters only for unknown ids, so pass them in scenario order.
    """
    agencies = list(dict.fromkeys(agencies))
    out: dict[str, str] = {}
    used = {AGENCY_COLOURS[a] for a in agencies if a in AGENCY_COLOURS}
    spare = [c for c in TOL_MUTED + list(OKABE_ITO.values()) if c not in used
             and c not in AGENCY_COLOURS.values()]
    spare += [c for c in OKABE_ITO.values() if c not in used and c not in spare]
    k = 0
    for a in agencies:
        if a in AGENCY_COLOURS:
            out[a] = AGENCY_COLOURS[a]
        else:
            out[a] = spare[k] if k < len(spare) else "#999999"
            k += 1
    return out


def scenario_styles(names: Sequence[str], counterfactual: str | None = None,
                    context: Sequence[str] = ()) -> dict[str, dict]:
    """Line style per scenario name for overlaid charts: the counterfactual dashed dark grey
    (drawn on top), context runs dotted light grey, the others solid in Tol's bright colours in
    the order given."""
    out: dict[str, dict] = {}
    k = 0
    for name in dict.fromkeys(names):
        if name == counterfactual:
            out[name] = {"color": COUNTERFACTUAL_COLOUR, "linestyle": (0, (5, 2)), "linewidth": 1.5,
                         "zorder": 4}
        elif name in context:
            out[name] = {"color": CONTEXT_COLOUR, "linestyle": (0, (1, 1.5)), "linewidth": 1.6,
                         "zorder": 2}
        else:
            out[name] = {"color": TOL_BRIGHT[k % len(TOL_BRIGHT)], "linestyle": "-",
                         "linewidth": 1.8, "zorder": 3}
            k += 1
    return out


def need_state_colours(n: int) -> list[str]:
    """``n`` colours from low need (light green) to high need (dark purple), viridis."""
    if n <= 1:
        return [to_hex(cm.viridis(0.3))]
    return [to_hex(cm.viridis(0.85 - 0.85 * k / (n - 1))) for k in range(n)]


# ---------------------------------------------------------------------------------------------
# Number formatting
# ---------------------------------------------------------------------------------------------


def thousands(value: float, decimals: int = 0) -> str:
    """``12345.6 -> "12,346"``; a true minus sign for negatives."""
    text = f"{abs(value):,.{decimals}f}"
    return ("\u2212" + text) if value < 0 and text.strip("0.,") else text


def pounds_m(value: float, decimals: int = 1) -> str:
    """A value already in £m as ``"£12.3m"`` / ``"−£4.0m"``."""
    text = f"£{abs(value):,.{decimals}f}m"
    return ("\u2212" + text) if value < 0 and f"{abs(value):.{decimals}f}".strip("0.") else text


def money(value: float) -> str:
    """A value in £ with a unit that keeps it short: £1.23bn, £12.3m, £456k, £789, with
    the typographic minus sign."""
    return wording.money(value, minus="\u2212")


def _nice_decimals(step: float) -> int:
    if step <= 0 or step >= 1:
        return 0
    d = 0
    while step < 1 and d < 4:
        step *= 10
        d += 1
    return d


def thousands_formatter(decimals: int | None = None) -> FuncFormatter:
    """Tick labels with thousands separators (``12,000``)."""
    def fmt(x, pos=None):
        return thousands(x, 0 if decimals is None else decimals)
    return FuncFormatter(fmt)


def pounds_m_formatter(decimals: int | None = None) -> FuncFormatter:
    """Tick labels for axes in £m: ``£12m``, ``−£3m``, with decimals only when ticks need them."""
    def fmt(x, pos=None):
        d = decimals
        if d is None:
            d = 0 if float(x).is_integer() else (1 if abs(x * 10 - round(x * 10)) < 1e-9 else 2)
        return pounds_m(x, d)
    return FuncFormatter(fmt)


def month_ticks(n_months: int) -> list[int]:
    """Year-end months (12, 24, ...) for a month axis, thinned for long horizons."""
    step = 12 if n_months <= 180 else 24 if n_months <= 360 else 60
    ticks = list(range(0, n_months + 1, step))
    return ticks
