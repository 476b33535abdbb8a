"""Bad and edge inputs through the commands (issue 21): each gives one line and exit 2 naming
the key or option, writes nothing (no --out folder, nothing left in its parent), or runs
correctly. Then a fuzzer of scenarios and options, and an interrupt test of whole-folder
writes."""
from __future__ import annotations

import copy
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_tiny_scenario_dict
from tpsim.cli import main
from tpsim.output import MARKER, read_timeseries_csv

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"
POOLED = SCENARIOS / "pooled_prevention.yaml"
UNCERTAIN = SCENARIOS / "pooled_prevention_uncertain.yaml"
EXAMPLE = ROOT / "calibration" / "example"


def invoke(args, cwd: Path):
    """Run ``tpsim ARGS`` in this process from ``cwd``: (exit status, stdout, stderr, exception
    other than SystemExit or None)."""
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=True)
    finally:
        os.chdir(old)
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, crash


def tiny_yaml(**changes) -> str:
    """The tiny test scenario as YAML text, with top-level ``changes`` merged in."""
    data = make_tiny_scenario_dict()
    data.update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def extends(parent: Path, body: str) -> str:
    return f"extends: {parent}\n{body}"


def fit_config(tmp: Path, edit=lambda text: text, data: str | None = None) -> str:
    text = (EXAMPLE / "example_fit.yaml").read_text()
    text = text.replace("../../scenarios/", f"{SCENARIOS}/")
    if data is None:
        text = text.replace("data: local_data.csv", f"data: {EXAMPLE / 'local_data.csv'}")
    return edit(text)


def _chain(tmp: Path, depth: int) -> dict[str, str]:
    files = {"c0.yaml": BASELINE.read_text().replace("name: baseline", "name: c0")}
    for i in range(1, depth + 1):
        files[f"c{i}.yaml"] = f"extends: c{i - 1}.yaml\nname: c{i}\n"
    return files


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


_BIG_INT = "9" * 400
_UNCERTAIN_HUGE = """uncertainty:
  parameters:
    services.falls_prevention.unit_cost:
      dist: uniform
      low: 0
      high: 1.0e308
"""
_LOCAL_DATA_UNCLOSED = ("month,series,value\n2026-04,activity.ae_older,2328\n"
                        '2026-05,activity.ae_older,"2379\n2026-06,activity.ae_older,2400\n')

