"""Tests for tpsim.analysis.calibration and ``tpsim calibrate``.

Known parameters are recovered from synthetic data made with the tiny test scenario: to tight
tolerance from noise-free data, and inside the reported 95% intervals from noisy data. The
command writes a calibrated scenario that loads, runs and reproduces the fitted trajectory.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from conftest import make_tiny_scenario_dict
from tpsim.analysis import calibration as cal
from tpsim.cli import main
from tpsim.config.calibration import ConfigError, FitSettings, config_from_dict, load_config
from tpsim.config.localdata import month_label, read_local_data
from tpsim.models.structure import compile_scenario
from tpsim.models.runner import run
from tpsim.config.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]

TRUTH = {
    "cohorts.older_people.states.at_risk.escalation": 0.026,      # tiny scenario: 0.02
    "services.residential_care.utilisation.high_need": 0.34,      # tiny scenario: 0.3
    "cohorts.older_people.states.independent.escalation": 0.005,  # tiny scenario: 0.004
}
SERIES = ["activity.residential_care", "population.older_people.at_risk",
          "spend.agency.council_asc"]
MONTHS = 24
FAST = FitSettings(starts=2, candidates=16)


# -- helpers ----------------------------------------------------------------------------------


def write_scenario(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tiny.yaml"
    path.write_text(yaml.safe_dump(make_tiny_scenario_dict(), sort_keys=False), encoding="utf-8")
    return path


def write_synthetic_data(path: Path, scenario_path: Path, truth: dict, noise: float, seed: int,
                         series=SERIES, months: int = MONTHS) -> Path:
    """Simulate the scenario with ``truth``, multiply by (1 + noise x N(0, 1)), write the CSV."""
    scenario = load_scenario(scenario_path)
    results = run(scenario, overrides=truth)
    rng = np.random.default_rng(seed)
    lines = ["# SYNTHETIC test data", "month,series,value"]
    for name in series:
        for m in range(1, months + 1):
            value = float(results[name][0, m - 1]) * (1.0 + noise * rng.standard_normal())
            lines.append(f"{month_label('2026-04', m)},{name},{value!r}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config_dict(truth=TRUTH, **extra) -> dict:
    return {"scenario": "tiny.yaml", "data": "data.csv",
            "parameters": {k: {"lower": 0.5 * v, "upper": 1.6 * v} for k, v in truth.items()},
            **extra}


def make_problem(directory: Path, noise: float = 0.0, seed: int = 1, raw: dict | None = None):
    scenario_path = write_scenario(directory)
    write_synthetic_data(directory / "data.csv", scenario_path, TRUTH, noise, seed)
    cfg = config_from_dict(raw or config_dict(), file="fit.yaml", base_dir=directory)
    scenario = load_scenario(cfg.scenario_path)
    model = compile_scenario(scenario)
    parameters = cal.resolve_parameters(cfg, scenario, model)
    data = read_local_data(cfg.data_path, "2026-04", 24, cal.series_names(model))
    targets, unused = cal.build_targets(cfg, data)
    return cfg, scenario, cal.CalibrationProblem(model, parameters, targets), unused


def truth_vector(problem) -> np.ndarray:
    return np.array([TRUTH[name] for name in problem.names])


# -- recovery of known parameters ---------------------------------------------------------------


def test_recovers_known_parameters_from_noise_free_data(tmp_path):
    _, _, problem, _ = make_problem(tmp_path, noise=0.0)
    result = cal.fit(problem, FAST)
    np.testing.assert_allclose(result.best.x, truth_vector(problem), rtol=1e-6)
    assert result.best.cost < 1e-12
    for name in problem.names:
        assert result.estimates[name] == pytest.approx(TRUTH[name], rel=1e-6)
    for target in problem.targets:
        assert result.series[target.name]["fitted"]["mape_percent"] < 1e-4
    # one kernel call per batch: screening, residuals and Jacobians, and the final runs
    assert result.kernel_calls < result.runs


def test_noisy_data_recovered_within_the_reported_intervals(tmp_path):
    _, _, problem, _ = make_problem(tmp_path, noise=0.02, seed=3)
    result = cal.fit(problem, FAST)
    st = result.statistics
    truth = truth_vector(problem)
    lo, hi = st["interval"][:, 0], st["interval"][:, 1]
    assert np.all((lo <= truth) & (truth <= hi)), (lo, truth, hi)
    assert np.all(st["standard_error"] > 0) and np.all(np.isfinite(st["standard_error"]))
    # the interval is estimate +- t(0.975, n - p) x se
    assert st["dof"] == 3 * MONTHS - 3
    t = stats.t.ppf(0.975, st["dof"])
    np.testing.assert_allclose(hi - lo, 2 * t * st["standard_error"])
    # with 2% noise, the residual variance is about 0.02^2 on relative errors
    assert 0.5 * 0.02 ** 2 < st["residual_variance"] < 2.0 * 0.02 ** 2


def test_interval_coverage_over_noise_replicates(tmp_path):
    """Across independent noise draws, the 95% intervals cover the truth most of the time."""
    covered = np.zeros(3)
    replicates = 10
    for seed in range(replicates):
        _, _, problem, _ = make_problem(tmp_path / str(seed), noise=0.03, seed=100 + seed)
        st = cal.fit(problem, FitSettings(starts=1, candidates=1)).statistics
        truth = truth_vector(problem)
        covered += (st["interval"][:, 0] <= truth) & (truth <= st["interval"][:, 1])
    # P(Binomial(10, 0.95) <= 7) is about 1%
    assert np.all(covered >= 8), covered


def test_starts_and_progress_events(tmp_path):
    _, _, problem, _ = make_problem(tmp_path, noise=0.0)
    events = []
    result = cal.fit(problem, FitSettings(starts=3, candidates=8, seed=5), events.append)
    assert [s.origin for s in result.starts] == ["initial", "sobol", "sobol"]
    assert result.best is min(result.starts, key=lambda s: s.cost)
    assert events[0].stage == "screen"
    assert [e.start for e in events if e.stage == "start_done"] == [1, 2, 3]
    assert events[-1].stage == "jacobian" and events[-1].runs <= result.runs
    assert result.candidates == 8


# -- statistics ---------------------------------------------------------------------------------


def test_parameter_statistics_match_ordinary_least_squares():
    """For a linear model the Jacobian-based covariance is the textbook OLS one."""
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 10.0, 30)
    y = 2.0 + 0.5 * x + rng.normal(0.0, 0.3, x.size)
    design = np.column_stack([np.ones_like(x), x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = design @ beta - y
    lower, upper = np.array([0.0, 0.0]), np.array([4.0, 2.0])
    width = upper - lower
    st = cal.parameter_statistics(design * width, residuals, ["a", "b"], beta, width, lower,
                                  upper)
    s2 = residuals @ residuals / (x.size - 2)
    cov = s2 * np.linalg.inv(design.T @ design)
    np.testing.assert_allclose(st["covariance"], cov, rtol=1e-9)
    np.testing.assert_allclose(st["standard_error"], np.sqrt(np.diag(cov)), rtol=1e-9)
    t = stats.t.ppf(0.975, x.size - 2)
    np.testing.assert_allclose(st["interval"][:, 0], beta - t * np.sqrt(np.diag(cov)))
    r = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])
    assert st["correlation"][0, 1] == pytest.approx(r)
    absolute = cal.parameter_statistics(design * width, residuals, ["a", "b"], beta, width,
                                        lower, upper, scaled=False)
    np.testing.assert_allclose(absolute["covariance"], np.linalg.inv(design.T @ design))


def test_non_identifiable_and_correlated_parameters_are_flagged(tmp_path):
    # council reserves do not affect activity, population or spend: no information
    raw = config_dict()
    raw["parameters"]["agencies.council_asc.reserves"] = {"lower": 0.0, "upper": 1e6}
    _, _, problem, _ = make_problem(tmp_path, raw=raw)
    result = cal.fit(problem, FitSettings(starts=1, candidates=4))
    st = result.statistics
    j = problem.names.index("agencies.council_asc.reserves")
    assert not st["identifiable"][j] and math.isinf(st["standard_error"][j])
    assert any("agencies.council_asc.reserves: not identifiable" in w for w in st["warnings"])
    others = [k for k in range(4) if k != j]
    assert np.all(st["identifiable"][others])
    np.testing.assert_allclose(result.best.x[others],
                               [TRUTH[problem.names[k]] for k in others], rtol=1e-5)
    # the at-risk escalation rate and the residential-care utilisation trade off (r ~ -0.96)
    pair = {"cohorts.older_people.states.at_risk.escalation",
            "services.residential_care.utilisation.high_need"}
    assert any(set(p["parameters"]) == pair and p["correlation"] < -0.9
               for p in st["correlated_pairs"])


# -- resolving the config against the scenario ---------------------------------------------------


@pytest.mark.parametrize("path,bounds,key,fragment", [
    ("services.falls_prevention.efect", {"lower": 0, "upper": 0.5},
     "parameters.services.falls_prevention.efect", "did you mean 'services.falls_prevention.effect'"),
    ("loops.doom_loop", {"lower": 0, "upper": 1}, "parameters.loops.doom_loop",
     "a switch (0 or 1) cannot be fitted"),
    ("services.falls_prevention.effect", {"lower": 0.1, "upper": 1.5},
     "parameters.services.falls_prevention.effect.upper", "must be in [0, 1]"),
    ("cohorts.older_people.states.at_risk.escalation", {"lower": 0.01, "upper": 5.0},
     "parameters.cohorts.older_people.states.at_risk.escalation.upper", "time.dt"),
    ("services.residential_care.capacity", {"lower": 10, "upper": 100},
     "parameters.services.residential_care.capacity", "not a parameter of scenario tiny"),
])
def test_bad_parameters_are_config_errors(tmp_path, path, bounds, key, fragment):
    scenario = load_scenario(write_scenario(tmp_path))
    (tmp_path / "data.csv").write_text("month,series,value\n", encoding="utf-8")
    cfg = config_from_dict({"scenario": "tiny.yaml", "data": "data.csv",
                            "parameters": {path: bounds}}, file="fit.yaml", base_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        cal.resolve_parameters(cfg, scenario, compile_scenario(scenario))
    assert info.value.key == key and fragment in info.value.message


def test_initial_values_default_to_the_scenario_clipped_into_the_bounds(tmp_path):
    scenario = load_scenario(write_scenario(tmp_path))
    (tmp_path / "data.csv").write_text("month,series,value\n", encoding="utf-8")
    cfg = config_from_dict({"scenario": "tiny.yaml", "data": "data.csv", "parameters": {
        "services.falls_prevention.effect": {"lower": 0.3, "upper": 0.6},
        "services.residential_care.unit_cost": {"lower": 1000, "upper": 5000},
        "services.falls_prevention.places": {"lower": 0, "upper": 900, "initial": 450}}},
        base_dir=tmp_path)
    params = cal.resolve_parameters(cfg, scenario, compile_scenario(scenario))
    assert [p.initial for p in params] == [0.3, 3000.0, 450.0]
    assert [p.scenario_value for p in params] == [0.2, 3000.0, 300.0]


def test_targets_weights_scales_and_unused_series(tmp_path):
    raw = config_dict(series={"activity.residential_care": 4,
                              "spend.agency.council_asc": {"scale": 1000.0}})
    cfg, _, problem, unused = make_problem(tmp_path, raw=raw)
    assert unused == ["population.older_people.at_risk"]
    first, second = problem.targets
    np.testing.assert_allclose(first.factor, 2.0 / np.mean(first.observed))
    np.testing.assert_allclose(second.factor, 1.0 / 1000.0)
    data = read_local_data(cfg.data_path, "2026-04", 24, SERIES)
    cfg_missing = config_from_dict(config_dict(series=["activity.home_care"]), file="fit.yaml",
                                   base_dir=tmp_path)
    with pytest.raises(ConfigError, match="no rows for series activity.home_care"):
        cal.build_targets(cfg_missing, data)


# -- the calibrated scenario text -------------------------------------------------------------


def test_calibrated_yaml_nests_paths_and_keeps_full_precision():
    values = {"cohorts.older_people.states.at_risk.escalation": 0.1 + 0.2,
              "cohorts.older_people.states.crisis.recovery": 1 / 3,
              "services.ae_older.utilisation.crisis": 0.26}
    text = cal.calibrated_scenario_yaml(
        "x_calibrated", "../scenarios/x.yaml", values,
        {"services.ae_older.utilisation.crisis": "fitted"}, ["header: with a colon"],
        title="A 'quoted' title", source_note="fitted")
    data = yaml.safe_load(text)
    assert data["extends"] == "../scenarios/x.yaml" and data["name"] == "x_calibrated"
    assert data["title"] == "A 'quoted' title"
    assert data["sources"] == {"local_calibration": "fitted"}
    assert data["cohorts"]["older_people"]["states"]["at_risk"]["escalation"] == 0.1 + 0.2
    assert data["cohorts"]["older_people"]["states"]["crisis"]["recovery"] == 1 / 3
    assert data["services"] == {"ae_older": {"utilisation": {"crisis": 0.26}}}
    assert text.startswith("# header: with a colon\n")
    assert cal.nest_paths({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


# -- the command, end to end ---------------------------------------------------------------------


def cli_setup(tmp_path: Path, noise: float = 0.0) -> tuple[Path, Path]:
    scenario_path = write_scenario(tmp_path / "scenarios")
    cal_dir = tmp_path / "calibration"
    cal_dir.mkdir()
    write_synthetic_data(cal_dir / "data.csv", scenario_path, TRUTH, noise, seed=1)
    raw = config_dict(scenario="../scenarios/tiny.yaml", fit={"starts": 2, "candidates": 8})
    config = cal_dir / "fit.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return config, tmp_path / "out" / "fit"


def test_command_writes_a_runnable_calibrated_scenario(tmp_path):
    config, out = cli_setup(tmp_path)
    result = CliRunner().invoke(main, ["calibrate", str(config), "--out", str(out), "--quiet",
                                       "--keep-budgets"])
    assert result.exit_code == 0, result.output
    assert "95% interval" in result.output and "U^M" in result.output
    for name in ("calibrated.yaml", "fit_report.json", "fit_series.csv"):
        assert (out / name).is_file()
    charts = sorted(p.name for p in (out / "charts").iterdir())
    assert charts == sorted(f"{s}.png" for s in SERIES)
    assert (out / "charts" / charts[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # calibrated.yaml extends the original by a relative path and sets only the fitted values
    text = (out / "calibrated.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["extends"] == "../../scenarios/tiny.yaml"
    assert set(raw) == {"name", "title", "extends", "sources", "cohorts", "services"}
    assert raw["services"] == {"residential_care": {"utilisation": {"high_need": pytest.approx(
        TRUTH["services.residential_care.utilisation.high_need"], rel=1e-6)}}}
    calibrated = load_scenario(out / "calibrated.yaml")
    assert calibrated.name == "tiny_calibrated"
    for path, value in TRUTH.items():
        assert calibrated.get(path) == pytest.approx(value, rel=1e-6)
    assert calibrated.get("services.falls_prevention.effect") == 0.2  # inherited

    # it reproduces the fitted trajectory exactly
    results = run(calibrated)
    with open(out / "fit_series.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(SERIES) * MONTHS
    for row in rows:
        m = int(row["month"][:4]) * 12 + int(row["month"][5:]) - (2026 * 12 + 4)
        assert results[row["series"]][0, m] == pytest.approx(float(row["simulated_fitted"]),
                                                            rel=1e-12)

    report = json.loads((out / "fit_report.json").read_text(encoding="utf-8"))
    for path, value in TRUTH.items():
        entry = report["parameters"][path]
        assert entry["estimate"] == pytest.approx(value, rel=1e-6)
        assert set(entry) >= {"standard_error", "interval_95", "lower", "upper", "initial"}
    for name in SERIES:
        s = report["series"][name]["statistics"]
        assert set(s) >= {"mape_percent", "rmse", "r_squared", "theil_UM", "theil_US",
                          "theil_UC"}
    assert report["correlation"]["parameters"] == list(TRUTH)
    assert len(report["starts"]) == 2

    # and `tpsim run` accepts it
    ran = CliRunner().invoke(main, ["run", str(out / "calibrated.yaml"), "--out",
                                    str(tmp_path / "ran")])
    assert ran.exit_code == 0, ran.output


def test_command_user_errors_exit_2_and_write_nothing(tmp_path):
    config, out = cli_setup(tmp_path)
    data = config.parent / "data.csv"
    text = data.read_text(encoding="utf-8")
    data.write_text(text.replace("2026-05,activity.residential_care",
                                 "2026-05,activity.residential_cre", 1), encoding="utf-8")
    result = CliRunner().invoke(main, ["calibrate", str(config), "--out", str(out)])
    assert result.exit_code == 2
    assert f"error: {data}:4: series: unknown series 'activity.residential_cre'" in result.output
    assert not out.exists()

    data.write_text(text, encoding="utf-8")
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["parameters"]["services.falls_prevention.effect"] = {"lower": 0.1, "upper": 2}
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["calibrate", str(config), "--out", str(out)])
    assert result.exit_code == 2
    assert "parameters.services.falls_prevention.effect.upper" in result.output
    assert not out.exists()

    result = CliRunner().invoke(main, ["calibrate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "calibration config file not found" in result.output


# -- the shipped example ----------------------------------------------------------------------

EXAMPLE = ROOT / "calibration" / "example"


@pytest.mark.skipif(not (ROOT / "scenarios" / "baseline.yaml").is_file(),
                    reason="scenarios/baseline.yaml not present")
def test_shipped_example_is_valid_and_labelled_synthetic():
    prepared = cal.setup(load_config(EXAMPLE / "example_fit.yaml"))
    assert len(prepared.parameters) == 6 and len(prepared.targets) == 4 and not prepared.unused
    assert all(target.months.tolist() == list(range(1, 49)) for target in prepared.targets)
    assert any("SYNTHETIC" in line for line in prepared.data.comments)
    truth = yaml.safe_load((EXAMPLE / "synthetic_truth.yaml").read_text(encoding="utf-8"))
    assert set(truth["truth"]) == {p.path for p in prepared.parameters}
    with open(EXAMPLE / "local_data.csv", encoding="utf-8") as fh:
        body = [line for line in fh if not line.startswith("#")]
    assert all("SYNTHETIC" in line for line in body[1:])


def test_command_rebudgets_by_default_and_says_how_far_the_fit_moves(tmp_path):
    """The default --rebudget writes budgets consistent with the calibrated month 0 and says
    how far they move the fitted series (the fit ran on the original budgets)."""
    import re

    config, out = cli_setup(tmp_path)
    result = CliRunner().invoke(main, ["calibrate", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    text = (out / "calibrated.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert "agencies" in raw and "re-derived after the fit" in text
    found = re.search(r"move the fitted series by at most ([0-9.]+)%", result.output)
    assert found, result.output
    drift = float(found.group(1)) / 100.0
    results = run(load_scenario(out / "calibrated.yaml"))
    with open(out / "fit_series.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    worst = 0.0
    for row in rows:
        m = int(row["month"][:4]) * 12 + int(row["month"][5:]) - (2026 * 12 + 4)
        fitted = float(row["simulated_fitted"])
        worst = max(worst, abs(results[row["series"]][0, m] - fitted) / abs(fitted))
    assert worst <= drift + 5e-7   # the message rounds to 4 decimals of a percent
