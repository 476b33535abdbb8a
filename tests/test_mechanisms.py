"""Behaviour tests of the prevention mechanisms, the exit split, cohort transitions,
employment and cashability (docs/model.md): each mechanism moves the flow it should, the
numba kernel agrees with the numpy reference, batches equal single runs, people are
conserved across cohorts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tpsim.config.scenario import scenario_from_dict
from tpsim.errors import ScenarioError
from tpsim.models import layout as lo
from tpsim.models.reference import simulate_reference
from tpsim.models.simulate import simulate
from tpsim.models.structure import compile_scenario

from conftest import make_rich_scenario_dict, make_tiny_scenario_dict


def mechanism_dict() -> dict:
    """The rich scenario with every new mechanism switched on."""
    d = make_rich_scenario_dict()
    d["time"]["horizon"] = 36
    falls = d["services"]["falls_prevention"]
    falls.update(recovery_effect=0.5, short_run_effect=0.3, effect_decay=12.0, deadweight=0.1,
                 displacement=0.05, attribution=0.9,
                 utilisation_effects={"emergency_admissions": 0.3})
    d["services"]["reablement"].update(states=["at_risk"],
                                       substitutes={"residential_care": 0.4})
    adults = d["cohorts"]["adults"]
    adults["states"]["stable"].update(employment=0.6, death_share=0.3, transition_share=0.5)
    adults["states"]["complex"].update(employment=0.2, death_share=0.5, transition_share=0.2)
    adults["employment_value"] = 400.0
    adults["transition"] = {"cohort": "older_people",
                            "states": {"stable": "independent", "complex": "at_risk"}}
    d["services"]["emergency_admissions"]["cashable_share"] = 0.2
    return d


def model_of(d: dict, method: str = "euler"):
    return dataclasses.replace(compile_scenario(scenario_from_dict(d)), method=method)


def block(model, raw, b: int) -> np.ndarray:
    return raw.trajectory[:, :, model.xo[b]:model.xo[b + 1]]


def final(model, raw, b: int, item: int = 0) -> float:
    return float(raw.final[0, model.x_index(b, item)])


def monthly(model, raw, b: int, item: int = 0) -> np.ndarray:
    return np.diff(block(model, raw, b)[0, :, item])


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_kernel_agrees_with_reference(method):
    model = model_of(mechanism_dict(), method)
    theta = model.theta(3)
    theta[1, model.param_index["services.falls_prevention.places"]] = 900.0
    theta[2, model.param_index["services.reablement.substitutes.residential_care"]] = 0.9
    a, b = simulate(model, theta), simulate_reference(model, theta)
    scale = np.maximum(np.abs(a.trajectory).max(axis=(0, 1)), 1.0)
    worst = (np.abs(a.trajectory - b.trajectory) / scale).max()
    assert worst < 1e-9


def test_batch_equals_single_runs():
    model = model_of(mechanism_dict())
    theta = model.theta(5)
    theta[:, model.param_index["services.falls_prevention.recovery_effect"]] = \
        np.linspace(0.0, 1.0, 5)
    batch = simulate(model, theta)
    for k in range(5):
        one = simulate(model, theta[k:k + 1])
        np.testing.assert_array_equal(batch.final[k], one.final[0])


def test_people_are_conserved_across_cohorts():
    model = model_of(mechanism_dict())
    raw = simulate(model)
    pop = block(model, raw, lo.X_POP)[0]
    flows = {b: block(model, raw, b)[0] for b in
             (lo.A_INFLOW, lo.A_EXIT, lo.A_DEATH, lo.A_TRANS_OUT, lo.A_TRANS_IN)}
    for c_i, c in enumerate(model.cohorts):
        people = pop[:, [model.pop_index(c, s) for s in model.states[c]]].sum(axis=1)
        expected = (flows[lo.A_INFLOW][:, c_i] + flows[lo.A_TRANS_IN][:, c_i]
                    - flows[lo.A_TRANS_OUT][:, c_i] - flows[lo.A_EXIT][:, c_i]
                    - flows[lo.A_DEATH][:, c_i])
        np.testing.assert_allclose(people - people[0], expected, rtol=1e-9, atol=1e-6)
    # a transition moves people between cohorts: what leaves the adults enters older people
    adults, older = model.cohorts.index("adults"), model.cohorts.index("older_people")
    moved_out = flows[lo.A_TRANS_OUT][-1, adults]
    assert moved_out > 100.0
    assert flows[lo.A_TRANS_IN][-1, older] == pytest.approx(moved_out, rel=1e-12)
    assert flows[lo.A_TRANS_IN][-1, adults] == 0.0
    total = pop.sum(axis=1)
    np.testing.assert_allclose(total - total[0],
                               flows[lo.A_INFLOW].sum(axis=1) - flows[lo.A_EXIT].sum(axis=1)
                               - flows[lo.A_DEATH].sum(axis=1), rtol=1e-9, atol=1e-6)


def test_exit_split_into_deaths_transitions_and_other_exits():
    model = model_of(mechanism_dict())
    raw = simulate(model)
    c = model.cohorts.index("adults")
    deaths, moves = final(model, raw, lo.A_DEATH, c), final(model, raw, lo.A_TRANS_OUT, c)
    others = final(model, raw, lo.A_EXIT, c)
    # stable: 30% deaths, 50% transitions; complex 50%, 20%; crisis all other exits
    assert deaths > 0 and moves > deaths and others > 0


def test_recovery_effect_raises_recovery_flows():
    d = mechanism_dict()
    without = dict(d, services=dict(d["services"]))
    without["services"]["falls_prevention"] = dict(d["services"]["falls_prevention"],
                                                   recovery_effect=0.0)
    c = 0
    m1, m0 = model_of(d), model_of(without)
    r1, r0 = simulate(m1), simulate(m0)
    assert final(m1, r1, lo.A_REC, c) > 1.05 * final(m0, r0, lo.A_REC, c)
    # more recovery out of at_risk: fewer people there at the end
    i = m1.pop_index("older_people", "at_risk")
    assert final(m1, r1, lo.X_POP, i) < final(m0, r0, lo.X_POP, i)


def test_substitution_lowers_the_substituted_services_starts():
    d = mechanism_dict()
    none = mechanism_dict()
    none["services"]["reablement"]["substitutes"] = {}
    m1, m0 = model_of(d), model_of(none)
    r1, r0 = simulate(m1), simulate(m0)
    older = m1.cohorts.index("older_people")
    care = m1.reactive.index("residential_care")
    # fewer escalations into high_need (the state whose people use residential care) ...
    assert final(m1, r1, lo.A_ESC, older) < final(m0, r0, lo.A_ESC, older) - 5.0
    # ... so less residential care, and the substituted people recover instead
    assert final(m1, r1, lo.A_ACT_REACT, care) < final(m0, r0, lo.A_ACT_REACT, care)
    assert final(m1, r1, lo.A_REC, older) > final(m0, r0, lo.A_REC, older)


def test_utilisation_effect_lowers_use_within_the_state():
    d = mechanism_dict()
    none = mechanism_dict()
    none["services"]["falls_prevention"]["utilisation_effects"] = {}
    for x in (d, none):
        x["services"]["emergency_admissions"]["capacity"] = None
    m1, m0 = model_of(d), model_of(none)
    r = m1.reactive.index("emergency_admissions")
    m1_month1 = monthly(m1, simulate(m1), lo.A_ACT_REACT, r)[0]
    m0_month1 = monthly(m0, simulate(m0), lo.A_ACT_REACT, r)[0]
    assert m1_month1 < 0.99 * m0_month1


def _one_service(**falls) -> dict:
    """The tiny scenario without doom loop, its service's places ending at month 6."""
    d = make_tiny_scenario_dict()
    d["time"]["horizon"] = 72
    d["loops"] = {"doom_loop": False}
    d["services"]["falls_prevention"].update(falls)
    d["changes"] = [{"month": 6, "set": {"services.falls_prevention.places": 0.0}}]
    return d


