"""Tests of tpsim.analysis.appraisal (pure arithmetic) and tpsim.analysis.comparison (batched comparison runs)."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from tpsim.models import runner
from tpsim.analysis.appraisal import (POOL_ROW, Accounts, AppraisalSettings, OutcomeValue, appraise,
                             attribution_matrix, benefit_cost_ratio, discount_factors,
                             monthly_flows, payback_month, savings_by_agency, uplift_costs)
from tpsim.analysis.comparison import (RunSpec, base_spec, check_comparable, merge_events, removal_spec,
                               run_comparison, simulate_specs)
from tpsim.errors import ScenarioError, TpsimError
from tpsim.models.structure import compile_scenario
from tpsim.config.scenario import scenario_from_dict


def two_agency_dict(name: str = "two_agency", places: float = 200.0) -> dict:
    """A hand-built place: the council (agency A) funds falls prevention and has no reactive
    service; the NHS (agency B) funds emergency admissions and has no preventive service.
    So only A can invest and only B can save. Round illustrative numbers, not evidence."""
    return {
        "name": name,
        "price_year": "2024-25",
        "time": {"start": "2026-04", "horizon": 36, "dt": 0.25, "method": "euler"},
        "agencies": {
            "council": {"type": "council", "budget": 30_000.0, "reserves": 100_000.0,
                        "overhead": 0.05},  # £/month, £, fraction
            "nhs": {"type": "nhs", "budget": 200_000.0, "overhead": 0.05},
        },
        "cohorts": {"older_people": {"inflow_growth": 0.01, "states": {
            "well": {"initial": 5000.0, "inflow": 20.0, "escalation": 0.004, "exit": 0.002,
                     "utility": 0.85},
            "frail": {"initial": 1000.0, "escalation": 0.03, "recovery": 0.01, "exit": 0.005,
                      "utility": 0.7},
            "acute": {"initial": 150.0, "recovery": 0.2, "exit": 0.05, "utility": 0.4},
        }}},
        "services": {
            "falls_prevention": {"agency": "council", "cohort": "older_people",
                                 "kind": "preventive", "unit_cost": 40.0, "states": ["frail"],
                                 "places": places, "effect": 0.3, "time_to_effect": 6.0},
            "admissions": {"agency": "nhs", "cohort": "older_people", "kind": "reactive",
                           "unit_cost": 2000.0, "utilisation": {"acute": 0.5},
                           "fixed_share": 0.4, "decommission_delay": 12.0},
        },
    }


def pooled_dict(name: str = "pooled") -> dict:
    """The two-agency place with a pool: both agencies contribute, set-up and double running."""
    d = two_agency_dict(name)
    d["pool"] = {"enabled": True, "start": 3, "contributions": {"council": 0.05, "nhs": 0.02},
                 "services": {"falls_prevention": 1.0}, "capture_share": 0.5,
                 "reinvestment_delay": 6, "setup_cost": 20_000.0, "setup_months": 6,
                 "double_running": {"cost": 1_000.0, "months": 6}, "overhead_reduction": 0.2,
                 "overhead_ramp": 12}
    return d


def _scenario(d: dict):
    return scenario_from_dict(d, source=f"<{d['name']}>")


def _flows(scenario_dict: dict, counterfactual_dict: dict):
    sc, cf = _scenario(scenario_dict), _scenario(counterfactual_dict)
    runs = run_comparison([sc], cf)
    accounts = Accounts.from_model(runs.models[0])
    flows = monthly_flows(runs.batch.series(runs.scenarios[0]),
                          runs.batch.series(runs.counterfactual), accounts)
    return runs, accounts, flows


# ---------------------------------------------------------------------------------------------
# Green Book arithmetic
# ---------------------------------------------------------------------------------------------


def test_discount_factors_equal_the_green_book_formula():
    n = 12 * 45  # beyond year 30, where the declining schedule starts
    df = discount_factors(n, 0.035)
    months = np.arange(1, n + 1)
    year = (months - 1) // 12
    expected = np.where(year <= 30, 1.0 / 1.035 ** year, 1.0 / 1.035 ** 30 / 1.03 ** (year - 30))
    np.testing.assert_allclose(df, expected, rtol=1e-13)
    assert df[:12].tolist() == [1.0] * 12  # year 0 undiscounted
    assert df[12] == pytest.approx(1 / 1.035)
    health = discount_factors(120, 0.015)
    np.testing.assert_allclose(health, 1.0 / 1.015 ** ((np.arange(120)) // 12), rtol=1e-13)


def test_optimism_bias_uplifts_extra_spend_only():
    costs = np.array([[100.0, -50.0, 0.0], [10.0, 10.0, 10.0]])
    up = uplift_costs(costs, 0.41, np.array([True, False]))
    np.testing.assert_allclose(up, [[141.0, -50.0, 0.0], [10.0, 10.0, 10.0]])


@pytest.mark.parametrize("stream, expected", [
    ([0.0, 0.0, 0.0], 0),             # nothing changes: never negative, pays back at once
    ([5.0, -1.0, 1.0], 0),            # never a net outlay
    ([-10.0, 4.0, 6.0, 1.0], 3),      # cumulative -10, -6, 0: month 3
    ([-10.0, 4.0, 5.0], None),        # still negative at the horizon
    ([-1.0, 2.0, -5.0, 10.0], 2),     # the first month it turns non-negative
])
def test_payback_month(stream, expected):
    assert payback_month(np.array(stream)) == expected


def test_bcr_is_null_without_extra_cost():
    assert benefit_cost_ratio(5.0, 0.0) is None
    assert benefit_cost_ratio(5.0, -3.0) is None
    assert benefit_cost_ratio(6.0, 4.0) == 1.5


def test_attribution_matrix_rows_plus_remainder_equal_total():
    agencies = ["a", "b", "c"]
    total = np.array([1.0, 10.0, 3.0])
    without = {"a": np.array([1.0, 4.0, 3.0]), "c": np.array([0.5, 9.0, 1.0])}
    m = attribution_matrix(agencies, total, without)
    for b in agencies:
        assert sum(m["matrix"][a][b] for a in m["investing_agencies"]) + m["remainder"][b] == \
            pytest.approx(m["total"][b])
    assert m["wrong_pocket_share"]["a"] == pytest.approx(1.0)  # all of a's gain lands on b
    assert m["wrong_pocket_share"]["c"] == pytest.approx(1.5 / 3.5)
    assert attribution_matrix(agencies, total, {"b": total})["wrong_pocket_share"]["b"] is None


# ---------------------------------------------------------------------------------------------
# Flows from real runs: accounting identities, self-comparison, wrong pocket
# ---------------------------------------------------------------------------------------------


def test_costs_and_savings_reconcile_with_spend():
    """Per agency savings - costs = -Δspend.agency; in total (agencies and the pool's balance
    row) = -Δspend.total; the pool row is the change in what the pool retains."""
    runs, accounts, flows = _flows(pooled_dict(), two_agency_dict())
    s, c = runs.batch.series(runs.scenarios[0]), runs.batch.series(runs.counterfactual)
    net = flows.cashable - flows.costs
    scale = np.abs(s["spend.total"]).max()
    for i, a in enumerate(accounts.agencies):
        np.testing.assert_allclose(net[i], -(s[f"spend.agency.{a}"] - c[f"spend.agency.{a}"]),
                                   rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(net.sum(axis=0), -(s["spend.total"] - c["spend.total"]),
                               rtol=0, atol=1e-9 * scale)
    retained = np.diff(s["pool.balance"], prepend=0.0)
    assert np.abs(retained).max() > 0  # the pool really holds money at times
    np.testing.assert_allclose(flows.costs[len(accounts.agencies)], -retained, atol=1e-9 * scale)
    ap = appraise(flows, AppraisalSettings(optimism_bias=0.0))
    assert max(ap.reconciliation.values()) < 1e-8 * scale
    # with no optimism bias the fiscal NPV is the discounted fall in total public spend
    df = discount_factors(flows.n_months, 0.035)
    assert ap.total["npv_horizon"] == pytest.approx(
        -np.sum(df * (s["spend.total"] - c["spend.total"])), rel=1e-9, abs=1e-6)
    # every additive figure of the total is the sum of the agency and pool rows
    for key in ("costs_horizon", "pv_uplifted_costs_parliament", "npv_horizon", "economic_npv_parliament"):
        assert ap.total[key] == pytest.approx(sum(ap.rows[r][key] for r in (*accounts.agencies, POOL_ROW)))


def test_scenario_compared_with_itself_gives_zeros():
    runs, accounts, flows = _flows(pooled_dict(), pooled_dict())
    for arr in (flows.costs, flows.cashable, flows.non_cashable, *flows.outcomes.values()):
        assert np.all(arr == 0.0)
    ap = appraise(flows, AppraisalSettings(value_qalys=True))
    for row in ap.rows.values():
        for key, value in row.items():
            if key in ("bcr", "economic_bcr", "social_bcr"):
                assert value is None
            elif key == "payback_month":
                assert value in (0, None)
            elif key != "pays_back_in_parliament":
                assert value == 0.0, key
    assert all(v == 0.0 for v in ap.outcomes["total"].values())
    assert runs.removals == [{}]  # nothing to attribute


def test_wrong_pocket_share_is_one_when_only_a_invests_and_only_b_saves():
    runs, accounts, flows = _flows(two_agency_dict("more_prevention", places=600.0),
                                   two_agency_dict())
    council, nhs = accounts.agencies.index("council"), accounts.agencies.index("nhs")
    assert np.all(flows.cashable[council] == 0.0) and np.all(flows.non_cashable[council] == 0.0)
    assert np.all(flows.costs[nhs] == 0.0)
    assert flows.costs[council].sum() > 0 and flows.cashable[nhs].sum() > 0
    settings = AppraisalSettings()
    total = savings_by_agency(flows, settings)
    assert list(runs.removals[0]) == ["council"]
    without = {a: savings_by_agency(monthly_flows(runs.batch.series(i),
                                                  runs.batch.series(runs.counterfactual), accounts),
                                    settings) for a, i in runs.removals[0].items()}
    m = attribution_matrix(accounts.agencies, total, without)
    assert m["wrong_pocket_share"]["council"] == 1.0
    # removing the council's extra places is the counterfactual itself: nothing left over
    assert m["remainder"]["nhs"] == pytest.approx(0.0, abs=1e-6)
    assert m["matrix"]["council"]["nhs"] == pytest.approx(m["total"]["nhs"])


def test_non_cashable_savings_are_avoided_value_not_yet_decommissioned():
    runs, accounts, flows = _flows(two_agency_dict("more_prevention", places=600.0),
                                   two_agency_dict())
    s, c = runs.batch.series(runs.scenarios[0]), runs.batch.series(runs.counterfactual)
    nhs = accounts.agencies.index("nhs")
    avoided_value = -(s["value.service.admissions"] - c["value.service.admissions"])
    avoided_cash = -(s["spend.service.admissions"] - c["spend.service.admissions"])
    np.testing.assert_allclose(flows.non_cashable[nhs], avoided_value - avoided_cash, atol=1e-6)
    assert flows.non_cashable[nhs].sum() > 0  # fixed costs lag falling demand


def test_qalys_valued_in_the_npsv_only():
    _, _, flows = _flows(two_agency_dict("more_prevention", places=600.0), two_agency_dict())
    plain = appraise(flows, AppraisalSettings(value_qalys=False))
    valued = appraise(flows, AppraisalSettings(value_qalys=True, qaly_value=70_000.0))
    gained = valued.outcomes["total"]["pv_qalys_gained_horizon"]
    assert gained > 0
    assert valued.total["npsv_horizon"] - plain.total["npsv_horizon"] == \
        pytest.approx(70_000.0 * gained)
    assert plain.total["npv_horizon"] == valued.total["npv_horizon"]  # the fiscal case is unchanged
    assert plain.total["economic_npv_horizon"] == valued.total["economic_npv_horizon"]


# ---------------------------------------------------------------------------------------------
# Batching and removal runs
# ---------------------------------------------------------------------------------------------


def test_stacked_runs_with_different_changes_match_single_runs():
    a = two_agency_dict("a")
    a["changes"] = [{"month": 6, "set": {"services.falls_prevention.places": 400.0}},
                    {"month": 12, "set": {"services.falls_prevention.places": 500.0}}]
    b = two_agency_dict("b")
    b["changes"] = [{"month": 6, "set": {"services.falls_prevention.effect": 0.1}},
                    {"month": 12.5, "set": {"services.falls_prevention.places": 50.0}}]
    scenarios = [_scenario(a), _scenario(b), _scenario(two_agency_dict("c"))]
    specs = [base_spec(compile_scenario(s)) for s in scenarios]
    batch = simulate_specs(specs)
    assert batch.kernel_calls == 1
    for i, sc in enumerate(scenarios):
        alone = runner.run(sc)
        stacked = batch.series(i)
        for name in ("spend.total", "prevention_funding.falls_prevention", "qalys.older_people"):
            np.testing.assert_allclose(stacked[name], alone[name][0], rtol=1e-12, atol=1e-9)


def test_merge_events_keeps_each_runs_parameter_path():
    model = compile_scenario(_scenario(two_agency_dict()))
    col = model.param_index["services.falls_prevention.places"]
    one = RunSpec("one", model, model.theta0.copy(), [(6.0, col, 1.0), (6.0, col, 2.0)])
    two = RunSpec("two", model, model.theta0.copy(), [(3.0, col, 7.0)])
    months, columns, values = merge_events([one, two])
    assert months.tolist() == [3.0, 6.0, 6.0] and columns.tolist() == [col] * 3
    assert values.tolist() == [[200.0, 1.0, 2.0], [7.0, 7.0, 7.0]]


def test_removal_run_follows_the_counterfactual():
    pooled = compile_scenario(_scenario(pooled_dict()))
    plain = compile_scenario(_scenario(two_agency_dict()))
    spec = removal_spec(pooled, plain, "nhs")  # NHS invests only through its contribution
    assert spec.theta[pooled.param_index["pool.contributions.nhs"]] == 0.0  # no pool in the counterfactual
    changed = np.flatnonzero(spec.theta != pooled.theta0)
    assert [pooled.param_names[i] for i in changed] == ["pool.contributions.nhs"]
    assert removal_spec(plain, plain, "council") is None


def test_incomparable_scenarios_are_refused_with_file_and_key():
    other = two_agency_dict("other")
    other["agencies"]["police"] = {"type": "police", "budget": 1000.0}
    with pytest.raises(TpsimError) as err:
        check_comparable(_scenario(other), _scenario(two_agency_dict()))
    assert err.value.key == "agencies.police" and err.value.file == "<other>"
    longer = copy.deepcopy(two_agency_dict("longer"))
    longer["time"]["horizon"] = 48
    with pytest.raises(TpsimError, match="common horizon") as err:
        check_comparable(_scenario(longer), _scenario(two_agency_dict()))
    assert err.value.key == "time.horizon"  # the command adds "(use --horizon)" from the key
    moved = two_agency_dict("moved")
    moved["services"]["admissions"]["agency"] = "council"
    with pytest.raises(TpsimError) as err:
        check_comparable(_scenario(moved), _scenario(two_agency_dict()))
    assert err.value.key == "services.admissions.agency"


# ---------------------------------------------------------------------------------------------
# The three cases by hand: a transfer, a QALY gain, an uplifted set-up cost, recycled savings
# ---------------------------------------------------------------------------------------------


def _hand_series(capture: float = 10.0) -> tuple[dict, dict, Accounts]:
    """24 months, two agencies and a pool, every flow by hand (£ a month; illustrative).

    Counterfactual: the council spends 100 a month on its own preventive places, cut to 80 from
    month 13; DWP pays benefits of 1000 a month (a transfer) plus 5% overhead. Scenario: the
    council keeps its places at 100 (protected existing places), pays 50 a month into a pool
    and, from month 13, ``capture`` a month of recycled savings; the pool spends a set-up cost
    of 30 in month 1 plus everything it receives, so its balance is -30 from month 1; DWP pays
    10 a month more benefits (people live longer); 0.01 QALYs a month are gained."""
    n = 24
    m = np.arange(1, n + 1)
    late = m > 12
    zero = np.zeros(n)

    def run(scenario: bool) -> dict:
        prev = np.full(n, 100.0) if scenario else np.where(late, 80.0, 100.0)
        contribution = np.full(n, 50.0) if scenario else zero
        cap = np.where(late, capture, 0.0) if scenario else zero
        benefits = np.full(n, 1010.0 if scenario else 1000.0)
        setup = np.where(m == 1, 30.0, 0.0) if scenario else zero
        pool_spend = contribution + cap + setup
        return {
            "spend.agency.council": prev + contribution + cap, "overhead.agency.council": zero,
            "contribution.agency.council": contribution, "capture.agency.council": cap,
            "spend.agency.dwp": benefits * 1.05, "overhead.agency.dwp": benefits * 0.05,
            "contribution.agency.dwp": zero, "capture.agency.dwp": zero,
            "spend.service.benefits": benefits, "value.service.benefits": benefits,
            "pool.balance": np.cumsum(contribution + cap - pool_spend),
            "pool.spend": pool_spend, "pool.reinvested": cap,
            "spend.total": prev + benefits * 1.05 + pool_spend, "spend.transition": setup,
            "escalations.people": zero, "crisis_person_months.people": zero,
            "exits.people": zero, "qalys.people": np.full(n, 0.01 if scenario else 0.0),
        }

    accounts = Accounts(("council", "dwp"), {"council": (), "dwp": ("benefits",)}, ("people",),
                        {"council": ("falls",), "dwp": ()}, {"council": (), "dwp": ("benefits",)})
    return run(True), run(False), accounts


HAND_SETTINGS = AppraisalSettings(discount_rate=0.035, health_discount_rate=0.015,
                                  optimism_bias=0.41, qaly_value=70_000.0, qaly_uprating=1.1,
                                  value_qalys=True)


def test_three_cases_by_hand():
    s, c, accounts = _hand_series()
    flows = monthly_flows(s, c, accounts, {"council": np.zeros(24), "dwp": np.zeros(24)})
    ap = appraise(flows, HAND_SETTINGS)
    d1 = 1 / 1.035  # year 1 (months 13-24); year 0 is undiscounted
    # council: costs 50 (months 1-12), 50 + 10 recycled + 20 protected (13-24); no uplift
    council = -(12 * 50) - 12 * 80 * d1
    # DWP: 10 more benefits (a transfer) and 0.5 more overhead a month; no costs
    dwp = -(12 * 10.5) - 12 * 10.5 * d1
    # pool: bears the set-up cost (30, month 1); optimism bias on its programme spending net of
    # the recycled savings: 80 in month 1, 50 a month after (never on the 10 recycled)
    pool = -30 - 0.41 * (80 + 11 * 50) - 0.41 * 12 * 50 * d1
    fiscal = council + dwp + pool
    economic = fiscal + 12 * 10 + 12 * 10 * d1          # the transfer is out of the economic case
    npsv = economic + 0.01 * 70_000 * 1.1 * (12 + 12 / 1.015)  # QALYs at the health rate
    rows = ap.rows
    assert rows["council"]["fiscal_npv_horizon"] == pytest.approx(council, rel=1e-12)
    assert rows["dwp"]["fiscal_npv_horizon"] == pytest.approx(dwp, rel=1e-12)
    assert rows["pool"]["fiscal_npv_horizon"] == pytest.approx(pool, rel=1e-12)
    assert ap.total["fiscal_npv_horizon"] == pytest.approx(fiscal, rel=1e-12)
    assert ap.total["npv_horizon"] == ap.total["fiscal_npv_horizon"]
    assert ap.total["economic_npv_horizon"] == pytest.approx(economic, rel=1e-12)
    assert ap.total["npsv_horizon"] == pytest.approx(npsv, rel=1e-12)
    assert rows["dwp"]["economic_npv_horizon"] == pytest.approx(-0.5 * 12 * (1 + d1), rel=1e-12)
    assert rows["dwp"]["pv_transfer_savings_horizon"] == pytest.approx(-10 * 12 * (1 + d1))
    head = ap.headline()
    assert head["headline"] == "npsv" and head["npsv"] == ap.total["npsv_horizon"]
    assert head["fiscal_npv_by_agency"]["dwp"] == rows["dwp"]["fiscal_npv_horizon"]
    # optimism bias: none on the council's recycled savings or protected places
    assert rows["council"]["pv_optimism_bias_horizon"] == 0.0
    assert ap.total["pv_optimism_bias_horizon"] == pytest.approx(0.41 * (630 + 600 * d1))


def test_optimism_bias_is_not_applied_to_recycled_savings():
    """Recycling more captured savings (paid in and spent by the pool) changes no uplift."""
    results = []
    for capture in (10.0, 40.0):
        s, c, accounts = _hand_series(capture)
        results.append(appraise(monthly_flows(s, c, accounts), HAND_SETTINGS).total)
    assert results[1]["pv_optimism_bias_horizon"] == results[0]["pv_optimism_bias_horizon"]
    # the extra recycled 30 a month is a cost to the council and spent by the pool: the
    # council's extra payment is exactly its extra cost, with no uplift on top
    assert results[0]["pv_uplifted_costs_horizon"] - results[1]["pv_uplifted_costs_horizon"] \
        == pytest.approx(-30 * 12 / 1.035)


def test_optimism_bias_on_new_places_only():
    """An agency's extra own preventive spend is uplifted up to its new-place share."""
    s, c, accounts = _hand_series()
    share = np.full(24, 0.1)  # 10% of its 100 a month is on places above the counterfactual's
    flows = monthly_flows(s, c, accounts, {"council": share, "dwp": np.zeros(24)})
    np.testing.assert_allclose(flows.uplift_base[0], np.where(np.arange(24) >= 12, 10.0, 0.0))
    ap = appraise(flows, HAND_SETTINGS)
    assert ap.rows["council"]["pv_optimism_bias_horizon"] == pytest.approx(0.41 * 10 * 12 / 1.035)


