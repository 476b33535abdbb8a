"""Plain-text summaries printed by the command line."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tpsim.models.results import Results


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


def run_summary_text(summary: dict, results: Results) -> str:
    """A short table: spend by agency and kind over the horizon, and any s114 month."""
    t = summary["totals"]
    months = summary["settings"]["horizon_months"]
    lines = [f"{summary['scenario']} ({summary['scenario_hash']}): {months} months, "
             f"{summary['settings']['method']} dt={summary['settings']['dt_months']}, "
             f"prices {summary['settings']['price_year']}",
             f"  {'agency':<28}{'spend':>12}{'final reserves':>16}"]
    for a, spend in t["spend_by_agency"].items():
        lines.append(f"  {a:<28}{money(spend):>12}{money(t['final_reserves'][a]):>16}")
    lines.append(f"  {'preventive spend':<28}{money(t['spend_by_kind']['preventive']):>12}")
    lines.append(f"  {'reactive spend':<28}{money(t['spend_by_kind']['reactive']):>12}")
    lines.append(f"  {'total public spend':<28}{money(t['spend_total']):>12}")
    for a, month in summary["section_114_month"].items():
        if month is not None:
            lines.append(f"  {a}: reserves below zero from month {month} (section 114)")
    return "\n".join(lines)
