"""cashflow.csv: financial years add up to the horizon totals of comparison.json."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tpsim.analysis.cashflow import financial_years
from tpsim.cli import main
from tpsim.output import read_timeseries_csv

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_financial_years_run_april_to_march():
    assert financial_years("2026-04", 24) == [("2026-27", 1, 12), ("2027-28", 13, 24)]
    assert financial_years("2026-01", 16) == [("2025-26", 1, 3), ("2026-27", 4, 15),
                                              ("2027-28", 16, 16)]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    out = tmp_path_factory.mktemp("cashflow")
    result = CliRunner().invoke(main, ["compare", str(SCENARIOS / "pooled_prevention.yaml"),
                                       str(SCENARIOS / "pilots_plus.yaml"), "--against",
                                       str(SCENARIOS / "siloed_squeeze.yaml"), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open(out / "cashflow.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return out, json.loads((out / "comparison.json").read_text()), rows


def test_years_add_up_to_the_horizon_totals(shipped):
    out, doc, rows = shipped
    for name, sc in doc["scenarios"].items():
        blocks = {**sc["agencies"], "pool": sc["pool"], "total": sc["total"]}
        for row, figures in blocks.items():
            mine = [r for r in rows if r["scenario"] == name and r["row"] == row]
            assert len(mine) == 10  # 120 months from April: ten financial years
            assert [int(r["first_month"]) for r in mine] == list(range(1, 121, 12))
            for column, key in (("costs", "costs_horizon"),
                                ("cashable_savings", "cashable_savings_horizon"),
                                ("net", "net_fiscal_horizon")):
                total = sum(float(r[column]) for r in mine)
                assert total == pytest.approx(figures[key], rel=1e-9, abs=1e-3), (name, row, column)
            assert float(mine[-1]["cumulative_net"]) == pytest.approx(figures["net_fiscal_horizon"],
                                                                      rel=1e-9, abs=1e-3)


def test_reserves_and_section_114_month_come_from_the_runs(shipped):
    out, doc, rows = shipped
    sc = doc["scenarios"]["pooled_prevention"]
    ts = read_timeseries_csv(out / sc["timeseries"])
    cf = read_timeseries_csv(out / doc["counterfactual"]["timeseries"])
    for agency in ("council_asc", "council_childrens", "nhs_acute"):
        mine = [r for r in rows if r["scenario"] == "pooled_prevention" and r["row"] == agency]
        reserves = ts[f"reserves.agency.{agency}"]
        assert [float(r["reserves_end"]) for r in mine] == pytest.approx(reserves[11::12])
        assert sum(float(r["budget"]) for r in mine) == pytest.approx(ts[f"budget.agency.{agency}"].sum())
        flagged = [int(r["section_114_month"]) for r in mine if r["section_114_month"]]
        cf_flagged = [int(r["section_114_month_counterfactual"]) for r in mine
                      if r["section_114_month_counterfactual"]]
        if agency.startswith("council"):
            below = np.flatnonzero(reserves < 0)
            assert flagged == ([int(below[0]) + 1] if below.size else [])
            cf_below = np.flatnonzero(cf[f"reserves.agency.{agency}"] < 0)
            assert cf_flagged == ([int(cf_below[0]) + 1] if cf_below.size else [])
        else:
            assert flagged == [] and cf_flagged == []  # section 114 is a council notice
