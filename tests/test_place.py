"""tpsim.place: the initial-state solver, place profiles, place init and places compare."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tpsim
from tpsim.cli import main
from tpsim.config.scenario import load_scenario, scenario_from_dict
from tpsim.errors import ScenarioError, TpsimError
from tpsim.models.runner import run
from tpsim.place import api as place_api
from tpsim.place.build import build_place, localise
from tpsim.place.compare import compare_places, place_row
from tpsim.place.initial_state import derive_budgets, initial_state
from tpsim.place.profile import load_profile, load_profiles, profile_from_dict

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
POOLED = ROOT / "scenarios" / "pooled_prevention.yaml"
REFERENCE = ROOT / "scenarios" / "places" / "baseline.yaml"
TABLE = ROOT / "scenarios" / "places" / "places.csv"
EXAMPLE = ROOT / "scenarios" / "places" / "example_profile.yaml"


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(BASELINE)


@pytest.fixture(scope="module")
def reference():
    return load_profile(REFERENCE)


def _stationary(scenario, months=24):
    """Largest relative change of any need-state stock over ``months`` with no inflow growth
    (nor the time-keyed changes that set a growth path, e.g. the baseline's ONS path)."""
    data = scenario.as_dict()
    data["time"]["horizon"] = months
    for co in data["cohorts"].values():
        co["inflow_growth"] = 0.0
    data["changes"] = [ch for ch in data.get("changes", [])
                       if not all(k.endswith(".inflow_growth") for k in ch["set"])]
    results = run(scenario_from_dict(data, source=f"<{scenario.name} without growth>"))
    worst = 0.0
    for c, co in scenario.cohorts.items():
        for s in co["states"]:
            x = np.asarray(results.series[f"population.{c}.{s}"][0])
            p0 = float(co["states"][s]["initial"])
            worst = max(worst, float(np.max(np.abs(x - p0))) / max(p0, 1.0))
    return worst


# ---- the initial-state solver ------------------------------------------------------------


def test_solver_returns_the_shipped_baseline_initial_state(baseline):
    """The shipped baseline was balanced by a script; the library solver gives its values back
    (the YAML rounds escalation to 4 significant figures and inflows to 0.01-0.03)."""
    state = initial_state(baseline)
    for (c, s), esc in state.escalation.items():
        st = baseline.cohorts[c]["states"][s]
        assert esc == pytest.approx(st["escalation"], rel=5e-4, abs=1e-12), (c, s)
        assert state.inflow[(c, s)] == pytest.approx(st["inflow"], rel=5e-4, abs=1e-12), (c, s)
    # the month-0 multipliers scenarios/README.md reports
    # reablement acts by substitution (effect 0), so crisis escalation has no multiplier
    assert state.multiplier[("older_people", "crisis")] == pytest.approx(1.0, abs=1e-12)
    # drug treatment: 1 - 0.6 x credit (0.9 x 0.8) x coverage 1535/2800
    assert state.multiplier[("adults_complex", "dependent")] == pytest.approx(
        1 - 0.6 * 0.72 * 1535 / 2800, abs=1e-12)
    # budgets = month-0 spend x 1.05, as the shipped file states to the pound
    for a, ag in baseline.agencies.items():
        assert state.budgets[a] == pytest.approx(ag["budget"], abs=1.0)
    assert derive_budgets(baseline) == state.budgets
    stocks = initial_state(baseline, solve="stocks")
    for key, p in stocks.initial.items():
        assert p == pytest.approx(baseline.cohorts[key[0]]["states"][key[1]]["initial"], rel=2e-3)


def test_solved_place_flows_balance_at_month_0(baseline):
    """With the solved rates the kernel holds every stock still (no inflow growth): flows
    balance at month 0; the shipped rounding leaves a visible drift that solving removes."""
    solved = initial_state(baseline).apply()
    assert initial_state(solved).residual < 1e-9
    assert _stationary(solved) < 1e-9
    assert _stationary(baseline) > 1e-6


def test_stocks_mode_balances_and_scales_to_totals(baseline):
    state = initial_state(baseline, solve="stocks", totals={"children": 70000.0})
    assert sum(v for (c, _), v in state.initial.items() if c == "children") == pytest.approx(70000)
    assert state.residual < 1e-9
    # more children cost more: with budgets re-derived the place is still, without them the
    # siloed cut policy cuts early help
    assert _stationary(state.apply(budgets=True)) < 1e-9
    assert _stationary(state.apply(budgets=False)) > 1e-4


def test_solver_refuses_stocks_no_rate_can_hold(baseline):
    # more children arrive straight into care than leave it: no escalation rate can balance
    bad = baseline.replace(overrides={"cohorts.children.states.looked_after.inflow": 100.0})
    with pytest.raises(ScenarioError, match="no escalation rate balances month 0") as err:
        initial_state(bad)
    assert err.value.key == "cohorts.children.states.child_protection.escalation"
    with pytest.raises(ScenarioError, match="solve must be"):
        initial_state(baseline, solve="both")


# ---- profiles --------------------------------------------------------------------------


def test_profile_errors_name_the_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\ntier: parish\npopulation: {'0-17': 1, '18-64': 2, '65+': 3}\n")
    with pytest.raises(TpsimError) as err:
        load_profile(path)
    assert err.value.key == "tier" and err.value.line == 2
    path.write_text("name: x\ntier: unitary\npopulation: {'0-17': 1, '18-64': 2}\n")
    with pytest.raises(TpsimError, match="population.65\\+"):
        load_profile(path)
    table = tmp_path / "t.csv"
    table.write_text("name,tier,pop_0_17,pop_18_64,pop_65_plus,imd_decile\n"
                     "a,unitary,1,2,3,5\nb,unitary,1,2,3,eleven\n")
    with pytest.raises(TpsimError) as err:
        load_profiles(table)
    assert err.value.line == 3 and err.value.key == "imd_decile"


def test_profile_table_reads(reference):
    profiles = load_profiles(TABLE)
    assert len(profiles) == 9 and profiles[0].name == "baseline_place"
    met = next(p for p in profiles if p.name == "met_a")
    assert met.bands["q1"] == pytest.approx(0.48) and met.activity["children_looked_after"] == 620
    assert profiles[0].population == reference.population


# ---- place init ---------------------------------------------------------------------------


def test_place_init_on_the_baseline_profile_reproduces_the_baseline(baseline, reference):
    place = build_place(baseline, reference, reference)
    assert place.warnings == []
    a, b = run(baseline), run(place.scenario)
    for name in ("spend.total", "spend.kind.reactive", "spend.kind.preventive"):
        x, y = np.asarray(a.series[name][0]), np.asarray(b.series[name][0])
        assert np.max(np.abs(y / x - 1.0)) < 2e-3, name
    for c, co in baseline.cohorts.items():
        for s in co["states"]:
            assert place.scenario.cohorts[c]["states"][s]["initial"] == pytest.approx(
                co["states"][s]["initial"], rel=1e-12)
    shipped = tpsim.compare(POOLED, baseline)["pooled_prevention"].npv
    placed = tpsim.compare(localise(load_scenario(POOLED), place), place.scenario)
    assert placed["pooled_prevention"].npv == pytest.approx(shipped, rel=2e-3)


def test_place_init_from_scratch_validates_balances_and_keeps_reserves(tmp_path):
    out = tmp_path / "my_place.yaml"
    result = CliRunner().invoke(main, ["place", "init", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    sc = load_scenario(out)  # validates
    built = place_api.init_place(EXAMPLE)
    assert sc.data == built.scenario.data  # the file reads back to exactly what was built
    assert _stationary(sc) < 1e-9
    results = run(sc.replace(horizon=12))
    for a, ag in sc.agencies.items():
        if ag["type"] == "council":
            assert np.min(results.series[f"reserves.agency.{a}"][0]) >= 0.0, a
    text = out.read_text()
    assert "# profile: activity.children_looked_after 380 (the count)" in text
    assert "# profile: budgets.council_public_health GBP 6,600,000 a year / 12" in text
    assert "default (" in text and "solved: balances month 0" in text
    assert sc.cohorts["children"]["states"]["looked_after"]["initial"] == 380
    assert sc.cohorts["children"]["states"]["child_in_need"]["initial"] == 1650 - 230 - 380
    assert sc.agencies["council_public_health"]["budget"] == pytest.approx(6_600_000 / 12)


def test_deprivation_and_age_move_need(baseline, reference):
    base = dict(name="p", tier="unitary",
                population={"0-17": 62400, "18-64": 182400, "65+": 55200, "85+": 7200})
    poor = build_place(baseline, reference, profile_from_dict({**base, "deprivation": {"imd_decile": 1}}),
                       check_reserves=False).scenario
    rich = build_place(baseline, reference, profile_from_dict({**base, "deprivation": {"imd_decile": 10}}),
                       check_reserves=False).scenario
    older = build_place(baseline, reference, profile_from_dict(
        {**base, "population": {**base["population"], "85+": 14000}}), check_reserves=False).scenario

    def cla(sc):
        return sc.cohorts["children"]["states"]["looked_after"]["initial"]

    assert cla(poor) / cla(rich) == pytest.approx(10 ** 0.5)
    care = lambda sc: sc.cohorts["older_people"]["states"]["care_home"]["initial"]
    assert care(older) > care(baseline)
    for sc in (poor, rich, older):  # cohort totals are the profile's, whatever the mix
        assert sum(st["initial"] for st in sc.cohorts["children"]["states"].values()) == pytest.approx(62400)


def test_place_init_refuses_counts_beyond_the_cohort(baseline, reference):
    with pytest.raises(TpsimError, match="more than the cohort"):
        build_place(baseline, reference, profile_from_dict(
            {"name": "x", "tier": "unitary", "population": {"0-17": 1000, "18-64": 5000, "65+": 3000},
             "activity": {"children_looked_after": 2000}}))


# ---- places compare ------------------------------------------------------------------------


def test_a_place_row_equals_compare_on_that_place_alone(baseline, reference, tmp_path):
    profiles = load_profiles(TABLE)[:4]
    option = load_scenario(POOLED)
    result = compare_places(profiles, option, baseline, reference)
    assert result.kernel_calls == 1 and result.runs == 2 * len(profiles)
    runner = CliRunner()
    out = tmp_path / "places"
    cli = runner.invoke(main, ["places", "compare", str(TABLE), "--scenario", str(POOLED),
                               "--against", str(BASELINE), "--out", str(out),
                               "--write-scenarios"])
    assert cli.exit_code == 0, cli.output
    rows = list(csv.DictReader(io.StringIO((out / "places.csv").read_text())))
    for k, profile in enumerate(profiles):
        folder = out / "scenarios" / profile.name
        alone = tpsim.compare(folder / "pooled_prevention.yaml", folder / "baseline.yaml")
        option_alone = alone["pooled_prevention"]
        row = result.rows[k]
        assert row["npv"] == option_alone.npv
        assert row["npv_parliament"] == option_alone.npv_parliament
        assert row["payback_month"] == option_alone.payback_month
        for a, figures in option_alone.agencies.items():
            assert row[f"fiscal_npv_horizon.{a}"] == figures["fiscal_npv_horizon"]
        for key, value in option_alone.outcomes["total"].items():
            assert row[f"outcomes.{key}"] == value
        assert float(rows[k]["npv"]) == option_alone.npv  # places.csv holds full precision
    assert {p.name for p in out.iterdir()} >= {"places.csv", "places_ranked.png",
                                               "places_vs_deprivation.png",
                                               "places_vs_population.png"}


def test_places_compare_reports_section_114_months(baseline, reference):
    squeeze = load_scenario(ROOT / "scenarios" / "siloed_squeeze.yaml")
    result = compare_places(load_profiles(TABLE)[:2], squeeze, baseline, reference)
    row = result.rows[0]
    alone = run(localise(squeeze, build_place(baseline, reference, result.places[0].profile,
                                              check_reserves=False)))
    assert row["s114_month.council_asc"] == alone.s114_months()["council_asc"]


def test_places_uncertainty_runs_an_ensemble_per_place(baseline, reference):
    option = load_scenario(ROOT / "scenarios" / "pooled_prevention_uncertain.yaml")
    result = compare_places(load_profiles(TABLE)[:2], option, baseline, reference, uncertainty=64)
    for row in result.rows:
        assert row["npv_p5"] <= row["npv_p50"] <= row["npv_p95"]
        assert 0.0 <= row["probability_beats_counterfactual"] <= 1.0
    # the ensemble of one place is the ensemble command's on that place's scenarios
    place = build_place(baseline, reference, result.places[1].profile, check_reserves=False)
    alone = tpsim.ensemble(localise(option, place), place.scenario, runs=64, seed=0)
    assert result.rows[1]["npv_mean"] == pytest.approx(alone.npv(option.name), rel=1e-12)


def test_places_command_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,tier,pop_0_17,pop_18_64,pop_65_plus,colour\na,unitary,1,2,3,red\n")
    result = CliRunner().invoke(main, ["places", "compare", str(bad), "--scenario", str(POOLED),
                                       "--against", str(BASELINE), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown column 'colour'" in result.output
    assert not (tmp_path / "o").exists()
