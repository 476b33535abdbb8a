"""Cohorts stratified by deprivation band (tpsim/place/bands.py): people are conserved state by
state, the band with more need has the higher entry rate into need, month 0 still balances with
the same spend, and a profile without bands builds exactly as before."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.config.scenario import load_scenario
from tpsim.errors import TpsimError
from tpsim.place.bands import band_of
from tpsim.place.build import build_place
from tpsim.place.initial_state import initial_state, month0_spend
from tpsim.place.profile import load_profile, profile_from_dict

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
REFERENCE = ROOT / "scenarios" / "places" / "baseline.yaml"

BANDS = {"q1": 0.48, "q2": 0.22, "q3": 0.14, "q4": 0.10, "q5": 0.06}
PROFILE = {"name": "banded", "tier": "metropolitan_borough",
           "population": {"0-17": 68000, "18-64": 170000, "65+": 42000, "85+": 4800},
           "deprivation": {"bands": BANDS}}


@pytest.fixture(scope="module")
def built():
    baseline = load_scenario(BASELINE)
    reference = load_profile(REFERENCE)
    profile = profile_from_dict(PROFILE)
    flat = build_place(baseline, reference, profile, check_reserves=False)
    banded = build_place(baseline, reference, profile, bands=True)
    return flat, banded


def test_people_are_conserved_state_by_state(built):
    flat, banded = built
    for c, co in flat.scenario.cohorts.items():
        for s, st in co["states"].items():
            total = sum(banded.scenario.cohorts[f"{c}_{q}"]["states"][s]["initial"] for q in BANDS)
            assert total == pytest.approx(st["initial"], rel=1e-12), (c, s)
        people = sum(st["initial"] for st in co["states"].values())
        for q, w in BANDS.items():
            band = sum(st["initial"] for st in banded.scenario.cohorts[f"{c}_{q}"]["states"].values())
            assert band == pytest.approx(w * people, rel=1e-12)
    assert set(banded.scenario.cohorts) == {f"{c}_{q}" for c in flat.scenario.cohorts for q in BANDS}
    assert set(banded.scenario.services) == {f"{v}_{q}" for v in flat.scenario.services for q in BANDS}


def test_more_deprived_band_has_more_need_and_higher_entry_rate(built):
    _, banded = built
    cohorts = banded.scenario.cohorts
    # children: neighbourhood gradient 10 (decile 1 against 10), log-linear in the decile, so
    # looked-after children per child in q1 (midpoint decile 1.5) against q5 (9.5) is 10 ** (8/9)
    cla = {q: cohorts[f"children_{q}"]["states"]["looked_after"]["initial"] for q in BANDS}
    kids = {q: sum(st["initial"] for st in cohorts[f"children_{q}"]["states"].values()) for q in BANDS}
    rate = {q: cla[q] / kids[q] for q in BANDS}
    assert rate["q1"] / rate["q5"] == pytest.approx(10.0 ** (8.0 / 9.0), rel=1e-9)
    assert rate["q1"] > rate["q2"] > rate["q3"] > rate["q4"] > rate["q5"]
    for c, first in (("children", "universal"), ("older_people", "independent"),
                     ("adults_complex", "stable")):
        esc = [cohorts[f"{c}_{q}"]["states"][first]["escalation"] for q in BANDS]
        assert all(a > b for a, b in zip(esc, esc[1:])), (c, esc)


def test_banded_month0_balances_with_the_same_spend(built):
    flat, banded = built
    state = initial_state(banded.scenario, solve="rates")
    assert state.residual < 1e-9
    flat_spend, _ = month0_spend(flat.scenario)
    band_spend, _ = month0_spend(banded.scenario)
    for a in flat_spend:
        assert band_spend[a] == pytest.approx(flat_spend[a], rel=1e-10)
    for a, ag in flat.scenario.agencies.items():
        assert banded.scenario.agencies[a]["budget"] == ag["budget"]
    assert banded.warnings == []
    # preventive places: the same month-0 coverage in every band
    for v, sv in flat.scenario.services.items():
        if sv["kind"] == "preventive":
            places = sum(banded.scenario.services[f"{v}_{q}"]["places"] for q in BANDS)
            assert places == pytest.approx(sv["places"], rel=1e-12)
    cov = state.coverage
    for q in BANDS:
        assert cov[f"falls_prevention_{q}"] == pytest.approx(cov["falls_prevention_q1"], rel=1e-9)


def test_banded_scenario_runs_close_to_the_flat_one(built):
    from tpsim.models.runner import run

    flat, banded = built
    a = run(flat.scenario.replace(horizon=24)).series["spend.total"][0]
    b = run(banded.scenario.replace(horizon=24)).series["spend.total"][0]
    assert b[0] == pytest.approx(a[0], rel=1e-9)
    assert np.max(np.abs(b / a - 1.0)) < 0.02


def test_profile_without_bands_builds_exactly_as_before():
    baseline = load_scenario(BASELINE)
    reference = load_profile(REFERENCE)
    profile = profile_from_dict({**PROFILE, "deprivation": {"imd_decile": 2}})
    plain = build_place(baseline, reference, profile)
    asked = build_place(baseline, reference, profile, bands=True)
    assert asked.scenario.data == plain.scenario.data
    assert asked.origin == plain.origin
    assert all(band_of(c) is None for c in asked.scenario.cohorts)


def test_band_need_overrides_and_its_errors():
    baseline = load_scenario(BASELINE)
    reference = load_profile(REFERENCE)
    need = {"q1": 2.0, "q2": 1.0, "q3": 1.0, "q4": 1.0, "q5": 1.0}
    profile = profile_from_dict({**PROFILE, "deprivation": {"bands": BANDS,
                                                            "band_need": {"children": need}}})
    place = build_place(baseline, reference, profile, bands=True, check_reserves=False)
    flat = build_place(baseline, reference, profile, check_reserves=False)
    total = flat.scenario.cohorts["children"]["states"]["looked_after"]["initial"]
    q1 = place.scenario.cohorts["children_q1"]["states"]["looked_after"]["initial"]
    assert q1 == pytest.approx(total * 0.48 * 2.0 / (0.48 * 2.0 + 0.52), rel=1e-12)
    with pytest.raises(TpsimError, match="needs deprivation.bands"):
        profile_from_dict({**PROFILE, "deprivation": {"band_need": {"children": need}}})
    with pytest.raises(TpsimError, match="required"):
        profile_from_dict({**PROFILE, "deprivation": {"bands": BANDS,
                                                      "band_need": {"children": {"q1": 2.0}}}})
    bad = profile_from_dict({**PROFILE, "deprivation": {"bands": BANDS,
                                                        "band_need": {"childern": need}}})
    with pytest.raises(TpsimError, match="not a cohort"):
        build_place(baseline, reference, bad, bands=True)


def test_place_init_writes_a_banded_file_that_reads_back(tmp_path):
    from tpsim.place.api import init_place, place_file_text

    src = tmp_path / "p.yaml"
    src.write_text("name: banded\ntier: unitary\npopulation: {'0-17': 40000, '18-64': 120000, "
                   "'65+': 40000}\ndeprivation:\n  bands: {q1: 0.1, q2: 0.2, q3: 0.3, q4: 0.4, "
                   "q5: 0.0}\n", encoding="utf-8")
    place = init_place(src)
    out = tmp_path / "banded.yaml"
    out.write_text(place_file_text(place), encoding="utf-8")
    again = load_scenario(out)
    assert "children_q5" not in again.cohorts and "children_q4" in again.cohorts
    for c in again.cohorts:
        for s, st in again.cohorts[c]["states"].items():
            assert st["initial"] == pytest.approx(place.scenario.cohorts[c]["states"][s]["initial"],
                                                  rel=1e-12)
    assert "band q1's share" in out.read_text(encoding="utf-8")


def test_shipped_banded_profile_builds_into_bands():
    from tpsim.place.api import init_place

    place = init_place(ROOT / "scenarios" / "places" / "banded_profile.yaml")
    assert {f"children_{q}" for q in BANDS} <= set(place.scenario.cohorts)
    assert place.warnings == []
    assert initial_state(place.scenario, solve="rates").residual < 1e-9
