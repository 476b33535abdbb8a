"""Tests for tpsim.config.yamlio: the one YAML reader, key locations and the number check,
as seen through every file tpsim reads (scenarios, uncertainty sections, calibration configs)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tpsim.config.calibration import ConfigError, load_config
from tpsim.config.scenario import load_scenario
from tpsim.config.yamlio import Bound, check_number, locate, parse_yaml, plain_number
from tpsim.errors import ScenarioError, TpsimError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
GOOD_DATA = "month,series,value\n2026-04,activity.ae_older,2251\n"


def write(directory: Path, text: str, name: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# -- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text,value", [("1.0e6", 1.0e6), ("4e3", 4000.0), ("-1.5E+3", -1500.0),
                                        ("1e6", 1.0e6), (".5e-2", 0.005), ("+2.5e1", 25.0)])
def test_exponent_numbers_are_floats(text, value):
    data = parse_yaml(f"x: {text}\n", "<t>").data
    assert type(data["x"]) is float and data["x"] == value


def test_other_scalars_keep_their_types():
    data = parse_yaml("a: 12\nb: '1e6'\nc: e6\nd: 1e\ne: true\nf: 2024-25\ng: null\n",
                      "<t>").data
    assert data == {"a": 12, "b": "1e6", "c": "e6", "d": "1e", "e": True, "f": "2024-25",
                    "g": None}


def test_calibration_config_reads_exponent_numbers(tmp_path):
    """The documented ``scale: 1.0e6`` (and 4e3, -1.5E+3) are numbers, not text."""
    write(tmp_path, "name: x\n", "scenario.yaml")
    write(tmp_path, GOOD_DATA, "data.csv")
    path = write(tmp_path, "scenario: scenario.yaml\ndata: data.csv\nparameters:\n"
                           "  agencies.council.reserves: {lower: -1.5E+3, upper: 4e3}\n"
                           "series:\n  activity.ae_older: {weight: 1, scale: 1.0e6}\n",
                 "fit.yaml")
    cfg = load_config(path)
    assert cfg.series[0].scale == 1.0e6
    assert (cfg.parameters[0].lower, cfg.parameters[0].upper) == (-1500.0, 4000.0)


def test_scenario_reads_exponent_numbers_in_every_section(tmp_path):
    path = write(tmp_path, f"extends: {BASELINE}\nagencies:\n  council_asc:\n"
                           "    budget: 1.0e6\n    reserves: -1.5E+3\n"
                           "uncertainty:\n  parameters:\n    services.falls_prevention.places:\n"
                           "      dist: uniform\n      low: 1e2\n      high: 4e3\n",
                 "scenario.yaml")
    sc = load_scenario(path)
    assert sc.agencies["council_asc"]["budget"] == 1.0e6
    assert sc.agencies["council_asc"]["reserves"] == -1500.0
    spec = sc.uncertainty["parameters"]["services.falls_prevention.places"]
    assert (spec["low"], spec["high"]) == (100.0, 4000.0)


def test_quoted_number_is_refused_with_a_hint(tmp_path):
    write(tmp_path, "name: x\n", "scenario.yaml")
    write(tmp_path, GOOD_DATA, "data.csv")
    path = write(tmp_path, "scenario: scenario.yaml\ndata: data.csv\nparameters:\n"
                           "  a.b: {lower: 0, upper: '1e6'}\n", "fit.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}:4: parameters.a.b.upper: expected a number, got the "
                               f"text '1e6' (write the number without quotes)")


def test_check_number_range_and_whole():
    def error(path, message):
        return TpsimError(message, file="f.yaml", key=path)

    assert check_number(3, "a", error, Bound(0.0), whole=True) == 3.0
    for value, bound, whole, fragment in [
        (True, None, False, "expected a number, got true (a boolean)"),
        (None, None, False, "expected a number, got nothing (null)"),
        (float("inf"), None, False, "must be a finite number (got inf)"),
        (2.5, None, True, "expected a whole number, got 2.5"),
        (-1.0, Bound(0.0), False, "must be >= 0 (got -1)"),
        (1.0, Bound(0.0, True, 1.0, False), False, "must be in [0, 1) (got 1)"),
    ]:
        with pytest.raises(TpsimError) as info:
            check_number(value, "k.x", error, bound, whole)
        assert str(info.value) == f"f.yaml: k.x: {fragment}"


# -- keys and lines ---------------------------------------------------------------------------


def test_duplicate_keys_are_refused_in_every_reader(tmp_path):
    scenario = write(tmp_path, "price_year: '2024-25'\ntime:\n  dt: 0.25\n  dt: 0.5\n", "s.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert (info.value.key, info.value.line) == ("time.dt", 4)
    assert "duplicate key (first set on line 3)" in str(info.value)
    config = write(tmp_path, "scenario: s.yaml\nfit:\n  seed: 1\n  seed: 2\n", "fit.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert (info.value.key, info.value.line) == ("fit.seed", 4)


def test_the_same_key_in_different_mappings_is_not_a_duplicate():
    doc = parse_yaml("a:\n  x: 1\nb:\n  x: 2\n", "<t>")
    assert doc.data == {"a": {"x": 1}, "b": {"x": 2}}


def test_merge_keys_override_the_merged_value():
    doc = parse_yaml("base: &b\n  x: 1\n  y: 2\nchild:\n  <<: *b\n  y: 3\n", "<t>")
    assert doc.data["child"] == {"x": 1, "y": 3}
    assert doc.locations["child.y"] == ("<t>", 6)


def test_lines_of_nested_keys_and_list_items():
    text = ("top:\n"                     # 1
            "  mid:\n"                   # 2
            "    # a comment\n"          # 3
            "    leaf: 1\n"              # 4
            "  items:\n"                 # 5
            "    - a: 1\n"               # 6
            "      b: 2\n"               # 7
            "    - c: 3\n"               # 8
            "  dotted.key.path:\n"       # 9
            "    low: 0\n")              # 10
    loc = parse_yaml(text, "f.yaml").locations
    assert loc["top"] == ("f.yaml", 1) and loc["top.mid.leaf"] == ("f.yaml", 4)
    assert loc["top.items.0"] == ("f.yaml", 6) and loc["top.items.0.b"] == ("f.yaml", 7)
    assert loc["top.items.1.c"] == ("f.yaml", 8)
    assert loc["top.dotted.key.path.low"] == ("f.yaml", 10)
    assert locate(loc, "top.mid.leaf.absent") == ("f.yaml", 4)  # nearest recorded ancestor
    assert locate(loc, "nowhere") is None


def test_scenario_error_lines_for_nested_keys(tmp_path):
    path = write(tmp_path, f"extends: {BASELINE}\nservices:\n  falls_prevention:\n"
                           "    effect: 1.5\n", "s.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}:4: services.falls_prevention.effect: must be in")


def test_unsafe_tags_are_refused():
    with pytest.raises(TpsimError, match="invalid YAML"):
        parse_yaml("x: !!python/object/apply:os.system ['true']\n", "<t>")


# -- alias bombs ------------------------------------------------------------------------------


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


@pytest.mark.parametrize("reader,error", [(load_scenario, ScenarioError),
                                          (load_config, ConfigError)])
def test_alias_bomb_is_refused_quickly_with_one_line(tmp_path, reader, error):
    path = write(tmp_path, BOMB, "bomb.yaml")
    started = time.perf_counter()
    with pytest.raises(error) as info:
        reader(path)
    assert time.perf_counter() - started < 5.0
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: refused: its aliases expand")
    assert "alias bomb" in message


def test_shared_anchors_within_the_limit_load():
    text = "base: &b {x: 1}\n" + "".join(f"k{i}: *b\n" for i in range(500))
    doc = parse_yaml(text, "<t>")
    assert doc.data["k499"] == {"x": 1}
    assert yaml.safe_load(text) == doc.data


# -- no import cycle --------------------------------------------------------------------------


def test_loading_a_scenario_imports_no_analysis_module():
    code = ("import sys; import tpsim.config.scenario, tpsim.config.calibration, "
            "tpsim.config.localdata, tpsim.config.uncertainty; "
            "print(sorted(m for m in sys.modules if m.startswith('tpsim.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}).stdout
    modules = eval(out)
    assert "tpsim.config.scenario" in modules
    assert not [m for m in modules if m.startswith(("tpsim.analysis", "tpsim.models",
                                                    "tpsim.cli", "tpsim.present"))]


@pytest.mark.parametrize("value", [0.5, 0.0, 1.0, -0.25, 2.0, 1e300, -1e300, float("nan"),
                                   float("inf"), float("-inf"), True, 1, "0.5", None])
@pytest.mark.parametrize("bound", [None, Bound(0.0, True, 1.0, True), Bound(0.0, False)])
def test_plain_number_only_takes_what_check_number_returns_unchanged(value, bound):
    # the validator's fast path: whatever it takes, check_number takes and returns as it is
    def error(path, message):
        return ValueError(message)

    if plain_number(value, bound, magnitude=1e12):
        assert check_number(value, "k", error, bound, magnitude=1e12) == value
    elif type(value) is float:   # a float it refuses, check_number refuses too
        with pytest.raises(ValueError):
            check_number(value, "k", error, bound, magnitude=1e12)