def test_benefit_delay_and_haircut():
    s, c, accounts = _hand_series()
    flows = monthly_flows(s, c, accounts)
    plain = appraise(flows, HAND_SETTINGS)
    cut = appraise(flows, dataclasses.replace(HAND_SETTINGS, benefit_haircut=0.5))
    assert cut.total["pv_qaly_value_horizon"] == pytest.approx(0.5 * plain.total["pv_qaly_value_horizon"])
    assert cut.total["pv_uplifted_costs_horizon"] == plain.total["pv_uplifted_costs_horizon"]
    late = appraise(flows, dataclasses.replace(HAND_SETTINGS, benefit_delay_months=12))
    # the first year's QALYs move to year 1 (discounted once); the second year's fall off
    assert late.total["pv_qaly_value_horizon"] == pytest.approx(770 * 12 / 1.015)


def test_declared_outcome_values_enter_the_npsv_only():
    s, c, accounts = _hand_series()
    s["crisis_person_months.people"] = np.full(24, -2.0)  # 2 crisis person-months avoided a month
    value = OutcomeValue("crisis_person_months.people", 500.0, "avoided", "standard", "test")
    settings = dataclasses.replace(HAND_SETTINGS, outcome_values=(value,))
    flows = monthly_flows(s, c, accounts, valued_series=[value.series])
    plain, valued = appraise(flows, HAND_SETTINGS), appraise(flows, settings)
    pv = 2 * 500 * 12 * (1 + 1 / 1.035)
    assert valued.total["pv_outcome_value_horizon"] == pytest.approx(pv)
    assert valued.total["npsv_horizon"] - plain.total["npsv_horizon"] == pytest.approx(pv)
    assert valued.total["economic_npv_horizon"] == plain.total["economic_npv_horizon"]
    assert valued.outcomes["valued"]["crisis_person_months.people"]["pv_value_horizon"] == pytest.approx(pv)


