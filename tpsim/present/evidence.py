"""What ``tpsim evidence`` writes and prints: each preventive service's return per £1 in the
model beside the published range of the evidence library (:mod:`tpsim.analysis.evidence`).

``evidence.csv`` has exactly :data:`~tpsim.analysis.evidence.EVIDENCE_COLUMNS` (returns over
the horizon); ``evidence.json`` adds, per service, the Parliament returns, the present values
(£ at the scenario's price year) behind them and the library's reason for a return outside
its range, with the settings the returns were computed with."""
from __future__ import annotations

from typing import Sequence

from tpsim import __version__
from tpsim.analysis.evidence import EVIDENCE_COLUMNS, EvidenceRow
from tpsim.config.scenario import Scenario
from tpsim.output import csv_text, json_text

#: How evidence.json states the appraisal settings the returns use (analysis/evidence.py).
SETTINGS = {"optimism_bias": 0.0, "benefit_delay_months": 0, "benefit_haircut": 0.0,
            "value_qalys": True,
            "fiscal_return": "PV cashable savings to every public body (transfers such as tax "
                             "and benefits included) / PV extra cost",
            "economic_return": "PV social benefits (resource savings, cashable and non-cashable, "
                               "without transfers; QALYs valued; valued outcomes) / PV extra cost",
            "removal": "each service's places, community places and pool share set to zero, or "
                       "to the counterfactual's values with --against; the pool's contributions, "
                       "set-up and double running shrink by the removed share of its allocations"}


def evidence_files(rows: Sequence[EvidenceRow], scenario: Scenario,
                   counterfactual: Scenario | None, library: str) -> dict[str, str]:
    """``{"evidence.csv": text, "evidence.json": text}`` for the rows of one scenario."""
    document = {
        "tpsim_version": __version__,
        "scenario": {"scenario": scenario.name, "scenario_hash": scenario.hash},
        "counterfactual": (None if counterfactual is None else
                           {"scenario": counterfactual.name,
                            "scenario_hash": counterfactual.hash}),
        "evidence_library": library,
        "horizon_months": scenario.time.horizon,
        "settings": SETTINGS,
        "services": [row.as_dict() for row in rows],
    }
    return {"evidence.csv": csv_text(EVIDENCE_COLUMNS, [row.as_row() for row in rows]),
            "evidence.json": json_text(document)}


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _range(row: EvidenceRow) -> str:
    if row.published_low is None:
        return "-"
    if row.published_low == row.published_high:
        return f"{row.published_low:.2f}"
    return f"{row.published_low:.2f}-{row.published_high:.2f}"


def _verdict(row: EvidenceRow) -> str:
    if row.within_range is None:
        return "not compared"
    return "within" if row.within_range else "outside (reason in the library)" \
        if row.reason else "outside, NO REASON"


def evidence_text(rows: Sequence[EvidenceRow], scenario: Scenario,
                  counterfactual: Scenario | None) -> str:
    """A table of the returns per £1 (fiscal and economic, Parliament and horizon) beside
    the published range of the measure the library names for each service."""
    against = (f"against {counterfactual.name}" if counterfactual is not None
               else "against taking each service out")
    years = scenario.time.horizon / 12
    lines = [f"{scenario.name}: return per £1 of each preventive service ({against}); "
             f"Parliament / {years:g} years, no optimism bias, QALYs valued in the economic return",
             f"  {'service':<24}{'fiscal':>13}{'economic':>13}  {'published':<20}{'':<2}"
             f"{'verdict'}"]
    for row in rows:
        m = row.model
        fiscal = f"{_ratio(m.fiscal_parliament)}/{_ratio(m.fiscal_horizon)}"
        economic = f"{_ratio(m.economic_parliament)}/{_ratio(m.economic_horizon)}"
        published = (f"{row.published_measure} {_range(row)}" if row.published_measure
                     else "-")
        lines.append(f"  {m.service:<24}{fiscal:>13}{economic:>13}  {published:<22}"
                     f"{_verdict(row)}")
    return "\n".join(lines)