# (id, files written in the case's folder ({name: text}, callables take the folder), command
#  line (FILE names a file of the case, {S} the shipped scenarios), text the message names)
CASES = [
    # 1. scenario names as folder names
    ("name-escapes-up", {"s.yaml": tiny_yaml(name="../../ESCAPED_RUN")},
     ["run", "s.yaml"], "name"),
    ("name-absolute", {"s.yaml": tiny_yaml(name="/abs/dir")}, ["run", "s.yaml"], "name"),
    ("name-newline", {"s.yaml": tiny_yaml(name="a\nb")}, ["run", "s.yaml"], "name"),
    ("name-escapes-compare-out", {"s.yaml": tiny_yaml(name="../../x")},
     ["compare", "s.yaml", "--against", "s.yaml", "--out", "o1/o2"], "name"),
    # 3. non-finite values
    ("optimism-bias-nan", {}, ["compare", POOLED, "--against", BASELINE, "--optimism-bias", "nan"],
     "--optimism-bias"),
    ("optimism-bias-inf", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--runs", "10",
                               "--optimism-bias", "inf"], "--optimism-bias"),
    ("uncertainty-1e308", {"u.yaml": extends(BASELINE, "name: u\n" + _UNCERTAIN_HUGE)},
     ["ensemble", "u.yaml", "--against", BASELINE, "--runs", "10"],
     "uncertainty.parameters.services.falls_prevention.unit_cost"),
    ("swing-nan", {}, ["sensitivity", UNCERTAIN, "--against", BASELINE, "--swing", "nan"],
     "--swing"),
    # 4. numbers that do not fit, YAML tags, OS errors on --out
    ("int-400-digits", {"s.yaml": extends(BASELINE, f"name: s\ntime:\n  horizon: {_BIG_INT}\n")},
     ["run", "s.yaml"], "time.horizon"),
    ("int-400-digits-config", {"f.yaml": lambda d: fit_config(d, lambda t: t.replace(
        "seed: 0", f"seed: {_BIG_INT}"))}, ["calibrate", "f.yaml"], "fit.seed"),
    ("yaml-tag-config", {"f.yaml": lambda d: fit_config(d, lambda t: t.replace(
        "title: Baseline", "title: !!python/object:os.system Baseline"))},
     ["calibrate", "f.yaml"], "invalid YAML"),
    ("fit-starts-1e30", {"f.yaml": lambda d: fit_config(d, lambda t: t.replace(
        "starts: 4 ", "starts: 1.0e30 "))}, ["calibrate", "f.yaml"], "fit.starts"),
    ("out-under-a-file", {"afile": ""}, ["run", BASELINE, "--out", "afile/x"],
     "cannot write the output folder"),
    ("horizon-1e7", {"s.yaml": extends(BASELINE, "name: s\ntime:\n  horizon: 1.0e7\n")},
     ["run", "s.yaml"], "time.horizon"),
    ("alias-bomb", {"s.yaml": _alias_bomb()}, ["run", "s.yaml"], "alias"),
    ("extends-chain-600", lambda d: _chain(d, 600), ["run", "c600.yaml"], "extends"),
    # 5. unbounded cost
    ("dt-1e-6", {"s.yaml": extends(BASELINE, "name: s\ntime:\n  dt: 1.0e-6\n")},
     ["run", "s.yaml"], "time.dt"),
    # 6. loops raising rates beyond the dt the base rates allow
    ("dt-with-erosion", {"s.yaml": extends(BASELINE, "name: s\ntime:\n  method: rk4\nagencies:\n"
                                           "  council_asc:\n    efficiency_target: 0.5\n"
                                           "    quality_erosion: 500\n")},
     ["run", "s.yaml"], "time.dt"),
    ("dt-with-waiting", {"s.yaml": extends(BASELINE, "name: s\ntime:\n  method: rk4\nservices:\n"
                                           "  home_care:\n    deterioration: 5000\n")},
     ["run", "s.yaml"], "waiting and erosion multipliers"),
    # 7. initial stocks in changes
    ("initial-in-changes", {"s.yaml": extends(BASELINE, "name: s\nchanges:\n  - month: 12\n"
                                              "    set:\n      cohorts.older_people.states."
                                              "at_risk.initial: 100\n")},
     ["run", "s.yaml"], "changes.0.set.cohorts.older_people.states.at_risk.initial"),
    # 9. messages that named the wrong thing
    ("dt-child-rate", {"s.yaml": extends(BASELINE, "name: s\ncohorts:\n  older_people:\n"
                                         "    states:\n      at_risk:\n        escalation: 30\n")},
     ["run", "s.yaml"], "set in s.yaml"),
    ("extends-binary", {"s.yaml": "extends: /bin/ls\n"}, ["run", "s.yaml"], "s.yaml:1: extends"),
    ("scenario-directory", {"d.yaml/x": ""}, ["run", "d.yaml"], "is a directory"),
    ("scenario-dev-null", {}, ["run", "/dev/null"], "not a regular file"),
    ("scenario-fifo", {"p.yaml": "FIFO"}, ["run", "p.yaml"], "not a regular file"),
    ("scenario-empty", {"e.yaml": "# nothing\n"}, ["run", "e.yaml"], "the file is empty"),
    ("csv-unclosed-quote", {"data.csv": _LOCAL_DATA_UNCLOSED,
                            "f.yaml": lambda d: fit_config(d, lambda t: t.replace(
                                "data: local_data.csv", "data: data.csv"), data="data.csv")},
     ["calibrate", "f.yaml"], "not valid CSV"),
    # numbers out of the format's range
    ("growth-1e12", {"s.yaml": extends(BASELINE, "name: s\ncohorts:\n  older_people:\n"
                                       "    inflow_growth: 1.0e12\n")},
     ["run", "s.yaml"], "cohorts.older_people.inflow_growth"),
    ("unit-cost-1e300", {"s.yaml": extends(BASELINE, "name: s\nservices:\n  home_care:\n"
                                           "    unit_cost: 1.0e300\n")},
     ["run", "s.yaml"], "services.home_care.unit_cost"),
    # bounds on every numeric option
    ("runs-0", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--runs", "0"], "--runs"),
    ("runs-huge", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--runs", "10" * 10],
     "--runs"),
    ("seed-2^64", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--seed", str(2**64)],
     "--seed"),
    ("workers-huge", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--engine", "dask",
                          "--workers", "100000"], "--workers"),
    ("chunk-huge", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--chunk-size",
                        str(10**9)], "--chunk-size"),
    ("bins-huge", {}, ["ensemble", UNCERTAIN, "--against", BASELINE, "--bins", str(10**7)],
     "--bins"),
    ("people-huge", {}, ["des", BASELINE, "--people", str(10**9)], "--people"),
    ("replications-huge", {}, ["des", BASELINE, "--replications", str(10**7)], "--replications"),
    ("service-time-inf", {}, ["des", BASELINE, "--service-time", "inf"], "--service-time"),
    ("horizon-option-huge", {}, ["run", BASELINE, "--horizon", "5000"], "--horizon"),
    ("dt-option-2", {}, ["run", BASELINE, "--dt", "2"], "--dt"),
    ("dt-option-nan", {}, ["run", BASELINE, "--dt", "nan"], "--dt"),
    ("sobol-n-huge", {}, ["sensitivity", UNCERTAIN, "--against", BASELINE, "--method", "sobol",
                          "--n", str(2**30)], "--n"),
    ("month-huge", {}, ["sensitivity", UNCERTAIN, "--against", BASELINE, "--month", "5000"],
     "--month"),
    ("report-uncertainty-huge", {}, ["report", POOLED, "--against", BASELINE, "--uncertainty",
                                     str(10**9)], "--uncertainty"),
    ("demo-runs-negative", {}, ["demo", "--runs", "-1"], "--runs"),
    ("places-uncertainty-huge", {"t.csv": "place\n"},
     ["places", "compare", "t.csv", "--scenario", POOLED, "--against", BASELINE,
      "--uncertainty", str(10**9)], "--uncertainty"),
    ("starts-huge", {}, ["calibrate", EXAMPLE / "example_fit.yaml", "--starts", "5000"],
     "--starts"),
]


