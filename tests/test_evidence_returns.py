"""``tpsim evidence`` and :func:`tpsim.evidence`: the return per £1 of a preventive service
(known answer on a place where it can be worked out by hand), evidence.csv's columns, and the
issue-14 rule that every shipped service is inside its published range or carries a written
reason beside it in scenarios/evidence.yaml."""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tpsim.analysis.evidence import (EVIDENCE_COLUMNS, compare_with_library,
                                     service_returns)
from tpsim.cli import main
from tpsim.config.evidence import load_evidence
from tpsim.config.scenario import load_scenario, scenario_from_dict

from conftest import make_tiny_scenario_dict

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

#: The columns issue 14 names for evidence.csv, in its order.
ISSUE_COLUMNS = ["service", "fiscal_return_per_pound", "economic_return_per_pound",
                 "published_low", "published_high", "source", "within_range"]


def known_answer_dict() -> dict:
    """The tiny place held still (no escalation, recovery or exit above the first state, no
    budget pressure, no overhead), with falls prevention acting only on the use of
    residential care by the people it covers in at_risk.

    By hand: coverage = min(uptake 0.8, 300 places / 800 at risk) = 0.375 from month 0 (the
    kernel starts the delay at month-0 coverage, and at 0 without the service); residential
    care use by at_risk is 0.1 a person-month at £3,000, fully variable, so the service saves
    3,000 x 0.1 x 800 x 0.2 (cut) x 0.375 x credit a month, credit = (1 - deadweight 0.2) x
    attribution 0.9 = 0.72: £12,960 a month, against 300 x £40 = £12,000 a month. Both are
    constant, so every present value has the same ratio: 1.08 per £1 (fiscal and economic:
    nobody moves state, so no QALYs)."""
    d = make_tiny_scenario_dict()
    d["agencies"]["council_asc"].update(budget=1e7, overhead=0.0, cut_rate=0.0,
                                        restore_rate=0.0)
    cohort = d["cohorts"]["older_people"]
    cohort["inflow_growth"] = 0.0
    states = cohort["states"]
    states["independent"].update(inflow=18.0, escalation=0.0)       # 18 = 0.002 x 9,000
    states["at_risk"].update(escalation=0.0, recovery=0.0, exit=0.0)
    states["high_need"].update(recovery=0.0, exit=0.0)
    d["services"]["falls_prevention"].update(
        effect=0.0, utilisation_effects={"residential_care": 0.2}, deadweight=0.2,
        attribution=0.9)
    d["services"]["residential_care"].update(utilisation={"at_risk": 0.1, "high_need": 0.3},
                                             fixed_share=0.0)
    return d


def test_known_answer_return_per_pound():
    (r,) = service_returns(scenario_from_dict(known_answer_dict()))
    for value in (r.fiscal_parliament, r.fiscal_horizon, r.economic_parliament,
                  r.economic_horizon):
        assert value == pytest.approx(3000 * 0.1 * 800 * 0.2 * 0.375 * 0.72 / 12000, rel=1e-9)
    assert r.pv_qaly_value_horizon == pytest.approx(0.0, abs=1e-6)
    assert r.removed["services.falls_prevention.places"] == 0.0
    # 24 months of £12,000, discounted: a little under £288,000
    assert 0.97 * 24 * 12000 < r.pv_cost_horizon < 24 * 12000


def test_known_answer_against_a_counterfactual_measures_the_extra_places():
    d = known_answer_dict()
    half = copy.deepcopy(d)
    half["name"] = "half"
    half["services"]["falls_prevention"]["places"] = 150.0
    full, (r,) = service_returns(scenario_from_dict(d))[0], service_returns(
        scenario_from_dict(d), scenario_from_dict(half))
    assert r.removed["services.falls_prevention.places"] == 150.0
    assert r.fiscal_horizon == pytest.approx(1.08, rel=1e-9)
    assert r.pv_cost_horizon == pytest.approx(full.pv_cost_horizon / 2, rel=1e-9)


def test_transfers_are_fiscal_but_not_economic():
    """A service that only saves benefit payments (a transfer) returns its savings to the
    public purse and nothing to society."""
    d = known_answer_dict()
    d["services"]["residential_care"]["transfer"] = True
    (r,) = service_returns(scenario_from_dict(d))
    assert r.fiscal_horizon == pytest.approx(1.08, rel=1e-9)
    assert r.economic_horizon == pytest.approx(0.0, abs=1e-9)
    assert r.pv_transfer_savings_horizon == pytest.approx(r.pv_cashable_savings_horizon)


@pytest.fixture(scope="module")
def baseline_rows():
    return compare_with_library(service_returns(load_scenario(SCENARIOS / "baseline.yaml")))


@pytest.fixture(scope="module")
def pooled_rows():
    return compare_with_library(service_returns(
        load_scenario(SCENARIOS / "pooled_prevention.yaml"),
        load_scenario(SCENARIOS / "siloed_squeeze.yaml")))


