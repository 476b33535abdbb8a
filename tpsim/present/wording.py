"""The words for money, payback, ratios and months: one function each, used by the printed
tables, the report and the charts so they never disagree."""
from __future__ import annotations

import calendar
import math
import re

#: How every output says that an investment is still in deficit at the horizon.
NOT_WITHIN_HORIZON = "not within the horizon"


def money(value: float, minus: str = "-") -> str:
    """£ with a unit that keeps the number short: £1.23bn, £12.3m, £456k, £789 (charts and
    the report pass the typographic minus sign)."""
    sign = minus if value < 0 else ""
    v = abs(value)
    if v >= 1e9:
        return f"{sign}£{v / 1e9:,.2f}bn"
    if v >= 1e6:
        return f"{sign}£{v / 1e6:,.1f}m"
    if v >= 1e3:
        return f"{sign}£{v / 1e3:,.0f}k"
    return f"{sign}£{v:,.0f}"


def payback(month: int | None, in_parliament: bool | None = None) -> str:
    """A payback month (1 = the first simulated month; 0 = never a net outlay; None = still in
    deficit at the horizon) as a phrase: ``"month 27 (within the Parliament)"``."""
    if month is None:
        return NOT_WITHIN_HORIZON
    if month == 0:
        return "immediately (no net outlay)"
    return f"month {month}" + (" (within the Parliament)" if in_parliament else "")


def agency_payback(month: int | None, invests: bool) -> str:
    """An agency's payback in a table: as :func:`payback`, but ``"no investment"`` for an agency
    that bears no extra cost (it cannot be in deficit on an investment it never made)."""
    if not invests:
        return "no investment"
    return payback(month)


def payback_sentence(month: int | None, in_parliament: bool | None) -> str:
    """The payback month as a sentence of the report's headline."""
    if month is None:
        return "It does not pay back within the horizon."
    if month == 0:
        return "There is no net outlay to pay back."
    return f"It pays back in month {month}" + (
        ", within the Parliament." if in_parliament else ", after the Parliament.")


def payback_cell(month: int | None, horizon: int, invests: bool = True) -> str:
    """A payback month in a narrow table column: the month, ``>horizon`` when it does not
    pay back within the horizon, ``-`` for an agency that invests nothing."""
    if not invests:
        return "-"
    return f">{horizon}" if month is None else str(month)


def payback_legend(horizon: int) -> str:
    """What the payback column of the printed table means."""
    return (f"payback: month the cumulative discounted fiscal net benefit turns non-negative; "
            f"0 = never a net outlay; >{horizon} = {NOT_WITHIN_HORIZON}; - = no investment")


def bcr(value: float | None) -> str:
    """A benefit-cost ratio; None (no extra cost) in words."""
    return "n/a (no extra cost)" if value is None else f"{value:,.2f}"


def sig(x: float | None, digits: int = 4) -> str:
    """A number to ``digits`` significant figures; ``n/a`` for None or NaN, ``inf``/``-inf``."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a" if x is None or math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def fixed(x: float | None, decimals: int) -> str:
    """A number with ``decimals`` decimals; ``n/a`` for None or a non-finite value."""
    return f"{x:.{decimals}f}" if x is not None and math.isfinite(x) else "n/a"


def month_words(start: str | None) -> str:
    """A ``YYYY-MM`` month in words: ``"2026-04" -> "April 2026"`` (anything else as given)."""
    if not start or not re.fullmatch(r"\d{4}-\d{2}", start):
        return start or ""
    year, month = start.split("-")
    return f"{calendar.month_name[int(month)]} {year}"


#: The outputs of a sensitivity analysis: (description, axis label, £ -> £m scale; the
#: reactive spend of a month is shown as £m a year). ``{month}`` is the month analysed.
SENSITIVITY_OUTPUTS = {
    "npv": ("Net present value against the counterfactual (fiscal, £)", "Net present value, £m",
            1e-6),
    "reactive_spend": ("Reactive spend of the scenario in month {month} (£ in the month)",
                       "Reactive spend in month {month}, £m a year", 12e-6),
}