def _write_case(folder: Path, files) -> None:
    if callable(files):
        files = files(folder)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text == "FIFO":
            os.mkfifo(path)
            continue
        path.write_text(text(folder) if callable(text) else text)


def _snapshot(folder: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), folder)
            for d, dirs, files in os.walk(folder) for n in dirs + files}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case):
    _, files, args, named = case
    work = tmp_path / "work"
    work.mkdir()
    _write_case(work, files)
    before = _snapshot(work)
    args = [*args] if "--out" in args else [*args, "--out", "out/here"]
    status, _, err, crash = invoke(args, work)
    assert crash is None, f"traceback: {crash!r}\n{err}"
    assert status == 2, err
    assert named in err, err
    # click's usage errors print a usage line and a blank line before the one error line
    lines = [line for line in err.splitlines() if line.strip()]
    message = [line for line in lines if line.startswith(("error:", "Error:"))]
    assert len(message) == 1 and lines[-1] == message[0], err
    assert _snapshot(work) == before, "something was written"


def test_escaping_name_writes_nothing_outside_outputs(tmp_path):
    """The names of case 1 never reach the file system: no ESCAPED_RUN anywhere above."""
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    (work / "s.yaml").write_text(tiny_yaml(name="../../ESCAPED_RUN"))
    status, _, err, _ = invoke(["run", "s.yaml"], work)
    assert status == 2
    assert not list(tmp_path.rglob("ESCAPED_RUN*"))


def test_calibration_numbers_with_exponents_are_numbers(tmp_path):
    """``4e3`` in a calibration config is the number 4,000 (it used to be refused as text
    with a hint to remove quotes that were never there)."""
    from tpsim.config.calibration import load_config

    path = tmp_path / "f.yaml"
    path.write_text(fit_config(tmp_path, lambda t: t.replace("candidates: 64", "candidates: 4e3")))
    assert load_config(path).fit.candidates == 4000


