"""The executive summary says only what the figures say: the ranking by NPSV, who bears the
largest net cost, payback, section 114 months and the switching values nearest the centre."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tpsim.present import summary as sm


def _row(cost: float, saving: float, npv: float) -> dict:
    return {"pv_uplifted_costs_horizon": cost, "pv_cashable_savings_horizon": saving,
            "fiscal_npv_horizon": npv}


def _entry(npsv: float, fiscal: float, switching=(), s114=None, payback=None, be=None) -> dict:
    return {"npsv": npsv, "fiscal_npv": fiscal, "economic_npv": fiscal,
            "payback_month": payback, "pays_back_in_parliament": bool(payback and payback <= 60),
            "agencies": {"council_asc": _row(10e6, 12e6, 2e6), "nhs_acute": _row(6e6, 1e6, -5e6),
                         "police": _row(0.0, 0.0, 0.0)},
            "pool": _row(3e6, 0.0, -3e6),  # never named as a payer
            "switching_values": list(switching), "section_114": s114 or {},
            "break_even": {"months_searched": 360, "npsv_month": be}}


def _scenario(name: str):
    return SimpleNamespace(name=name, agencies={
        "council_asc": {"label": "Council adult social care"},
        "nhs_acute": {"label": "NHS acute trusts (via ICB)"}, "police": {"label": "Police"},
        "council_childrens": {"label": "Council children's services"}},
        services={"reablement": {"label": "Home-care reablement (short-term)"}})


def _comparison(names):
    return SimpleNamespace(cases=[SimpleNamespace(scenario=_scenario(n)) for n in names])


def test_options_are_ranked_by_npsv_with_the_agencies_that_lose_and_gain_most():
    entries = {"a_option": _entry(10e6, -4e6), "b_option": _entry(25e6, -9e6, payback=40, be=30)}
    opts = sm.options(_comparison(["a_option", "b_option"]), entries)
    assert [(o.rank, o.name) for o in opts] == [(1, "b_option"), (2, "a_option")]
    best = opts[0]
    assert best.label == "B option"
    assert best.largest_cost == ("NHS acute trusts", -5e6)  # not the pooled budget's -£3m
    assert best.largest_gain == ("Council adult social care", 2e6)
    assert best.npsv_break_even == 30 and best.probability_positive is None


def test_key_switching_values_are_the_nearest_to_the_central_value():
    values = [
        {"parameter": "services.reablement.unit_cost", "central": 1000.0, "value": 4000.0, "case": "npsv"},
        {"parameter": "preventive_effect_multiplier", "central": 1.0, "value": 0.6, "case": "npsv"},
        {"parameter": "appraisal.qaly_value", "central": 70000.0, "value": 20000.0, "case": "npsv"},
        {"parameter": "services.x.effect", "central": 0.1, "value": None, "case": "npsv"},
        {"parameter": "services.reablement.unit_cost", "central": 1000.0, "value": 1500.0,
         "case": "fiscal_npv"},
    ]
    picked = sm.key_switching_values({"switching_values": values}, shown=3)
    assert [(e["parameter"], e["case"]) for e in picked] == [
        ("preventive_effect_multiplier", "npsv"), ("appraisal.qaly_value", "npsv"),
        ("services.reablement.unit_cost", "fiscal_npv")]
    sc = _scenario("a")
    assert sm.switching_value_text(sc, values[1]) == "every preventive effect were 40% smaller than assumed"
    assert sm.switching_value_text(sc, values[2], "2020-21") == \
        "the value of a QALY were £20,000 rather than £70,000 (2020-21 prices)"
    assert sm.switching_value_text(sc, values[0]) == \
        "the unit cost of home-care reablement were £4,000 rather than £1,000"


def test_sentences_state_the_ranking_section_114_and_the_uncertainty():
    s114 = {"council_asc": {"month": 78, "counterfactual_month": 83},
            "council_childrens": {"month": None, "counterfactual_month": 90}}
    entries = {"a_option": _entry(10e6, -4e6, s114=s114), "b_option": _entry(-2e6, -9e6)}
    metrics = {"a_option": {"probability_beats_counterfactual": 0.25,
                            "probability_npsv_positive": 0.75,
                            "npsv": {"mean": 6e6, "percentiles": {"p10": -2e6, "p90": 14e6}},
                            "npv": {"percentiles": {"p10": -9e6, "p90": 1e6}}}}
    opts = sm.options(_comparison(["a_option", "b_option"]), entries, metrics, runs=500)
    cf = _scenario("siloed_squeeze")
    said = sm.sentences(opts, cf, 120, {o.name: _scenario(o.name) for o in opts})
    assert said[0].startswith("On net present social value (NPSV, the Green Book's headline "
                              "measure), A option ranks first: +£10.0m over 120 months against "
                              "Siloed squeeze (the counterfactual), ahead of B option (−£2.0m).")
    assert ("the NPSV is positive for A option in 75% of them (mean +£6.0m; 10th to 90th "
            "percentile −£2.0m to +£14.0m). The fiscal NPV is positive in 25% of the runs for "
            "A option.") in said[1]
    a = next(s for s in said if s.startswith("A option:"))
    assert "the public purse is £4.0m worse off" in a
    assert "NHS acute trusts bears the largest net cost (−£5.0m)" in a
    assert "It does not pay back within the horizon." in a
    assert ("brings Council adult social care's section 114 month forward from 83 to 78 and "
            "keeps Council children's services' reserves above zero") in a
    # no judgement beyond the figures
    assert not any(w in " ".join(said).lower() for w in ("recommend", "should", "best value"))


def test_no_positive_option_is_said_plainly():
    entries = {"a_option": _entry(-1e6, -4e6), "b_option": _entry(-2e6, -9e6)}
    opts = sm.options(_comparison(["a_option", "b_option"]), entries)
    said = sm.sentences(opts, _scenario("cf"), 60, {o.name: _scenario(o.name) for o in opts})
    assert "A option has the least negative NPSV; no option has a positive one" in said[0]
    assert said[1].startswith("How sure: these are central estimates")


@pytest.mark.parametrize("name,expected", [("Police", "Police's"),
                                           ("Council children's services", "Council children's services'")])
def test_possessive(name, expected):
    assert sm.possessive(name) == expected
