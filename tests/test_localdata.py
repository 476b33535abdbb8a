"""Tests for tpsim.config.localdata: the local-data CSV and the calibration config.

Every bad-data case named in the calibration issue gives a DataError that names the file, the
column and the line: unknown series, unparseable month, gaps, duplicates, negative counts,
non-numeric values, a month outside the scenario's horizon.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tpsim.errors import DataError, TpsimError
from tpsim.config.calibration import ConfigError, FitSettings, config_from_dict, load_config
from tpsim.config.localdata import month_label, month_number, read_local_data

START, HORIZON = "2026-04", 24
KNOWN = ["activity.ae_older", "spend.agency.nhs_acute", "reserves.agency.council_asc",
         "population.older_people.at_risk"]

GOOD = """\
# A comment line, and a blank line below, are ignored
month,series,value

2026-04,activity.ae_older,2250
2026-05,activity.ae_older,2301.5
2026-06,activity.ae_older,2290
2026-04,spend.agency.nhs_acute,4000000
2026-05,spend.agency.nhs_acute,4010000
2026-06,spend.agency.nhs_acute,4020000
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read(path: Path):
    return read_local_data(path, START, HORIZON, KNOWN, scenario_file="scenarios/x.yaml")


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# -- months -----------------------------------------------------------------------------------


def test_month_numbers_start_at_one_for_the_start_month():
    assert month_number("2026-04", "2026-04") == 1
    assert month_number("2027-03", "2026-04") == 12
    assert month_number("2027-04", "2026-04") == 13
    assert month_number("2026-03", "2026-04") == 0
    for m in (1, 9, 10, 12, 13, 60, 120):
        assert month_number(month_label("2026-04", m), "2026-04") == m
    assert month_label("2026-10", 4) == "2027-01"


# -- a good file --------------------------------------------------------------------------------


def test_good_file_parses(tmp_path):
    data = read(write(tmp_path, GOOD))
    assert list(data.series) == ["activity.ae_older", "spend.agency.nhs_acute"]
    ae = data.series["activity.ae_older"]
    assert ae.months.tolist() == [1, 2, 3]
    assert ae.values.tolist() == [2250.0, 2301.5, 2290.0]
    assert ae.weights.tolist() == [1.0, 1.0, 1.0] and ae.standard_errors is None
    assert ae.lines.tolist() == [4, 5, 6]
    assert data.n_rows == 6 and data.uncertainty_column is None
    assert data.comments == ("A comment line, and a blank line below, are ignored",)


def test_rows_in_any_order_with_weights_bom_and_text_columns(tmp_path):
    text = ("\ufeffMonth,Series,Value,Weight,Source\n"
            "2026-05,activity.ae_older,10,2,\"local SUS extract, 2026\"\n"
            "2026-04,activity.ae_older,12,,local\n"
            "2026-04,reserves.agency.council_asc,-5e5,1,accounts\n")
    data = read(write(tmp_path, text))
    ae = data.series["activity.ae_older"]
    assert ae.months.tolist() == [1, 2] and ae.values.tolist() == [12.0, 10.0]
    assert ae.weights.tolist() == [1.0, 2.0] and ae.lines.tolist() == [3, 2]
    # reserves are a money balance: negative values are allowed
    assert data.series["reserves.agency.council_asc"].values.tolist() == [-5e5]
    assert data.uncertainty_column == "weight"


def test_standard_errors(tmp_path):
    text = "month,series,value,se\n2026-04,activity.ae_older,10,2\n2026-05,activity.ae_older,11,3\n"
    obs = read(write(tmp_path, text)).series["activity.ae_older"]
    assert obs.standard_errors.tolist() == [2.0, 3.0] and obs.weights is None


# -- every bad-data case ------------------------------------------------------------------------

BAD_ROWS = [
    # (what, old row, new row, column, message fragment)
    ("unknown series", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_oldr,2301.5",
     "series", "unknown series 'activity.ae_oldr'"),
    ("unknown series hint", "2026-05,activity.ae_older,2301.5",
     "2026-05,activity.ae_oldr,2301.5", "series", "did you mean 'activity.ae_older'"),
    ("empty series", "2026-05,activity.ae_older,2301.5", "2026-05,,2301.5", "series",
     "series is empty"),
    ("unparseable month (no zero)", "2026-05,activity.ae_older,2301.5",
     "2026-5,activity.ae_older,2301.5", "month", "unparseable month '2026-5'"),
    ("unparseable month (13)", "2026-05,activity.ae_older,2301.5",
     "2026-13,activity.ae_older,2301.5", "month", "unparseable month '2026-13'"),
    ("unparseable month (words)", "2026-05,activity.ae_older,2301.5",
     "May 2026,activity.ae_older,2301.5", "month", "expected YYYY-MM"),
    ("unparseable month (a date)", "2026-05,activity.ae_older,2301.5",
     "2026-05-01,activity.ae_older,2301.5", "month", "unparseable month"),
    ("month before the start", "2026-05,activity.ae_older,2301.5",
     "2026-03,activity.ae_older,2301.5", "month",
     "month 2026-03 is outside the scenario's horizon 2026-04 to 2028-03"),
    ("month after the horizon", "2026-05,activity.ae_older,2301.5",
     "2028-04,activity.ae_older,2301.5", "month", "scenarios/x.yaml: time.start 2026-04"),
    ("non-numeric value", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_older,n/a",
     "value", "value 'n/a' is not a number"),
    ("value with a currency sign", "2026-05,spend.agency.nhs_acute,4010000",
     "2026-05,spend.agency.nhs_acute,£4010000", "value", "without currency signs"),
    ("empty value", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_older,",
     "value", "value is empty"),
    ("not finite", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_older,nan",
     "value", "must be a finite number"),
    ("infinite", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_older,inf",
     "value", "must be a finite number"),
    ("negative count", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_older,-3",
     "value", "negative value -3 for activity.ae_older"),
    ("negative spend", "2026-05,spend.agency.nhs_acute,4010000",
     "2026-05,spend.agency.nhs_acute,-4010000", "value", "cannot be negative"),
    ("too few fields", "2026-05,activity.ae_older,2301.5", "2026-05,activity.ae_older",
     None, "expected 3 fields"),
]