def test_scenario_appraisal_keys_are_validated():
    d = two_agency_dict()
    d["appraisal"] = {"optimism_bias_category": "outsourcing"}
    assert _scenario(d).data["appraisal"]["optimism_bias"] == 0.41
    d["appraisal"] = {"optimism_bias_category": "outsourcing", "optimism_bias": 0.2}
    with pytest.raises(ScenarioError, match="optimism_bias_reason"):
        _scenario(d)
    d["appraisal"]["optimism_bias_reason"] = "local cost evidence from the pilot"
    assert _scenario(d).data["appraisal"]["optimism_bias"] == 0.2
    d["appraisal"] = {"optimism_bias_category": "outsourcing", "optimism_bias": 0.5}
    with pytest.raises(ScenarioError, match="upper bound"):
        _scenario(d)
    d["appraisal"] = {"qaly_price_year": "2020-21"}
    with pytest.raises(ScenarioError, match="qaly_uprating"):
        _scenario(d)
    d["appraisal"] = {"outcome_values": {"crisis_person_months.older_people": {"value": 10.0}}}
    with pytest.raises(ScenarioError, match="source"):
        _scenario(d)
    d["appraisal"] = {}
    d["services"]["falls_prevention"]["transfer"] = True
    with pytest.raises(ScenarioError, match="transfer"):
        _scenario(d)
    d["services"]["falls_prevention"].pop("transfer")
    d["services"]["admissions"]["transfer"] = True
    sc = _scenario(d)
    assert sc.data["services"]["admissions"]["transfer"] is True
    assert "services.admissions.transfer" not in sc.parameter_paths()
