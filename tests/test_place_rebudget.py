"""Budgets re-derived after a calibration (tpsim.place.build.rebudget, tpsim calibrate
--rebudget): consistent with the calibrated month 0, reserves non-negative over year 1, the
local budgets kept on request."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tpsim.cli import main
from tpsim.config.scenario import load_scenario
from tpsim.models.runner import run
from tpsim.place.api import init_place
from tpsim.place.build import first_year_reserves, rebudget
from tpsim.place.initial_state import derive_budgets, month0_spend

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "places" / "example_profile.yaml"

#: What a fit to local data might find: dearer care homes and faster escalation into crisis,
#: so month-0 spend rises above the place's derived budgets.
FITTED = {"services.care_home_placements.unit_cost": 7000.0,
          "cohorts.older_people.states.at_risk.escalation": 0.05,
          "services.emergency_admissions_older.utilisation.crisis": 0.22}


@pytest.fixture(scope="module")
def place():
    return init_place(EXAMPLE, keep_budgets=False)


@pytest.fixture(scope="module")
def calibrated(place):
    return place.scenario.replace(overrides=FITTED)


def test_a_calibrated_place_on_its_old_budgets_runs_out_of_reserves(calibrated):
    warnings = first_year_reserves(calibrated, months=36)
    assert any(w.startswith("council_asc: reserves below zero") for w in warnings)


def test_rebudget_is_consistent_with_the_calibrated_month_0(place, calibrated):
    out = rebudget(calibrated, original=place.scenario)
    sc = out.scenario
    spend, _ = month0_spend(sc)
    for a, ag in sc.agencies.items():
        # pressure is 1 at month 0: budget = month-0 spend x (1 + overhead)
        assert ag["budget"] == pytest.approx(spend[a] * (1.0 + ag["overhead"]), rel=1e-12)
        old = calibrated.agencies[a]
        if old["reserves"]:
            assert ag["reserves"] / ag["budget"] == pytest.approx(
                old["reserves"] / old["budget"], rel=1e-12)
    assert derive_budgets(sc) == pytest.approx({a: sc.agencies[a]["budget"] for a in sc.agencies})
    # every council's reserves stay at or above zero over the first year
    assert first_year_reserves(sc) == []
    assert first_year_reserves(sc, months=36) == []
    results = run(sc.replace(horizon=12))
    for a, ag in sc.agencies.items():
        if ag["type"] == "council":
            assert min(results.series[f"reserves.agency.{a}"][0]) >= 0.0, a
    # the kernel agrees, independently of month0_spend: its first month's budget pressure is 1
    # within 1% on the re-derived budgets, where the old budgets put adult social care 22% over
    before = run(calibrated.replace(horizon=12))
    for a in sc.agencies:
        assert results.series[f"pressure.agency.{a}"][0][0] == pytest.approx(1.0, abs=0.01), a
    assert before.series["pressure.agency.council_asc"][0][0] > 1.1
    # care homes cost more, so adult social care's budget rises; a note says what was done
    assert sc.agencies["council_asc"]["budget"] > calibrated.agencies["council_asc"]["budget"]
    assert "re-derived after the fit" in out.notes["agencies.council_asc.budget"]


def test_rebudget_keeps_the_local_budgets_asked_for(place, calibrated):
    out = rebudget(calibrated, original=place.scenario, keep=("council_asc",))
    assert not any(p.startswith("agencies.council_asc.") for p in out.overrides)
    assert out.scenario.agencies["council_asc"]["budget"] == \
        calibrated.agencies["council_asc"]["budget"]
    assert "agencies.nhs_acute.budget" in out.overrides


def test_calibrate_rebudget_writes_the_budgets(tmp_path):
    from test_calibration import cli_setup

    config, out = cli_setup(tmp_path)
    result = CliRunner().invoke(main, ["calibrate", str(config), "--out", str(out), "--quiet",
                                       "--rebudget"])
    assert result.exit_code == 0, result.output
    raw = yaml.safe_load((out / "calibrated.yaml").read_text(encoding="utf-8"))
    assert "agencies" in raw
    calibrated = load_scenario(out / "calibrated.yaml")
    budgets = derive_budgets(calibrated)
    for a, ag in calibrated.agencies.items():
        assert ag["budget"] == pytest.approx(budgets[a], rel=1e-12)
    assert "re-derived from the calibrated month 0" in (out / "calibrated.yaml").read_text()