def test_memory_budget_is_checked_before_an_ensemble_allocates(tmp_path, monkeypatch):
    from tpsim.cli import options

    monkeypatch.setattr(options, "memory_limit", lambda: 10 * 2**20)
    status, _, err, crash = invoke(["ensemble", UNCERTAIN, "--against", BASELINE, "--runs",
                                    "100", "--out", "out"], tmp_path)
    assert crash is None and status == 2, err
    assert "memory" in err and "--runs" in err, err
    assert not (tmp_path / "out").exists()


def test_ensemble_memory_grows_with_runs_bins_and_months():
    from tpsim.analysis import ensemble as en
    from tpsim.cli.options import ensemble_memory
    from tpsim.config.scenario import load_scenario

    sc, cf = load_scenario(UNCERTAIN), load_scenario(BASELINE)

    def need(runs, bins, horizon):
        job = en.prepare([sc.replace(horizon=horizon)], cf.replace(horizon=horizon), runs=runs,
                         seed=0, series=en.DEFAULT_SERIES, bins=bins)
        return ensemble_memory(job, 4 * 4096), len(job.tracked)

    small, tracked = need(1000, 100, 60)
    # 900 more bins: three copies of tracked series x (months + 2) x 900 int64 counts more
    assert need(1000, 1000, 60)[0] - small == pytest.approx(8 * 3 * tracked * 62 * 900)
    assert need(1000, 100, 600)[0] > 5 * small
    assert need(10**7, 100, 60)[0] > small


def test_budget_zero_pressure_is_finite_and_as_documented(tmp_path):
    """docs/model.md: budget pressure is 10^6 when the budget is 0 (the series used to be inf)."""
    data = make_tiny_scenario_dict()
    data["agencies"]["council_asc"]["budget"] = 0.0
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    status, _, err, crash = invoke(["run", "s.yaml", "--out", "o"], tmp_path)
    assert crash is None and status == 0, err
    series = read_timeseries_csv(tmp_path / "o" / "timeseries.csv")
    assert np.all(series["pressure.agency.council_asc"][1:] == 1e6)



def _overflowing(monkeypatch):
    """Make every simulated trajectory of an ensemble overflow to infinity, as a scenario whose
    outputs exceed the largest float would (the validation bounds on growth rates and
    magnitudes keep the shipped format below that, so the overflow is injected here)."""
    from tpsim.analysis import ensemble as en

    simulate = en.trajectories

    def overflow(job, u, params=None, buffers=None):
        return [t * np.inf for t in simulate(job, u, params, buffers)]

    monkeypatch.setattr(en, "trajectories", overflow)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("command", [
    ["ensemble", UNCERTAIN, "--against", BASELINE, "--runs", "10"],
    ["report", UNCERTAIN, "--against", BASELINE, "--uncertainty", "10"],
], ids=["ensemble", "report"])
def test_every_run_non_finite_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch,
                                                                     command):
    """An ensemble whose every run is non-finite names the cause (it used to write
    ensemble.json and quantiles.csv, then fail in the summary text with a TypeError)."""
    _overflowing(monkeypatch)
    status, _, err, crash = invoke([*command, "--out", "out/here"], tmp_path)
    assert crash is None, f"traceback: {crash!r}\n{err}"
    assert status == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "non-finite NPV" in lines[0], err
    assert "pooled_prevention_uncertain" in lines[0], err
    assert _snapshot(tmp_path) == set(), "something was written"


def _read_only_error(monkeypatch):
    """The OS refusing the new folder as on a read-only file system (EROFS)."""
    import errno

    from tpsim import output

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(output.tempfile, "mkdtemp", refuse)


def test_read_only_file_system_names_out_and_leaves_nothing(tmp_path, monkeypatch):
    """A read-only --out: one line naming --out, exit 2, and the parent folders the write made
    (out/deep/) are removed again."""
    _read_only_error(monkeypatch)
    status, _, err, crash = invoke(["run", BASELINE, "--out", "out/deep/here"], tmp_path)
    assert crash is None and status == 2, err
    assert "--out" in err and "read-only" in err, err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert _snapshot(tmp_path) == set(), "something was left behind"


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod cannot make a folder "
                                              "read-only (the EROFS test above covers it)")
