"""The financial case: each agency's (and the pool's) cash profile by financial year.

One row per agency per financial year (April to March) of the horizon, from the same monthly
costs and cashable savings as the appraisal (:class:`tpsim.analysis.appraisal.MonthlyFlows`,
undiscounted, no optimism bias: cash as a finance director sees it), plus the scenario's
budget and reserves and, for a council, the month its reserves first fall below zero (in
effect a section 114 notice). docs/appraisal.md, "Financial case", states every column.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from tpsim.analysis.appraisal import POOL_ROW, TOTAL_ROW, MonthlyFlows

COLUMNS = ("scenario", "row", "financial_year", "first_month", "last_month", "costs",
           "cashable_savings", "net", "cumulative_net", "transfer_savings", "budget",
           "reserves_end", "section_114_month", "reserves_end_counterfactual",
           "section_114_month_counterfactual")
"""cashflow.csv columns (£, undiscounted; months 1 = the first simulated month)."""


def financial_years(start: str, n_months: int) -> list[tuple[str, int, int]]:
    """(label, first month, last month) of each April-March financial year the months 1..n
    touch, for a run starting in calendar month ``start`` ("YYYY-MM")."""
    year, month = (int(x) for x in start.split("-")[:2])
    out: list[tuple[str, int, int]] = []
    for m in range(1, n_months + 1):
        calendar = month - 1 + (m - 1)
        y, mo = year + calendar // 12, calendar % 12 + 1
        fy = y if mo >= 4 else y - 1
        label = f"{fy}-{(fy + 1) % 100:02d}"
        if out and out[-1][0] == label:
            out[-1] = (label, out[-1][1], m)
        else:
            out.append((label, m, m))
    return out


def _first_negative(reserves: np.ndarray | None) -> int | None:
    """Month (1-based) at whose end reserves are first below zero, or None."""
    if reserves is None:
        return None
    below = np.flatnonzero(reserves < 0.0)
    return int(below[0]) + 1 if below.size else None


def cashflow_rows(name: str, flows: MonthlyFlows, series: Mapping[str, np.ndarray], start: str,
                  councils: set[str], counterfactual: Mapping[str, np.ndarray]) -> list[list]:
    """The cashflow.csv rows of one scenario: every agency, the pool and the total, by
    financial year. ``series`` / ``counterfactual``: the scenario's and the counterfactual's
    labelled monthly series (budgets, reserves, pool balance); ``councils``: agencies for which
    negative reserves mean a section 114 month."""
    years = financial_years(start, flows.n_months)
    transfers = np.zeros_like(flows.costs) if flows.transfers is None else flows.transfers
    rows: list[list] = []
    n_ag = len(flows.agencies)
    for i, row in enumerate([*flows.rows, TOTAL_ROW]):
        if row == TOTAL_ROW:
            costs, cash, tr = flows.costs.sum(axis=0), flows.cashable.sum(axis=0), transfers.sum(axis=0)
            budget = sum(np.asarray(series[f"budget.agency.{a}"], dtype=float) for a in flows.agencies)
            reserves = cf_reserves = None
        else:
            costs, cash, tr = flows.costs[i], flows.cashable[i], transfers[i]
            if row == POOL_ROW:
                budget = None
                reserves = np.asarray(series["pool.balance"], dtype=float)
                cf_reserves = np.asarray(counterfactual["pool.balance"], dtype=float)
            else:
                budget = np.asarray(series[f"budget.agency.{row}"], dtype=float)
                reserves = np.asarray(series[f"reserves.agency.{row}"], dtype=float)
                cf_reserves = np.asarray(counterfactual[f"reserves.agency.{row}"], dtype=float)
        council = i < n_ag and row in councils
        s114 = _first_negative(reserves) if council else None
        cf_s114 = _first_negative(cf_reserves) if council else None
        cumulative = 0.0
        for label, first, last in years:
            sl = slice(first - 1, last)
            c, s = float(costs[sl].sum()), float(cash[sl].sum())
            cumulative += s - c
            rows.append([name, row, label, first, last, c, s, s - c, cumulative,
                         float(tr[sl].sum()),
                         "" if budget is None else float(budget[sl].sum()),
                         "" if reserves is None else float(reserves[last - 1]),
                         s114 if s114 is not None and first <= s114 <= last else "",
                         "" if cf_reserves is None else float(cf_reserves[last - 1]),
                         cf_s114 if cf_s114 is not None and first <= cf_s114 <= last else ""])
    return rows


def comparison_cashflow(comparison) -> list[list]:
    """The cashflow.csv rows of every option of a ready
    :class:`tpsim.analysis.comparison.Comparison` (in :data:`COLUMNS` order)."""
    runs = comparison.runs
    cf_series = runs.batch.series(runs.counterfactual)
    rows: list[list] = []
    for case in comparison.cases:
        rows += cashflow_rows(case.scenario.name, case.flows, runs.batch.series(case.batch_run),
                              case.scenario.time.start, councils(case.scenario), cf_series)
    return rows


def councils(scenario) -> set[str]:
    """The scenario's agencies of type ``council`` (a section 114 notice is a council's)."""
    return {a for a, ag in scenario.agencies.items() if ag["type"] == "council"}


def section_114_months(series: Mapping[str, np.ndarray], counterfactual: Mapping[str, np.ndarray],
                       councils: set[str]) -> dict[str, dict]:
    """Per council: the month its reserves first fall below zero in the scenario and in the
    counterfactual (None: not within the horizon)."""
    return {a: {"month": _first_negative(np.asarray(series[f"reserves.agency.{a}"], dtype=float)),
                "counterfactual_month": _first_negative(
                    np.asarray(counterfactual[f"reserves.agency.{a}"], dtype=float))}
            for a in sorted(councils)}