def _at_risk_escalation_multiplier(model, raw) -> np.ndarray:
    """Escalations out of at_risk per person there, relative to the base rate (monthly)."""
    i = model.pop_index("older_people", "at_risk")
    pm = monthly(model, raw, lo.A_PERSON_MONTHS, i)
    c = model.cohorts.index("older_people")
    esc = monthly(model, raw, lo.A_ESC, c)
    j = model.pop_index("older_people", "independent")
    esc_indep = 0.004 * monthly(model, raw, lo.A_PERSON_MONTHS, j)
    return (esc - esc_indep) / pm / 0.02


def test_decay_returns_escalation_towards_its_base_after_support_ends():
    decaying = model_of(_one_service(effect_decay=12.0))
    sudden = model_of(_one_service())
    m_decay = _at_risk_escalation_multiplier(decaying, simulate(decaying))
    m_sudden = _at_risk_escalation_multiplier(sudden, simulate(sudden))
    assert m_decay[3] < 0.95         # the service is running: escalation below base
    # after support ends the effect lingers longer with decay, then returns to base
    assert m_decay[18] < m_sudden[18] - 0.01
    assert m_decay[-1] == pytest.approx(1.0, abs=0.01)
    assert m_sudden[-1] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.diff(m_decay[12:]) > -1e-12)   # monotone return towards 1