@pytest.mark.parametrize("out", ["ro/here", "ro/deeper/here"])
def test_read_only_parent_of_out_names_out_and_leaves_nothing(tmp_path, out):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        status, _, err, crash = invoke(["run", BASELINE, "--out", out], tmp_path)
        assert crash is None and status == 2, err
        assert "--out" in err and "permission denied" in err, err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_a_failed_write_removes_the_parent_folders_it_made(tmp_path):
    """An error while the outputs are being written (here, a TpsimError from the command)
    leaves neither the new folder nor the parents made for it; existing parents stay."""
    from tpsim.errors import TpsimError
    from tpsim.output import OutputFolder

    (tmp_path / "kept").mkdir()
    with pytest.raises(TpsimError):
        with OutputFolder(tmp_path / "kept" / "a" / "b" / "out", "test") as out:
            out.write_text("x.txt", "x")
            assert (tmp_path / "kept" / "a" / "b").is_dir()
            raise TpsimError("stop")
    assert _snapshot(tmp_path) == {"kept"}
    with OutputFolder(tmp_path / "kept" / "a" / "out", "test") as out:
        out.write_text("x.txt", "x")
    assert (tmp_path / "kept" / "a" / "out" / "x.txt").read_text() == "x"

# ---------------------------------------------------------------------------------------------
# Fuzzer: scenarios and options
# ---------------------------------------------------------------------------------------------

_NUMBER_PATHS = [
    ("agencies", "council_asc", "budget"), ("agencies", "council_asc", "reserves"),
    ("agencies", "council_asc", "cut_rate"), ("agencies", "council_asc", "budget_growth"),
    ("agencies", "council_asc", "efficiency_target"), ("agencies", "council_asc", "quality_erosion"),
    ("agencies", "council_asc", "perception_delay"), ("agencies", "council_asc", "restore_rate"),
    ("cohorts", "older_people", "inflow_growth"),
    ("cohorts", "older_people", "states", "independent", "initial"),
    ("cohorts", "older_people", "states", "independent", "inflow"),
    ("cohorts", "older_people", "states", "independent", "escalation"),
    ("cohorts", "older_people", "states", "at_risk", "escalation"),
    ("cohorts", "older_people", "states", "at_risk", "recovery"),
    ("cohorts", "older_people", "states", "high_need", "exit"),
    ("services", "falls_prevention", "places"), ("services", "falls_prevention", "effect"),
    ("services", "falls_prevention", "unit_cost"), ("services", "falls_prevention", "uptake"),
    ("services", "residential_care", "unit_cost"),
    ("time", "horizon"), ("time", "dt"),
]

# mostly values in the format's ranges (so runs happen and their outputs are checked), some at
# the edges, some of the wrong type or not finite
_VALUES = st.one_of(
    st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 0.2), st.floats(0.0, 1e6),
    st.floats(-10.0, 100.0),
    st.sampled_from([0, 1, -1, 1e12, 1e13, -1e12, 1e308, -1e308, 1e-320, 0.5, 2, 1200, 1201]),
    st.integers(-1000, 10**6), st.just(10**400),
    st.sampled_from([float("nan"), float("inf"), "1e3", "x", None, True, [], {}]),
)


def _put(data: dict, path: tuple, value) -> None:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


@st.composite
def fuzzed_scenario(draw) -> dict:
    data = make_tiny_scenario_dict()
    data["loops"] = {"doom_loop": True, "reinvestment": True, "waiting_deterioration": True,
                     "quality_erosion": True}
    for path in draw(st.lists(st.sampled_from(_NUMBER_PATHS), max_size=6, unique=True)):
        _put(data, path, draw(_VALUES))
    data["time"]["method"] = draw(st.sampled_from(["euler", "rk4"]))
    data["time"]["horizon"] = draw(st.integers(1, 48)) if draw(st.booleans()) else \
        data["time"]["horizon"]
    return data


_GOOD_OPTIONS = [["--horizon", "12"], ["--horizon", "36"], ["--dt", "0.5"], ["--dt", "0.125"],
                 ["--method", "rk4"], ["--method", "euler"]]
_BAD_OPTIONS = [["--horizon", "0"], ["--horizon", "1201"], ["--horizon", "1e3"], ["--dt", "0"],
                ["--dt", "nan"], ["--dt", "-1"], ["--dt", "0.3"], ["--method", "x"]]
