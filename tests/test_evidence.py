"""The evidence library (scenarios/evidence.yaml, docs/sources.md) and its loader."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tpsim.config.evidence import load_evidence
from tpsim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "scenarios").glob("*.yaml") if p.name != "evidence.yaml")
SOURCES_MD = ROOT / "docs" / "sources.md"

# A source id in a comment is written before its tag, optionally with a price year between:
# "(nao_ea 2015-16 [V/D])", "(glendinning [V])".
_CITED = re.compile(r"\b([a-z][a-z0-9_]*)\s+(?:\d{4}(?:[-/]\d{2})?\s+)?\[(?:V|S|U|D)")
# English words that happen to stand before a tag in the shipped comments ("minus the four states
# below [D]", "rate/12 [V]"...), and `s`, the place's scale factor defined in baseline.yaml.
_NOT_IDS = {"below", "rate", "months", "s"}


@pytest.fixture(scope="module")
def evidence():
    return load_evidence()


def _documented_ids() -> set[str]:
    return set(re.findall(r"^#### `([a-z][a-z0-9_]*)`", SOURCES_MD.read_text(encoding="utf-8"),
                          flags=re.M))


def _cited_ids(path: Path) -> dict[str, str]:
    """Every source id a scenario file cites -> where: `sources:` keys, `source:` keys of its
    uncertainty section, and ids written before a tag in comments."""
    cited = {}
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    for key in data.get("sources") or {}:
        cited[key] = f"{path.name}: sources.{key}"
    for name, spec in ((data.get("uncertainty") or {}).get("parameters") or {}).items():
        if isinstance(spec, dict) and "source" in spec:
            cited[spec["source"]] = f"{path.name}: uncertainty {name}.source"
    for number, line in enumerate(text.splitlines(), 1):
        if "#" in line:
            for match in _CITED.finditer(line.split("#", 1)[1]):
                if match.group(1) not in _NOT_IDS:
                    cited.setdefault(match.group(1), f"{path.name}:{number} comment")
    return cited


def _preventive_services() -> set[str]:
    from tpsim.config.scenario import load_scenario
    out = set()
    for path in SCENARIOS:
        for sid, service in load_scenario(path).data["services"].items():
            if service["kind"] == "preventive":
                out.add(sid)
    return out


def test_the_shipped_table_loads(evidence):
    assert evidence.price_year == "2024-25"
    assert evidence.deflator.release_date == "2026-03-31"
    assert evidence.deflator.index["2024-25"] == 100.0
    assert set(evidence.services) == {"falls_prevention", "reablement", "drug_alcohol_treatment",
                                      "social_prescribing", "early_help"}


def test_every_cited_source_id_resolves():
    """The key check: no scenario cites a source users cannot find in the repository."""
    documented = _documented_ids()
    missing = {sid: where for path in SCENARIOS for sid, where in _cited_ids(path).items()
               if sid not in documented}
    assert not missing, f"source ids cited but not in docs/sources.md: {missing}"


def test_scenarios_no_longer_point_outside_the_repository():
    for path in SCENARIOS + [ROOT / "scenarios" / "README.md"]:
        text = path.read_text(encoding="utf-8")
        for stale in ("shared/", "PLACE.md", "REFERENCES.md", "PLACE §", "(REFERENCES"):
            assert stale not in text, f"{path.name} still cites {stale!r}"


def test_every_source_the_table_uses_is_documented(evidence):
    missing = evidence.source_ids() - _documented_ids()
    assert not missing, f"evidence.yaml cites ids without an entry in docs/sources.md: {missing}"


def test_the_comment_parser_finds_ids():
    """Guard for the resolution test: the pattern really picks ids out of comments."""
    ids = _cited_ids(ROOT / "scenarios" / "baseline.yaml")
    assert {"nao_ea", "gmca_ucd", "deflator", "prefit", "place", "leal2018"} <= set(ids)


def test_every_unit_cost_price_year_is_in_the_deflator(evidence):
    for cost in evidence.unit_costs.values():
        assert cost.price_year in evidence.deflator.index, cost.id
        assert evidence.unit_cost(cost.id) > 0


def test_uprating_identity_round_trip_and_sourced_factors(evidence):
    assert evidence.uprate(123.45, "2016-17", "2016-17") == 123.45
    there = evidence.uprate(1000.0, "2010-11", "2024-25")
    assert evidence.uprate(there, "2024-25", "2010-11") == pytest.approx(1000.0, rel=1e-12)
    # chaining through an intermediate year gives the direct factor
    via = evidence.uprate(evidence.uprate(1.0, "2012-13", "2018-19"), "2018-19", "2024-25")
    assert via == pytest.approx(evidence.uprate(1.0, "2012-13"), rel=1e-12)
    # the sourced factors quoted by the release summary (4 d.p.)
    for year, factor in {"2008-09": 1.4961, "2018-19": 1.2691, "2022-23": 1.0953}.items():
        assert evidence.uprate(1.0, year) == pytest.approx(factor, abs=5e-5)
    # hip fracture NHS share: the scenario's 14,961 is 10,000 x 1.4961
    assert evidence.unit_cost("hip_fracture_nhs") == pytest.approx(14961, abs=1)


def test_estimated_years_are_the_stated_geometric_interpolation(evidence):
    d = evidence.deflator
    anchors = sorted(d.sourced)
    for lo, hi in zip(anchors, anchors[1:]):
        n = int(hi[:4]) - int(lo[:4])
        growth = (d.index[hi] / d.index[lo]) ** (1 / n)
        for k in range(1, n):
            year = f"{int(lo[:4]) + k}-{(int(lo[:4]) + k + 1) % 100:02d}"
            assert year in d.estimated
            assert d.index[year] == pytest.approx(d.index[lo] * growth ** k, abs=6e-5), year


def test_a_missing_year_is_an_error_never_another_years_factor(evidence):
    with pytest.raises(ScenarioError, match="2000-01"):
        evidence.uprate(2014, "2000-01")
    with pytest.raises(ScenarioError, match="2030-31"):
        evidence.uprate(1.0, "2024-25", "2030-31")


def test_every_preventive_service_has_an_entry_with_a_published_range(evidence):
    services = _preventive_services()
    assert services, "no preventive service found in the shipped scenarios"
    for sid in services:
        assert sid in evidence.services, f"no evidence entry for preventive service {sid}"
        entry = evidence.services[sid]
        assert entry.published.low <= entry.published.high
        assert entry.published.low > 0 and entry.published.source
        assert entry.effects and all(e["source"] and e["population"] for e in entry.effects)
        assert entry.model_effect["low"] <= entry.model_effect["value"] <= entry.model_effect["high"]
        assert "half_life_months" in entry.decay or "duration_months" in entry.decay


def test_model_ranges_match_the_uncertain_scenario(evidence):
    """The ensemble's effect ranges and the table's ranges are the same numbers."""
    data = yaml.safe_load((ROOT / "scenarios" / "pooled_prevention_uncertain.yaml").read_text())
    for name, spec in data["uncertainty"]["parameters"].items():
        parts = name.split(".")
        if parts[0] == "services" and parts[2] == "effect":
            entry = evidence.services[parts[1]].model_effect
            assert (spec["low"], spec["mode"], spec["high"]) == (
                entry["low"], entry["value"], entry["high"]), name


def test_published_returns_of_the_issue(evidence):
    early = evidence.services["early_help"].published
    assert (early.low, early.economic_low) == (1.51, 2.28)
    assert evidence.services["falls_prevention"].published.high == 1.9
    assert evidence.services["drug_alcohol_treatment"].published.low == 2.5


def test_corrections_recompute_from_the_shipped_deflator(evidence):
    checked = 0
    for correction in evidence.corrections.values():
        if correction.check:
            c = correction.check
            expected = evidence.uprate(c["base"] * c["multiplier"], c["from_year"])
            assert correction.value == pytest.approx(expected, rel=1e-3, abs=0.5), correction.id
            checked += 1
    assert checked >= 6


def test_applied_corrections_are_in_the_baseline_and_gone_from_the_table(evidence):
    """The corrections of issue 14 that do not rest on a deflator gap are applied: the 65+
    emergency-admission cost (bed-day weighted), the volume-weighted police cost, the QALY
    value at 2024-25 prices and the EQ-5D norm; each left the corrections table."""
    baseline = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    services = baseline["services"]
    lb_2015 = 1.2691   # 'deflator LB' for 2010-11..2017-18: the 2018-19 factor
    assert services["emergency_admissions_older"]["unit_cost"] == pytest.approx(
        2362 * lb_2015 * 0.50 / 0.40, abs=0.5)
    assert services["emergency_admissions_adults"]["unit_cost"] == pytest.approx(
        2362 * lb_2015 * 0.50 / 0.60, abs=0.5)
    weighted = (140 * 420 + 683 * 250 + 1041 * 76) / 746
    assert weighted == pytest.approx(413.76, abs=0.01)
    for s in ("police_incidents_adults", "police_incidents_families"):
        assert services[s]["unit_cost"] == pytest.approx(weighted * lb_2015, abs=0.05)
    appraisal = baseline["appraisal"]
    assert appraisal["qaly_price_year"] == "2020-21" and appraisal["qaly_uprating"] == 1.0953
    assert baseline["cohorts"]["older_people"]["states"]["independent"]["utility"] == 0.78
    for cid in ("emergency_admissions_older", "emergency_admissions_adults", "police_incident",
                "qaly_value", "utility_independent_older"):
        assert cid not in evidence.corrections
    for correction in evidence.corrections.values():
        assert correction.id and "not applied" in \
            evidence_raw()["corrections"][correction.id]["status"]


def evidence_raw() -> dict:
    return yaml.safe_load((ROOT / "scenarios" / "evidence.yaml").read_text(encoding="utf-8"))


def test_fracture_costs_follow_the_phe_social_care_share():
    """PHE: social care bears about 25% of fragility-fracture costs (phe_falls)."""
    services = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())["services"]
    asc = services["hip_fracture_social_care"]["unit_cost"]
    nhs = services["hip_fracture_nhs"]["unit_cost"]
    assert asc / (asc + nhs) == pytest.approx(0.25, abs=0.001)
    assert asc + nhs == pytest.approx(12700 * 1.4961, abs=1.0)


def test_corrections_name_real_scenario_keys(evidence):
    baseline = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    for correction in evidence.corrections.values():
        key = correction.key.split()[0]
        if "." not in key or key.startswith("the"):
            continue
        node = baseline
        for part in key.split("."):
            assert part in node, f"{correction.id}: {key} is not a baseline.yaml key"
            node = node[part]
        assert node == correction.current, correction.id


def test_utilities_cover_every_state(evidence):
    baseline = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text())
    for cohort, spec in baseline["cohorts"].items():
        for state, values in spec["states"].items():
            entry = evidence.utilities[cohort][state]
            assert entry["scenario"] == values["utility"], (cohort, state)
            assert entry["source"] and entry["note"]


def test_validation_names_the_key(tmp_path):
    text = (ROOT / "scenarios" / "evidence.yaml").read_text(encoding="utf-8")
    bad = text.replace('price_year: "2012-13"\n    source: gmca_ucd\n    notes: "midpoint',
                       'price_year: "1999-00"\n    source: gmca_ucd\n    notes: "midpoint')
    assert bad != text
    path = tmp_path / "evidence.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"unit_costs\.intermediate_care_bed_day\.price_year"):
        load_evidence(path)
    gap = text.replace('    "2013-14": 72.5715        # [E]\n', "")
    path.write_text(gap, encoding="utf-8")
    with pytest.raises(ScenarioError, match="gap between 2012-13 and 2014-15"):
        load_evidence(path)


def test_service_returns_are_the_appraised_ratios_of_one_batched_call():
    """Each return is PV savings / PV cost of 'with the service' minus 'without it'."""
    from tpsim.analysis.evidence import compare_with_library, service_returns
    from tpsim.config.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    returns = service_returns(sc)
    assert [r.service for r in returns] == [s for s, v in sc.services.items()
                                            if v["kind"] == "preventive"]
    for r in returns:
        assert r.pv_cost_horizon > 0
        assert r.fiscal_horizon == pytest.approx(r.pv_cashable_savings_horizon / r.pv_cost_horizon)
        # social benefits: resource savings (transfers such as tax and benefits out) + QALYs
        assert r.economic_horizon == pytest.approx(
            (r.pv_cashable_savings_horizon + r.pv_non_cashable_savings_horizon
             - r.pv_transfer_savings_horizon + r.pv_qaly_value_horizon) / r.pv_cost_horizon)
        assert r.pv_social_benefits_horizon == pytest.approx(r.economic_horizon
                                                             * r.pv_cost_horizon)
        assert set(r.removed.values()) == {0.0}
    rows = compare_with_library(returns)
    assert all(row.within_range in (True, False) for row in rows)
