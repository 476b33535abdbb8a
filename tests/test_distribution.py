"""Distributional analysis (tpsim/analysis/distribution.py): a hand-calculated two-band case, and
the comparison.json block of a banded place, which reconciles with the headline NPSV and sits
beside it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.analysis.appraisal import AppraisalSettings
from tpsim.analysis.distribution import BandFlows, band_weights, distribution

ROOT = Path(__file__).resolve().parents[1]


def _two_bands() -> dict[str, BandFlows]:
    months = 12  # appraisal year 0: every discount factor is 1, so PVs are plain sums
    return {
        "q1": BandFlows(cost=np.full(months, 100.0), resource_saving=np.full(months, 50.0),
                        qalys=np.full(months, 0.01), population=600.0),
        "q5": BandFlows(cost=np.zeros(months), resource_saving=np.full(months, 10.0),
                        qalys=np.full(months, 0.005), pv_outcome_values=300.0, population=400.0),
    }


def test_hand_calculated_two_band_case():
    settings = AppraisalSettings(qaly_value=70_000.0, qaly_uprating=1.0)
    block = distribution(_two_bands(), settings, npsv=10_000.0,
                         incomes={"q1": 20_000.0, "q5": 40_000.0}, median=30_000.0)
    q1, q5 = block["bands"]["q1"], block["bands"]["q5"]
    # q1: cost 12 x 100 = 1,200; savings 12 x 50 = 600; QALYs 0.12 x 70,000 = 8,400
    assert q1["pv_preventive_cost"] == pytest.approx(1200.0)
    assert q1["pv_resource_savings"] == pytest.approx(600.0)
    assert q1["pv_qaly_value"] == pytest.approx(8400.0)
    assert q1["npsv"] == pytest.approx(-1200.0 + 600.0 + 8400.0)
    # q5: savings 120; QALYs 0.06 x 70,000 = 4,200; declared outcome value 300
    assert q5["npsv"] == pytest.approx(120.0 + 4200.0 + 300.0)
    assert q1["population_share"] == pytest.approx(0.6)
    # weights (30,000 / 20,000) ** 1.3 = 1.694020 and (30,000 / 40,000) ** 1.3 = 0.687986
    assert q1["weight"] == pytest.approx(1.694020, rel=1e-6)
    assert q5["weight"] == pytest.approx(0.687986, rel=1e-6)
    assert block["npsv_bands"] == pytest.approx(7800.0 + 4620.0)
    assert block["place_wide"] == pytest.approx(10_000.0 - 12_420.0)
    # only household benefits (QALY and outcome values) are weighted:
    # 10,000 + 0.694020 x 8,400 + (0.687986 - 1) x 4,500 = 14,425.71
    assert block["weighted_npsv"] == pytest.approx(10_000.0 + 0.694020 * 8400.0
                                                   - 0.312014 * 4500.0, rel=1e-6)
    assert block["weighted_npsv"] == pytest.approx(14425.71, abs=0.01)
    assert block["npsv"] == 10_000.0   # the unweighted NPSV stays, beside the weighted one


def test_haircut_and_delay_act_on_benefits_not_costs():
    settings = AppraisalSettings(benefit_haircut=0.5, benefit_delay_months=2)
    block = distribution(_two_bands(), settings, npsv=0.0,
                         incomes={"q1": 1.0, "q5": 1.0}, median=1.0)
    q1 = block["bands"]["q1"]
    assert q1["pv_preventive_cost"] == pytest.approx(1200.0)
    assert q1["pv_resource_savings"] == pytest.approx(10 * 50.0 * 0.5)
    assert q1["pv_qaly_value"] == pytest.approx(10 * 0.01 * 0.5 * 70_000.0)
    assert block["weighted_npsv"] == pytest.approx(0.0)   # weights of 1 change nothing


def test_weights_are_green_book_elasticity():
    w = band_weights({"low": 10.0, "mid": 20.0, "high": 40.0}, 20.0)
    assert w == pytest.approx({"low": 2.0 ** 1.3, "mid": 1.0, "high": 0.5 ** 1.3})


@pytest.fixture(scope="module")
def banded_document():
    from tpsim.analysis.comparison import compare_scenarios
    from tpsim.config.scenario import load_scenario
    from tpsim.place.build import build_place
    from tpsim.place.profile import load_profile, profile_from_dict
    from tpsim.present.documents import comparison_document

    profile = profile_from_dict({
        "name": "banded", "tier": "unitary",
        "population": {"0-17": 40000, "18-64": 120000, "65+": 40000},
        "deprivation": {"bands": {"q1": 0.5, "q2": 0.0, "q3": 0.0, "q4": 0.0, "q5": 0.5}}})
    place = build_place(load_scenario(ROOT / "scenarios" / "baseline.yaml"),
                        load_profile(ROOT / "scenarios" / "places" / "baseline.yaml"), profile,
                        bands=True)
    cf = place.scenario.replace(horizon=36)
    option = cf.replace(overrides={"services.falls_prevention_q1.places": 900.0,
                                   "services.early_help_q1.places": 600.0})
    data = option.as_dict()
    data["name"] = "more_in_q1"
    from tpsim.config.scenario import scenario_from_dict

    option = scenario_from_dict(data, source="<more_in_q1>")
    comparison = compare_scenarios([option], cf, switching=False, service_attribution=False)
    return comparison, comparison_document(comparison)


def test_comparison_json_block_reconciles_and_sits_beside_the_headline(banded_document):
    comparison, doc = banded_document
    entry = doc["scenarios"]["more_in_q1"]
    block = entry["distribution"]
    assert set(block["bands"]) == {"q1", "q5"}
    assert entry["headline"] == "npsv" and block["npsv"] == entry["npsv"]
    assert block["npsv_bands"] + block["place_wide"] == pytest.approx(entry["npsv"], rel=1e-12)
    total_qalys = entry["outcomes"]["total"]["qalys_gained_horizon"]
    assert sum(b["outcomes"]["qalys_gained_horizon"] for b in block["bands"].values()) == \
        pytest.approx(total_qalys, rel=1e-9)
    assert sum(b["pv_qaly_value"] for b in block["bands"].values()) == \
        pytest.approx(entry["outcomes"]["total"]["pv_qaly_value_horizon"], rel=1e-9)
    q1, q5 = block["bands"]["q1"], block["bands"]["q5"]
    assert q1["weight"] > 1.0 > q5["weight"]
    assert q1["pv_preventive_cost"] > 0.0 and q1["outcomes"]["qalys_gained_horizon"] > 0.0
    expected = entry["npsv"] + sum((b["weight"] - 1.0) * b["household_benefits"]
                                   for b in block["bands"].values())
    assert block["weighted_npsv"] == pytest.approx(expected, rel=1e-12)


def test_unbanded_comparison_has_no_distribution_block():
    from tpsim.analysis.comparison import compare_scenarios
    from tpsim.config.scenario import load_scenario
    from tpsim.present.documents import comparison_document

    cf = load_scenario(ROOT / "scenarios" / "baseline.yaml").replace(horizon=12)
    option = load_scenario(ROOT / "scenarios" / "pooled_prevention.yaml").replace(horizon=12)
    doc = comparison_document(compare_scenarios([option], cf, switching=False,
                                                service_attribution=False))
    assert "distribution" not in doc["scenarios"]["pooled_prevention"]


def test_compare_prints_the_weighted_npsv_beside_the_unweighted(banded_document):
    from tpsim.cli.compare import distribution_text

    _, doc = banded_document
    text = distribution_text("more_in_q1", doc["scenarios"]["more_in_q1"]["distribution"])
    assert "q1: NPSV GBP" in text and "distributionally weighted NPSV" in text
    assert "supplementary" in text