_OPTIONS = st.one_of(st.lists(st.sampled_from(_GOOD_OPTIONS), max_size=2),
                     st.lists(st.sampled_from(_GOOD_OPTIONS + _BAD_OPTIONS), max_size=2))


def _check_outputs(folder: Path, data: dict) -> None:
    series = read_timeseries_csv(folder / "timeseries.csv")
    for name, values in series.items():
        assert np.all(np.isfinite(values)), f"{name} is not finite"
    pops = [v for k, v in series.items() if k.startswith("population.older_people.")]
    people = np.sum(pops, axis=0)
    scale = 1.0 + np.abs(people).max()
    for values in pops:
        assert values.min() >= -1e-9 * scale, "a negative stock"
    inflow, exits = series["inflow.older_people"], series["exits.older_people"]
    expected = people[0] + np.cumsum(inflow[1:] - exits[1:])
    np.testing.assert_allclose(people[1:], expected, rtol=1e-8, atol=1e-8 * scale)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=fuzzed_scenario(), options=_OPTIONS)
def test_fuzzed_scenarios_and_options_exit_0_or_2(tmp_path, data, options):
    """Exit 0 with finite outputs, no negative stock and people conserved, or one line and
    exit 2; never a traceback."""
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        text = yaml.safe_dump(data, sort_keys=False)
    except (OverflowError, ValueError):
        return
    (work / "s.yaml").write_text(text)
    args = ["run", "s.yaml", "--out", "o", *[a for o in options for a in o]]
    status, _, err, crash = invoke(args, work)
    assert crash is None, f"traceback: {crash!r}\n{err}"
    assert status in (0, 2), err
    if status == 2:
        assert not (work / "o").exists()
        return
    _check_outputs(work / "o", data)


# ---------------------------------------------------------------------------------------------
# Interrupts: a complete old or a complete new output folder, always
# ---------------------------------------------------------------------------------------------


def _tpsim(args, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "tpsim.cli", *map(str, args)], cwd=cwd,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _files(folder: Path) -> set[str]:
    return _snapshot(folder) if folder.exists() else set()


_COMMANDS = {
    # command line for the old and for the new outputs: different seeds and charts, so the
    # two complete folders hold different files
    "ensemble": (["ensemble", UNCERTAIN, "--against", BASELINE, "--runs", "64", "--seed", "1"],
                 ["ensemble", UNCERTAIN, "--against", BASELINE, "--runs", "64", "--seed", "2",
                  "--no-charts"]),
    "report": (["report", POOLED, SCENARIOS / "pilots_plus.yaml", "--against", BASELINE],
               ["report", POOLED, "--against", BASELINE]),
}


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_interrupts_leave_a_complete_old_or_new_folder(tmp_path, command):
    old_args, new_args = _COMMANDS[command]
    # the old outputs only need to exist, so this process writes them; the new ones come from
    # a real process, whose run time (start-up included) spreads the signals over the run
    status, _, err, crash = invoke([*old_args, "--out", tmp_path / "ref_old"], tmp_path)
    assert crash is None and status == 0, err
    started = time.monotonic()
    proc = _tpsim([*new_args, "--out", tmp_path / "ref_new"], tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    duration = time.monotonic() - started
    reference = {which: _files(tmp_path / f"ref_{which}") for which in ("old", "new")}
    assert reference["old"] != reference["new"]
    rng = random.Random(21)
    target = tmp_path / "out"
    for repeat, signum in enumerate([signal.SIGINT, signal.SIGTERM] * 2):
        # the old outputs as a finished run left them (a copy: a second run costs minutes)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(tmp_path / "ref_old", target)
        proc = _tpsim([*new_args, "--out", target], tmp_path)
        time.sleep(rng.uniform(0.2, 1.1) * duration)
        proc.send_signal(signum)
        proc.communicate(timeout=300)
        found = _files(target)
        # a signal before tpsim installs its handlers kills it (the old folder stands); one
        # after the swap exits 130/143 with the new folder in place
        assert found in (reference["old"], reference["new"]), (repeat, signum, found)
        if proc.returncode == 0:
            assert found == reference["new"]
        else:
            assert proc.returncode in (128 + signum, -signum, 1), proc.returncode
        assert (target / MARKER).is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "ref_new", "ref_old"]