@pytest.mark.parametrize("what,old,new,column,fragment", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_rows_name_file_column_and_line(tmp_path, what, old, new, column, fragment):
    text = replace_line(GOOD, old, new)
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        read(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == line_of(text, new)
    assert err.key == column
    assert fragment in err.message
    assert str(err).startswith(f"{path}:{err.line}: ")


def test_duplicate_names_both_lines(tmp_path):
    text = replace_line(GOOD, "2026-06,activity.ae_older,2290", "2026-05,activity.ae_older,2290")
    with pytest.raises(DataError) as info:
        read(write(tmp_path, text))
    assert info.value.line == 6
    assert "duplicate row for activity.ae_older in 2026-05 (first given on line 5)" \
        in info.value.message


def test_gap_names_the_missing_month_and_the_row_after_it(tmp_path):
    text = replace_line(GOOD, "2026-05,spend.agency.nhs_acute,4010000\n", "")
    with pytest.raises(DataError) as info:
        read(write(tmp_path, text))
    err = info.value
    assert err.key == "month" and err.line == line_of(text, "2026-06,spend.agency.nhs_acute")
    assert "gap in series spend.agency.nhs_acute: no row for 2026-05 between 2026-04 and " \
           "2026-06" in err.message


def test_longer_gap(tmp_path):
    text = "month,series,value\n2026-04,activity.ae_older,1\n2026-08,activity.ae_older,1\n"
    with pytest.raises(DataError, match=r"no row for 2026-05 and 2 more month\(s\)"):
        read(write(tmp_path, text))


@pytest.mark.parametrize("header,fragment", [
    ("month,series,values", "unknown column 'values' (did you mean 'value'?)"),
    ("month,series", "no 'value' column"),
    ("month,value,series,series", "appears more than once"),
    ("month,series,value,weight,se", "not both"),
    ("month,series,value,", "empty column name"),
])
def test_bad_header(tmp_path, header, fragment):
    text = header + "\n2026-04,activity.ae_older,1\n"
    with pytest.raises(DataError) as info:
        read(write(tmp_path, text))
    assert fragment in info.value.message and info.value.line == 1


@pytest.mark.parametrize("column,cell,fragment", [
    ("weight", "-1", "weight must be >= 0"),
    ("weight", "heavy", "weight 'heavy' is not a number"),
    ("se", "0", "se (standard error) must be > 0"),
    ("se", "", "se is empty"),
])
def test_bad_weight_or_standard_error(tmp_path, column, cell, fragment):
    text = f"month,series,value,{column}\n2026-04,activity.ae_older,1,1\n" \
           f"2026-05,activity.ae_older,1,{cell}\n"
    with pytest.raises(DataError) as info:
        read(write(tmp_path, text))
    assert fragment in info.value.message and info.value.line == 3 and info.value.key == column


def test_missing_empty_and_headless_files(tmp_path):
    with pytest.raises(DataError, match="local data file not found"):
        read(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="the file is empty"):
        read(write(tmp_path, "# only a comment\n\n"))
    with pytest.raises(DataError, match="no data rows"):
        read(write(tmp_path, "month,series,value\n"))
    bad_bytes = tmp_path / "latin1.csv"
    bad_bytes.write_bytes("month,series,value\n2026-04,activity.ae_older,£1\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        read(bad_bytes)


def test_data_errors_are_user_errors():
    assert issubclass(DataError, TpsimError) and issubclass(ConfigError, TpsimError)


# -- the calibration config -------------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    (tmp_path / "scenario.yaml").write_text("name: x\n", encoding="utf-8")
    write(tmp_path, GOOD)
    return tmp_path


def base_config() -> dict:
    return {
        "scenario": "scenario.yaml",
        "data": "data.csv",
        "parameters": {
            "services.falls_prevention.effect": {"lower": 0.0, "upper": 0.5},
            "cohorts.older_people.states.at_risk.escalation": [0.01, 0.04],
        },
    }


def test_config_defaults_and_shorthands(files):
    cfg = config_from_dict(base_config(), base_dir=files)
    assert cfg.scenario_path == files / "scenario.yaml"
    assert [p.path for p in cfg.parameters] == ["services.falls_prevention.effect",
                                               "cohorts.older_people.states.at_risk.escalation"]
    assert cfg.parameters[1].lower == 0.01 and cfg.parameters[1].upper == 0.04
    assert cfg.parameters[0].initial is None
    assert cfg.series is None and cfg.fit == FitSettings()
    raw = base_config() | {"series": {"activity.ae_older": 2, "spend.agency.nhs_acute":
                                      {"weight": 0.5, "scale": 1e6}},
                           "fit": {"starts": 2, "seed": 7, "standard_errors": "absolute"}}
    cfg = config_from_dict(raw, base_dir=files)
    assert [(s.name, s.weight, s.scale) for s in cfg.series] == [
        ("activity.ae_older", 2.0, None), ("spend.agency.nhs_acute", 0.5, 1e6)]
    assert cfg.fit.starts == 2 and cfg.fit.seed == 7 and cfg.fit.standard_errors == "absolute"
    listed = config_from_dict(base_config() | {"series": ["activity.ae_older"]}, base_dir=files)
    assert listed.series[0].weight == 1.0


BAD_CONFIGS = [
    ("missing scenario", lambda c: c.pop("scenario"), "scenario", "required key is missing"),
    ("missing data file", lambda c: c.update(data="nope.csv"), "data", "local data file not found"),
    ("unknown key", lambda c: c.update(paramters={}), "paramters", "did you mean 'parameters'"),
    ("no parameters", lambda c: c.update(parameters={}), "parameters", "expected a mapping"),
    ("lower above upper", lambda c: c["parameters"].update(
        {"services.falls_prevention.effect": {"lower": 0.5, "upper": 0.1}}),
     "parameters.services.falls_prevention.effect", "must be below upper"),
    ("missing upper", lambda c: c["parameters"].update(
        {"services.falls_prevention.effect": {"lower": 0.5}}),
     "parameters.services.falls_prevention.effect.upper", "required key is missing"),
    ("bound as text", lambda c: c["parameters"].update(
        {"services.falls_prevention.effect": {"lower": "0", "upper": 1}}),
     "parameters.services.falls_prevention.effect.lower", "without quotes"),
    ("initial outside", lambda c: c["parameters"].update(
        {"services.falls_prevention.effect": {"lower": 0, "upper": 0.5, "initial": 0.9}}),
     "parameters.services.falls_prevention.effect.initial", "must lie within"),
    ("unknown parameter key", lambda c: c["parameters"].update(
        {"services.falls_prevention.effect": {"lower": 0, "upper": 0.5, "uper": 1}}),
     "parameters.services.falls_prevention.effect.uper", "did you mean 'upper'"),
    ("negative weight", lambda c: c.update(series={"activity.ae_older": -1}),
     "series.activity.ae_older", "weight must be >= 0"),
    ("all weights zero", lambda c: c.update(series={"activity.ae_older": 0}), "series",
     "nothing to fit"),
    ("bad scale", lambda c: c.update(series={"activity.ae_older": {"scale": 0}}),
     "series.activity.ae_older.scale", "must be > 0"),
    ("bad fit key", lambda c: c.update(fit={"start": 3}), "fit.start", "did you mean 'starts'"),
    ("bad starts", lambda c: c.update(fit={"starts": 0}), "fit.starts", "whole number from 1 to 1,000"),
    ("bad se choice", lambda c: c.update(fit={"standard_errors": "robust"}),
     "fit.standard_errors", "expected scaled or absolute"),
]


@pytest.mark.parametrize("what,mutate,key,fragment", BAD_CONFIGS, ids=[b[0] for b in BAD_CONFIGS])
def test_bad_config(files, what, mutate, key, fragment):
    raw = base_config()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, file="fit.yaml", base_dir=files)
    assert info.value.key == key and fragment in info.value.message
    assert info.value.file == "fit.yaml"


def test_config_file_errors_carry_lines(files):
    text = yaml.safe_dump(base_config(), sort_keys=False).replace("upper: 0.5", "upper: -0.5")
    path = write(files, text, "fit.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == line_of(text, "services.falls_prevention.effect")
    assert str(info.value).startswith(f"{path}:{info.value.line}: parameters.")
    dup = write(files, "scenario: scenario.yaml\ndata: data.csv\ndata: data.csv\n", "dup.yaml")
    with pytest.raises(ConfigError, match="duplicate key") as info:
        load_config(dup)
    assert info.value.line == 3
    broken = write(files, "scenario: [\n", "broken.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(files / "missing.yaml")
    cfg = load_config(write(files, yaml.safe_dump(base_config(), sort_keys=False), "ok.yaml"))
    assert cfg.scenario_path == files / "scenario.yaml"
    assert np.isclose(cfg.parameters[0].upper, 0.5)
