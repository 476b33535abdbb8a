"""End-to-end tests of ``tpsim run`` through the command line, as a user types it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tpsim.cli import main
from tpsim.output import read_timeseries_csv

from conftest import GENERATED_KERNEL, make_tiny_scenario_dict

GOLDEN = Path(__file__).parent / "golden" / "tiny_timeseries.csv"
DOCS = Path(__file__).parents[1] / "docs" / "outputs.md"


def _write(tmp_path: Path, data: dict, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_writes_timeseries_and_summary(tmp_path):
    scenario = _write(tmp_path, make_tiny_scenario_dict())
    out = tmp_path / "out"
    result = _run("run", str(scenario), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "council_asc" in result.output
    ts = read_timeseries_csv(out / "timeseries.csv")
    assert list(ts["month"]) == list(range(1, 25))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "tiny"
    assert len(summary["scenario_hash"]) == 12
    assert summary["settings"]["horizon_months"] == 24
    # totals in the summary are the sums of the monthly columns
    assert summary["totals"]["spend_total"] == pytest.approx(ts["spend.total"].sum(), rel=1e-12)
    assert summary["totals"]["spend_by_agency"]["council_asc"] == pytest.approx(
        ts["spend.agency.council_asc"].sum(), rel=1e-12)
    # people are conserved in the written file: change in population = inflow - exits
    pop = sum(ts[c] for c in ts if c.startswith("population.older_people."))
    initial = sum(s["initial"] for s in make_tiny_scenario_dict()["cohorts"]["older_people"]["states"].values()
                  if "initial" in s)
    np.testing.assert_allclose(pop - initial,
                               np.cumsum(ts["inflow.older_people"] - ts["exits.older_people"]),
                               rtol=1e-9, atol=1e-6)


def _documented_patterns() -> list[re.Pattern]:
    """Column patterns from the first column of docs/outputs.md's table; <x> matches an id."""
    patterns = []
    for line in DOCS.read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \|", line)
        if match:
            pattern = re.escape(match.group(1)).replace("<", "(?P<").replace(">", ">[a-z0-9_]+)")
            pattern = re.sub(r"\(\?P<([a-z]+)>", lambda m: "(?:", pattern)
            patterns.append(re.compile(pattern + "$"))
    return patterns


def test_every_column_is_documented(tmp_path):
    scenario = _write(tmp_path, make_tiny_scenario_dict())
    out = tmp_path / "out"
    assert _run("run", str(scenario), "--out", str(out)).exit_code == 0
    patterns = _documented_patterns()
    header = (out / "timeseries.csv").read_text().splitlines()[0].split(",")
    undocumented = [c for c in header if not any(p.match(c) for p in patterns)]
    assert not undocumented


def test_golden_timeseries(tmp_path):
    """The tiny scenario's trajectory is pinned: a change in the model's answer shows here."""
    scenario = _write(tmp_path, make_tiny_scenario_dict())
    out = tmp_path / "out"
    assert _run("run", str(scenario), "--out", str(out)).exit_code == 0
    if not GOLDEN.exists():  # first run creates the golden file; review and commit it
        GOLDEN.write_text((out / "timeseries.csv").read_text())
    got = read_timeseries_csv(out / "timeseries.csv")
    want = read_timeseries_csv(GOLDEN)
    assert list(got) == list(want)
    for column in want:
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9, atol=1e-6, err_msg=column)


def test_method_and_dt_options(tmp_path):
    scenario = _write(tmp_path, make_tiny_scenario_dict())
    euler, rk4 = tmp_path / "euler", tmp_path / "rk4"
    assert _run("run", str(scenario), "--out", str(euler), "--dt", "0.125").exit_code == 0
    assert _run("run", str(scenario), "--out", str(rk4), "--method", "rk4").exit_code == 0
    assert json.loads((rk4 / "summary.json").read_text())["settings"]["method"] == "rk4"
    assert json.loads((euler / "summary.json").read_text())["settings"]["dt_months"] == 0.125
    a = read_timeseries_csv(euler / "timeseries.csv")["spend.total"]
    b = read_timeseries_csv(rk4 / "timeseries.csv")["spend.total"]
    np.testing.assert_allclose(a, b, rtol=1e-2)  # same model, different integrators


def _broken(mutate):
    data = make_tiny_scenario_dict()
    mutate(data)
    return data