def test_negative_short_run_effect_raises_demand_first():
    def expanding(short_run: float) -> dict:
        d = _one_service(short_run_effect=short_run, time_to_effect=9.0)
        d["changes"] = [{"month": 1, "set": {"services.falls_prevention.places": 700.0}}]
        return d
    uncovering, plain = model_of(expanding(3.0)), model_of(expanding(0.0))
    m_unc = _at_risk_escalation_multiplier(uncovering, simulate(uncovering))
    m_plain = _at_risk_escalation_multiplier(plain, simulate(plain))
    assert m_unc[2] > 1.0 > m_plain[2]          # demand rises first ...
    assert m_unc[-1] == pytest.approx(m_plain[-1], rel=1e-2)   # ... then the effect wins
    assert m_unc[-1] < 0.9


def test_credit_scales_every_effect():
    full = model_of(_one_service(effect=0.2, deadweight=0.5, displacement=0.2,
                                 attribution=0.5))
    plain = model_of(_one_service(effect=0.2 * 0.5 * 0.8 * 0.5))
    np.testing.assert_allclose(simulate(full).trajectory, simulate(plain).trajectory,
                               rtol=1e-12, atol=1e-9)


def test_non_cashable_capacity_stays_paid_for():
    def demand_falls(cashable: float) -> dict:
        d = make_tiny_scenario_dict()
        d["time"]["horizon"] = 60
        d["loops"] = {"doom_loop": False}
        d["services"]["residential_care"].update(fixed_share=0.5, decommission_delay=3.0,
                                                 cashable_share=cashable)
        d["changes"] = [{"month": 1, "set": {
            "cohorts.older_people.states.high_need.exit": 0.2}}]
        return d
    kept, freed = model_of(demand_falls(0.0)), model_of(demand_falls(1.0))
    r = kept.reactive.index("residential_care")
    rk, rf = simulate(kept), simulate(freed)
    spend_kept = monthly(kept, rk, lo.A_SPEND_REACT, r)[-1]
    spend_freed = monthly(freed, rf, lo.A_SPEND_REACT, r)[-1]
    activity = monthly(kept, rk, lo.A_ACT_REACT, r)[-1]
    month0 = 200.0 * 0.3
    # cashable 0: the fixed half of the month-0 capacity is still paid; 1: it is released
    assert spend_kept == pytest.approx(3000.0 * (0.5 * activity + 0.5 * month0), rel=1e-3)
    assert spend_freed == pytest.approx(3000.0 * activity, rel=1e-3)


def test_employment_value_is_people_in_work_times_value():
    model = model_of(mechanism_dict())
    raw = simulate(model)
    c = model.cohorts.index("adults")
    employed = final(model, raw, lo.A_EMPLOYED, c)
    assert employed > 0
    assert final(model, raw, lo.A_EMPLOY_VALUE, c) == pytest.approx(400.0 * employed, rel=1e-12)


@pytest.mark.parametrize("edit, key, words", [
    (lambda d: d["services"]["falls_prevention"].update(
        utilisation_effects={"nope": 0.1}), "services.falls_prevention.utilisation_effects.nope",
     "unknown service"),
    (lambda d: d["services"]["falls_prevention"].update(
        utilisation_effects={"reablement": 0.1}),
     "services.falls_prevention.utilisation_effects.reablement", "preventive"),
    (lambda d: d["services"]["falls_prevention"].update(
        utilisation_effects={"residential_care": 0.1}),
     "services.falls_prevention.utilisation_effects.residential_care", "not used"),
    (lambda d: d["services"]["falls_prevention"].update(substitutes={"residential_care": 1.5}),
     "services.falls_prevention.substitutes.residential_care", None),
    (lambda d: d["cohorts"]["adults"]["states"]["stable"].update(transition_share=0.2),
     "cohorts.adults.states.stable.transition_share", "no transition"),
    (lambda d: d["cohorts"]["adults"]["states"]["stable"].update(transition_share=0.7,
                                                                 death_share=0.5),
     "cohorts.adults.states.stable.transition_share", "at most 1"),
    (lambda d: d["cohorts"]["adults"].update(transition={"cohort": "adults", "states": {}}),
     "cohorts.adults.transition.cohort", "another cohort"),
    (lambda d: d["cohorts"]["adults"].update(
        transition={"cohort": "older_people", "states": {"stable": "nowhere"}}),
     "cohorts.adults.transition.states.stable", "older_people"),
])
def test_mechanism_keys_are_validated(edit, key, words):
    d = make_rich_scenario_dict()
    edit(d)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(d)
    assert err.value.key == key
    if words:
        assert words in err.value.message
