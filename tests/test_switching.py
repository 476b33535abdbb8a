"""Switching values: the round trip through a child scenario, and the exact linear ones."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tpsim.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _compare(out: Path, option: Path, counterfactual: Path) -> dict:
    result = CliRunner().invoke(main, ["compare", str(option), "--against", str(counterfactual),
                                       "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "switching values" in result.output and "break-even" in result.output
    return json.loads((out / "comparison.json").read_text())


def _child(folder: Path, parent: Path, path: str, value: float) -> Path:
    """A child scenario of ``parent`` (extends) with the dotted ``path`` set to ``value``."""
    node: dict = {}
    data = {"extends": str(parent), "name": parent.stem}
    top = node
    keys = path.split(".")
    for k in keys[:-1]:
        top[k] = {}
        top = top[k]
    top[keys[-1]] = value
    data.update(node)
    folder.mkdir(parents=True, exist_ok=True)
    child = folder / parent.name
    child.write_text(yaml.safe_dump(data, sort_keys=False))
    return child


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    out = tmp_path_factory.mktemp("switching")
    option, cf = SCENARIOS / "pooled_prevention.yaml", SCENARIOS / "siloed_squeeze.yaml"
    return out, option, cf, _compare(out / "central", option, cf)["scenarios"]["pooled_prevention"]


def test_switching_value_round_trip_through_child_scenarios(shipped):
    """Writing the option and the counterfactual with a dotted parameter at its reported NPSV
    switching value and re-running tpsim compare gives an NPSV of zero (within 0.5% of the
    option's total costs)."""
    out, option, cf, sc = shipped
    entries = [e for e in sc["switching_values"] if e["case"] == "npsv" and not e["none_in_range"]
               and e["parameter"].startswith("services.") and e["applies_to"] == "option and counterfactual"]
    assert entries, "expected a dotted-path switching value for the shipped option"
    entry = entries[0]
    assert entry["value"] != pytest.approx(entry["central"])
    children = out / "children"
    doc = _compare(out / "switched", _child(children / "option", option, entry["parameter"], entry["value"]),
                   _child(children / "cf", cf, entry["parameter"], entry["value"]))
    switched = doc["scenarios"]["pooled_prevention"]
    assert abs(switched["npsv"]) <= 0.005 * switched["total"]["pv_uplifted_costs_horizon"]
    assert abs(sc["npsv"]) > 0.05 * sc["total"]["pv_uplifted_costs_horizon"]  # it did move


def test_linear_switching_values_are_exact(shipped):
    out, option, cf, sc = shipped
    by = {(e["parameter"], e["case"]): e for e in sc["switching_values"]}
    qaly = by[("appraisal.qaly_value", "npsv")]
    # NPSV is linear in the QALY value: zero at the reported value
    slope = sc["total"]["pv_qaly_value_horizon"] / sc["qaly_value"]
    assert sc["npsv"] + (qaly["value"] - sc["qaly_value"]) * slope == pytest.approx(0.0, abs=1e-3)
    ob = by[("appraisal.optimism_bias", "npsv")]
    per_unit = sc["total"]["pv_optimism_bias_horizon"] / sc["optimism_bias"]
    if not ob["none_in_range"]:
        assert sc["npsv"] - (ob["value"] - sc["optimism_bias"]) * per_unit == pytest.approx(0.0, abs=1e-3)
    for e in sc["switching_values"]:
        assert set(e) >= {"parameter", "central", "value", "case", "none_in_range"}
        assert (e["value"] is None) == e["none_in_range"]
        assert e["case"] in ("npsv", "fiscal_npv")


def test_break_even_horizon_is_consistent(shipped):
    out, option, cf, sc = shipped
    be = sc["break_even"]
    assert be["months_searched"] == 360
    # the NPSV is positive over 120 months, so cumulative NPSV has turned by then
    if sc["npsv"] > 0 and be["npsv_month"] is not None:
        assert be["npsv_month"] <= 120