BAD = {
    "unknown key": (lambda d: d["services"]["falls_prevention"].update(efect=0.2),
                    "services.falls_prevention.efect", "did you mean 'effect'"),
    "wrong type": (lambda d: d["agencies"]["council_asc"].update(budget="lots"),
                   "agencies.council_asc.budget", ""),
    "negative rate": (lambda d: d["cohorts"]["older_people"]["states"]["at_risk"].update(escalation=-0.1),
                      "cohorts.older_people.states.at_risk.escalation", ""),
    "fraction above one": (lambda d: d["services"]["falls_prevention"].update(uptake=1.5),
                           "services.falls_prevention.uptake", ""),
    "unknown agency": (lambda d: d["services"]["falls_prevention"].update(agency="nhs_acutee"),
                       "services.falls_prevention.agency", ""),
    "unknown state": (lambda d: d["services"]["falls_prevention"].update(states=["at_rsk"]),
                      "services.falls_prevention.states", ""),
    "dt too large": (lambda d: d["time"].update(dt=1.0) or
                     d["services"]["falls_prevention"].update(time_to_effect=0.5),
                     "time.dt", ""),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenarios_exit_2_name_file_and_key_and_write_nothing(tmp_path, case):
    mutate, key, hint = BAD[case]
    scenario = _write(tmp_path, _broken(mutate), name="bad.yaml")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = result.output.strip().splitlines()[-1]
    assert message.startswith("error: ")
    assert "bad.yaml" in message and key in message and hint in message
    assert "Traceback" not in result.output
    assert not out.exists()


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntime: {horizon: 12\nagencies: {}\n")
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "broken.yaml:" in result.output
    assert not (tmp_path / "o").exists()


def test_debug_shows_traceback(tmp_path):
    scenario = _write(tmp_path, _broken(BAD["unknown key"][0]), name="bad.yaml")
    result = CliRunner().invoke(main, ["--debug", "run", str(scenario), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert result.exc_info is not None and result.exc_info[0].__name__ == "ScenarioError"


def test_help_lists_every_command_with_the_start_of_its_own_help():
    import importlib

    from tpsim.cli import _COMMANDS

    result = _run("--help")
    assert result.exit_code == 0
    for name, (target, summary) in _COMMANDS.items():
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert " ".join(command.help.split()).startswith(summary), name
        assert re.search(rf"^\s+{name}\s+{re.escape(summary)}$", result.output, re.M), name


def test_help_imports_no_command_module():
    import subprocess
    import sys

    code = ("import sys; from tpsim.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('tpsim.cli.', 'numba', "
            "'scipy', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_jit_cache_warm_is_false_for_an_empty_numba_cache(tmp_path):
    """The check itself (the CLI test below fakes it): a fresh cache directory means the next
    call compiles; reading numba's index compiles nothing, so this stays fast."""
    import os
    import subprocess
    import sys

    code = "from tpsim.models import kernel; print(kernel.jit_cache_warm())"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env, timeout=120).stdout
    assert out.strip() == "False"


@pytest.mark.xdist_group(GENERATED_KERNEL)   # shares the baseline compile with test_golden
def test_a_first_use_compile_is_announced_on_stderr_only(tmp_path, monkeypatch):
    from tpsim.models import codegen
    from tpsim.config.scenario import load_scenario
    from tpsim.models.structure import compile_scenario

    from tpsim.models.simulate import kernel_for, simulate

    monkeypatch.delenv("TPSIM_KERNEL", raising=False)   # the generated kernel, as users run
    # the shipped baseline: its structure is the one tests/test_golden.py compiles anyway
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    model = compile_scenario(load_scenario(scenario))
    assert kernel_for(model) == "generated"
    simulate(model)   # compiled (or loaded from the cache) here, so the first run is quiet
    assert codegen.is_warm(codegen.load(model)) is True
    quiet = CliRunner().invoke(main, ["run", str(scenario), "--out", str(tmp_path / "a")])
    assert "compiling" not in quiet.stderr
    monkeypatch.setattr(codegen, "is_warm", lambda module: False)
    noted = CliRunner().invoke(main, ["run", str(scenario), "--out", str(tmp_path / "b")])
    assert noted.exit_code == 0
    assert noted.stderr.count("tpsim: compiling the simulation kernel") == 1
    assert "compiling" not in noted.stdout
    assert noted.stdout == quiet.stdout.replace(str(tmp_path / "a"), str(tmp_path / "b"))


def test_shared_options_mean_the_same_in_every_command():
    """--against, --horizon, --dt, --method (integration), --seed, --optimism-bias and --out
    come from tpsim.cli.options: the same type and bounds wherever a command takes them."""
    import importlib

    import click

    from tpsim.cli import _COMMANDS

    def describe(param):
        t = param.type
        bounds = (getattr(t, "min", None), getattr(t, "max", None))
        choices = tuple(getattr(t, "choices", ()) or ())
        return type(t).__name__, bounds, choices, param.required

    seen: dict[str, dict] = {}
    for name, (target, _) in _COMMANDS.items():
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            flag = param.opts[0]
            if flag == "--method" and name in ("sensitivity", "calibrate"):
                continue  # their --method chooses oat/sobol or wls/bayes, not the integration
            if flag in ("--against", "--horizon", "--dt", "--method", "--seed",
                        "--optimism-bias", "--out"):
                seen.setdefault(flag, {})[name] = describe(param)
    assert set(seen["--horizon"]) >= {"run", "des", "compare", "ensemble", "sensitivity",
                                      "chart", "report"}
    for flag, by_command in seen.items():
        kinds = {d[:3] for d in by_command.values()}
        assert len(kinds) == 1, (flag, by_command)
    assert seen["--horizon"]["run"][1] == (1, 1200)