def unexplained(rows) -> list[str]:
    """Services outside their published range (or not compared) with no written reason."""
    return [f"{r.model.service}: fiscal {r.model.fiscal_horizon}, economic "
            f"{r.model.economic_horizon}, published {r.published_measure} "
            f"{r.published_low}-{r.published_high}" for r in rows
            if r.within_range is not True and not r.reason.strip()]


def test_every_shipped_service_is_within_its_published_range_or_explained(baseline_rows,
                                                                          pooled_rows):
    """The issue-14 rule: a return outside the published range needs a written ``reason:``
    beside the service in scenarios/evidence.yaml."""
    assert baseline_rows and {r.model.service for r in baseline_rows} == set(
        load_evidence().services)
    assert not unexplained(baseline_rows), unexplained(baseline_rows)
    assert not unexplained(pooled_rows), unexplained(pooled_rows)
    for r in baseline_rows:
        assert r.within_range is not None, r.model.service
        if not r.within_range:
            assert len(r.reason) > 80, r.model.service   # a reason, not a placeholder


def test_the_rule_fails_for_a_service_outside_its_range_without_a_reason(baseline_rows,
                                                                         tmp_path):
    """Guard for the rule: with the reasons removed, the services outside their range are
    reported (so the rule is not vacuous)."""
    text = (SCENARIOS / "evidence.yaml").read_text(encoding="utf-8")
    bare = "\n".join(line for line in text.split("\n") if not line.startswith("    reason:"))
    path = tmp_path / "evidence.yaml"
    path.write_text(bare, encoding="utf-8")
    rows = compare_with_library([r.model for r in baseline_rows], load_evidence(path))
    outside = [r.model.service for r in rows if r.within_range is False]
    assert outside and len(unexplained(rows)) == len(outside)


def test_the_command_writes_exactly_the_issue_columns(tmp_path, baseline_rows):
    out = tmp_path / "ev"
    result = CliRunner().invoke(main, ["evidence", str(SCENARIOS / "baseline.yaml"),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "evidence.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ISSUE_COLUMNS == list(EVIDENCE_COLUMNS)
    assert [row["service"] for row in table] == [r.model.service for r in baseline_rows]
    for row, r in zip(table, baseline_rows):
        assert float(row["fiscal_return_per_pound"]) == pytest.approx(r.model.fiscal_horizon,
                                                                      rel=1e-12)
        assert float(row["economic_return_per_pound"]) == pytest.approx(
            r.model.economic_horizon, rel=1e-12)
        assert row["within_range"] in ("True", "False")
        assert row["source"] == r.source
    document = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    assert document["counterfactual"] is None and document["settings"]["optimism_bias"] == 0
    assert all(s["reason"] for s in document["services"] if not s["within_range"])
    assert "falls_prevention" in result.output and "outside" in result.output


def test_the_command_with_a_counterfactual_and_a_bad_library(tmp_path):
    out = tmp_path / "ev"
    result = CliRunner().invoke(main, ["evidence", str(SCENARIOS / "pooled_prevention.yaml"),
                                       "--against", str(SCENARIOS / "siloed_squeeze.yaml"),
                                       "--out", str(out), "--horizon", "60"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "evidence.json").read_text())["counterfactual"]["scenario"] \
        == "siloed_squeeze"
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: 3\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evidence", str(SCENARIOS / "baseline.yaml"),
                                       "--library", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "bad.yaml" in result.output
    assert not (tmp_path / "x").exists()


def test_the_api_returns_a_dataframe(baseline_rows):
    import tpsim

    table = tpsim.evidence(SCENARIOS / "baseline.yaml")
    assert list(table.columns[:7]) == ISSUE_COLUMNS
    assert list(table["service"]) == [r.model.service for r in baseline_rows]
    assert table["fiscal_return_per_pound"].tolist() == pytest.approx(
        [r.model.fiscal_horizon for r in baseline_rows], rel=1e-12)
    assert {"fiscal_return_per_pound_parliament", "reason"} <= set(table.columns)


def test_a_pooled_service_takes_its_share_of_the_pool_with_it(pooled_rows):
    """Without it, the pool shrinks by the service's share (contributions, set-up and double
    running), so its money is not handed to the other pooled services; every pooled service
    then has a positive return (handing its share to the others made the weak ones negative)."""
    from tpsim.analysis.evidence import removal_overrides

    sc = load_scenario(SCENARIOS / "pooled_prevention.yaml")
    cf = load_scenario(SCENARIOS / "siloed_squeeze.yaml")
    out = removal_overrides(sc, "social_prescribing", cf)
    shares = sum(sc.pool["services"].values())
    keep = 1.0 - sc.pool["services"]["social_prescribing"] / shares
    assert out["pool.services.social_prescribing"] == 0.0
    for agency, share in sc.pool["contributions"].items():
        assert out[f"pool.contributions.{agency}"] == pytest.approx(share * keep)
    assert out["pool.setup_cost"] == pytest.approx(sc.pool["setup_cost"] * keep)
    assert all(r.model.fiscal_horizon > 0 and r.model.economic_horizon > 0
               for r in pooled_rows), [(r.model.service, r.model.fiscal_horizon)
                                      for r in pooled_rows]
