"""Tests for tpsim.config.scenario (loading, extends, validation, defaults) and tpsim.errors."""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tpsim.errors import DataError, ScenarioError, TpsimError
from tpsim.config.scenario import Scenario, load_scenario, scenario_from_dict

TOP_KEYS = ["name", "title", "description", "price_year", "sources", "time", "loops",
            "agencies", "cohorts", "services", "pool", "appraisal", "changes", "uncertainty"]


# -- helpers ----------------------------------------------------------------------------------


def write_yaml(directory: Path, data: dict, filename: str = "scenario.yaml") -> tuple[Path, str]:
    """Dump ``data`` as block-style YAML (document order) to ``directory/filename``."""
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path, text


def write_text(directory: Path, text: str, filename: str = "scenario.yaml") -> Path:
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first line containing ``needle`` (after the line with ``after``)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    for index in range(start, len(lines)):
        if needle in lines[index]:
            return index + 1
    raise AssertionError(f"{needle!r} not in text")


def load_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def check_error(err: ScenarioError, path: Path | str | None, key: str | None,
                line: int | None = None, contains: str | None = None) -> None:
    text = str(err)
    if path is not None:
        assert str(path) in text, text
        if line is not None:
            assert f"{path}:{line}: " in text, text
    if key is not None:
        assert err.key == key, text
        assert f": {key}: " in text, text
    if line is not None:
        assert err.line == line, text
    if contains is not None:
        assert contains in text, text


def invalid(tmp_path: Path, data: dict, mutate) -> tuple[ScenarioError, Path, str]:
    """Write a copy of ``data`` after ``mutate(copy)`` and return the load error."""
    data = copy.deepcopy(data)
    mutate(data)
    path, text = write_yaml(tmp_path, data)
    return load_error(path), path, text


SERVICE_P = "services.falls_prevention"
SERVICE_R = "services.residential_care"
STATES = "cohorts.older_people.states"


# -- errors -----------------------------------------------------------------------------------


def test_error_text_omits_missing_parts():
    assert str(TpsimError("bad", "a.yaml", "x.y", 3)) == "a.yaml:3: x.y: bad"
    assert str(TpsimError("bad", "a.yaml", "x.y")) == "a.yaml: x.y: bad"
    assert str(TpsimError("bad", "a.yaml")) == "a.yaml: bad"
    assert str(TpsimError("bad", key="x.y")) == "x.y: bad"
    assert str(TpsimError("bad")) == "bad"
    in_dir = Path("dir") / "a.yaml"
    assert str(TpsimError("bad", in_dir, line=2)) == f"{in_dir}:2: bad"


def test_error_hierarchy_and_pickling():
    assert issubclass(ScenarioError, TpsimError) and issubclass(DataError, TpsimError)
    err = pickle.loads(pickle.dumps(ScenarioError("bad", "a.yaml", "x", 4)))
    assert isinstance(err, ScenarioError)
    assert (err.message, err.file, err.key, err.line) == ("bad", "a.yaml", "x", 4)


# -- a valid scenario, defaults and types -----------------------------------------------------


def test_fixture_is_valid_and_resolves_every_default(tiny_scenario_dict):
    scenario = scenario_from_dict(tiny_scenario_dict)
    assert isinstance(scenario, Scenario)
    data = scenario.data
    assert list(data) == TOP_KEYS
    assert scenario.name == "tiny" and scenario.path is None
    assert data["loops"] == {"doom_loop": True, "reinvestment": True,
                             "waiting_deterioration": True, "quality_erosion": True}
    agency = data["agencies"]["council_asc"]
    assert agency["efficiency_target"] == 0.0 and agency["quality_erosion"] == 0.0
    states = data["cohorts"]["older_people"]["states"]
    assert list(states) == ["independent", "at_risk", "high_need"]
    assert states["high_need"]["escalation"] == 0.0 and states["independent"]["recovery"] == 0.0
    assert states["at_risk"]["inflow"] == 0.0
    prevent = data["services"]["falls_prevention"]
    assert list(prevent) == ["label", "agency", "cohort", "kind", "unit_cost", "states", "places",
                             "uptake", "effect", "time_to_effect", "delay_order", "community",
                             "recovery_effect", "short_run_effect", "effect_decay", "deadweight",
                             "displacement", "attribution", "utilisation_effects", "substitutes"]
    assert prevent["community"] == {"places": 0.0, "unit_cost": 0.0, "ramp_time": 12.0}
    assert (prevent["recovery_effect"], prevent["short_run_effect"], prevent["effect_decay"],
            prevent["deadweight"], prevent["displacement"], prevent["attribution"]) == \
        (0.0, 0.0, None, 0.0, 0.0, 1.0)
    assert prevent["utilisation_effects"] == {} and prevent["substitutes"] == {}
    assert (states["at_risk"]["death_share"], states["at_risk"]["transition_share"],
            states["at_risk"]["employment"]) == (0.0, 0.0, 0.0)
    assert data["cohorts"]["older_people"]["transition"] is None
    assert data["cohorts"]["older_people"]["employment_value"] == 0.0
    react = data["services"]["residential_care"]
    assert list(react) == ["label", "agency", "cohort", "kind", "unit_cost", "utilisation",
                           "fixed_share", "decommission_delay", "capacity", "queue_clear_time",
                           "deterioration", "cashable_share"]
    assert react["cashable_share"] == 1.0
    assert react["capacity"] is None and react["queue_clear_time"] == 1.0
    assert data["pool"]["enabled"] is False
    assert data["pool"]["contributions"] == {} and data["pool"]["services"] == {}
    assert data["pool"]["double_running"] == {"cost": 0.0, "months": 0.0}
    assert data["appraisal"] == {"discount_rate": 0.035, "health_discount_rate": 0.015,
                                 "optimism_bias": 0.0, "qaly_value": 70000.0,
                                 "qaly_uprating": 1.0, "benefit_haircut": 0.0,
                                 "value_qalys": True, "qaly_price_year": None,
                                 "optimism_bias_category": None, "optimism_bias_reason": None,
                                 "benefit_delay_months": 0, "outcome_values": {},
                                 "employment_output_value": 0.0,
                                 "employment_output_source": None}
    assert data["changes"] == []


def test_minimal_file_gets_defaults_and_types(tmp_path):
    path = write_text(tmp_path, """\
price_year: "2024-25"
agencies:
  council: {budget: 1000}
cohorts:
  people:
    states:
      well: {initial: 100, escalation: 0.01}
      ill: {initial: 10}
services:
  help:
    agency: council
    cohort: people
    kind: preventive
    unit_cost: 40
    states: [well]
    places: 5
    effect: 0.1
""", "minimal.yaml")
    scenario = load_scenario(path)
    data = scenario.data
    assert scenario.name == "minimal" and data["title"] == "minimal" and data["description"] == ""
    assert scenario.path == path
    assert data["time"] == {"start": "2026-04", "horizon": 60, "dt": 0.25, "method": "euler"}
    assert type(data["time"]["horizon"]) is int
    assert data["agencies"]["council"]["label"] == "council"
    assert data["agencies"]["council"]["type"] == "other"
    assert data["agencies"]["council"]["perception_delay"] == 6.0
    assert data["cohorts"]["people"]["states"]["ill"]["utility"] is None
    help_ = data["services"]["help"]
    assert help_["uptake"] == 1.0 and help_["time_to_effect"] == 6.0
    assert help_["delay_order"] == 3 and type(help_["delay_order"]) is int
    assert data["sources"] == {} and data["pool"]["overhead_ramp"] == 24.0
    for path_ in scenario.parameter_paths():
        value = scenario.get(path_)
        assert type(value) in (float, bool), (path_, value)


def test_format_doc_exponent_numbers_are_numbers(tmp_path, tiny_scenario_dict):
    """The format document writes ``budget: 9.0e6``; YAML 1.1 alone would read it as text."""
    data = tiny_scenario_dict
    path, text = write_yaml(tmp_path, data)
    text = text.replace("budget: 200000.0", "budget: 9.0e6").replace("reserves: 500000.0",
                                                                     "reserves: 1e6")
    path.write_text(text)
    agency = load_scenario(path).data["agencies"]["council_asc"]
    assert agency["budget"] == 9.0e6 and agency["reserves"] == 1.0e6


def test_resolved_data_is_a_fixed_point(tiny_scenario_dict):
    scenario = scenario_from_dict(tiny_scenario_dict)
    assert scenario_from_dict(scenario.data).data == scenario.data


def test_input_dict_is_not_modified(tiny_scenario_dict):
    before = copy.deepcopy(tiny_scenario_dict)
    scenario_from_dict(tiny_scenario_dict)
    assert tiny_scenario_dict == before


def test_dict_and_file_give_the_same_data(tmp_path, tiny_scenario_dict):
    path, _ = write_yaml(tmp_path, tiny_scenario_dict, "tiny.yaml")
    from_file = load_scenario(path)
    from_dict = scenario_from_dict(tiny_scenario_dict)
    assert from_file.data == from_dict.data
    assert from_file == from_dict and from_file.hash == from_dict.hash
    assert from_file.locations[f"{SERVICE_P}.effect"][0] == str(path)


def test_reactive_utilisation_follows_cohort_state_order(tiny_scenario_dict):
    tiny_scenario_dict["services"]["residential_care"]["utilisation"] = {
        "high_need": 0.3, "independent": 0.001}
    tiny_scenario_dict["services"]["falls_prevention"]["states"] = ["at_risk", "independent"]
    data = scenario_from_dict(tiny_scenario_dict).data
    assert list(data["services"]["residential_care"]["utilisation"]) == ["independent",
                                                                          "high_need"]
    assert data["services"]["falls_prevention"]["states"] == ["independent", "at_risk"]


# -- file-level problems ----------------------------------------------------------------------


def test_missing_file(tmp_path):
    err = load_error(tmp_path / "nope.yaml")
    check_error(err, tmp_path / "nope.yaml", None, contains="not found")


def test_yaml_syntax_error_has_line(tmp_path):
    path = write_text(tmp_path, "price_year: '2024-25'\nagencies:\n  council:\n"
                                "    budget: 9.0e6\n     type: council\n")
    check_error(load_error(path), path, None, 5, "invalid YAML: mapping values are not allowed")


def test_unsafe_yaml_tags_are_refused(tmp_path):
    path = write_text(tmp_path, "price_year: !!python/object/apply:os.getcwd []\n")
    check_error(load_error(path), path, None, 1, "invalid YAML: could not determine a constructor")


def test_duplicate_key_has_line(tmp_path):
    path = write_text(tmp_path, "price_year: '2024-25'\ntime:\n  dt: 0.25\n  dt: 0.5\n")
    check_error(load_error(path), path, "time.dt", 4, "duplicate key (first set on line 3)")


def test_merge_keys_may_override_what_they_merge(tmp_path):
    """``<<: *anchor`` then a key of the anchor's: YAML's override, not a duplicate key."""
    baseline = Path(__file__).parents[1] / "scenarios" / "baseline.yaml"
    path = write_text(tmp_path, f"extends: {baseline}\nname: merged\nagencies:\n"
                                "  council_asc: &council\n    cut_rate: 0.5\n"
                                "  council_childrens:\n    <<: *council\n    cut_rate: 0.4\n")
    sc = load_scenario(path)
    assert sc.data["agencies"]["council_asc"]["cut_rate"] == 0.5
    assert sc.data["agencies"]["council_childrens"]["cut_rate"] == 0.4
    assert sc.locations["agencies.council_childrens.cut_rate"][1] == 8


def test_top_level_must_be_a_mapping(tmp_path):
    path = write_text(tmp_path, "- a\n- b\n")
    check_error(load_error(path), path, None, contains="mapping")


def test_empty_file_says_it_is_empty(tmp_path):
    path = write_text(tmp_path, "# nothing yet\n")
    check_error(load_error(path), path, None, contains="the file is empty")


# -- unknown keys -----------------------------------------------------------------------------


def test_unknown_key_with_suggestion_and_line(tmp_path, tiny_scenario_dict):
    def mutate(d):
        d["services"]["falls_prevention"]["efect"] = d["services"]["falls_prevention"].pop(
            "effect")
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    check_error(err, path, f"{SERVICE_P}.efect", line_of(text, "efect:"),
                "unknown key (did you mean 'effect'?)")


@pytest.mark.parametrize("section, key, suggestion", [
    (None, "servises", "services"),
    ("time", "horizn", "horizon"),
    ("loops", "doomloop", "doom_loop"),
    ("agencies.council_asc", "budjet", "budget"),
    (f"{STATES}.at_risk", "escalaton", "escalation"),
    (f"{SERVICE_R}", "utilization", "utilisation"),
    ("pool", "capture_shar", "capture_share"),
    ("appraisal", "discount", "discount_rate"),
])
def test_unknown_keys_at_every_level(tmp_path, section, key, suggestion, tiny_scenario_dict):
    def mutate(d):
        node = d
        for part in (section.split(".") if section else []):
            node = node.setdefault(part, {})
        node[key] = 1.0
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    full = f"{section}.{key}" if section else key
    check_error(err, path, full, line_of(text, f"{key}:"), f"did you mean '{suggestion}'?")


def test_unknown_key_without_close_match_lists_options(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict,
                           lambda d: d.setdefault("time", {}).update(zzz=1))
    check_error(err, path, "time.zzz", contains="expected one of: start, horizon, dt, method")


def test_key_of_the_other_service_kind(tmp_path, tiny_scenario_dict):
    err, path, text = invalid(
        tmp_path, tiny_scenario_dict,
        lambda d: d["services"]["residential_care"].update(places=5))
    check_error(err, path, f"{SERVICE_R}.places", line_of(text, "places:", after="residential"),
                "places applies to preventive services only")
    err, path, _ = invalid(
        tmp_path, tiny_scenario_dict,
        lambda d: d["services"]["falls_prevention"].update(capacity=5))
    check_error(err, path, f"{SERVICE_P}.capacity",
                contains="capacity applies to reactive services only")


# -- types ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, message", [
    (True, "expected a number, got true (a boolean)"),
    ("40", "expected a number, got the text '40' (write the number without quotes)"),
    ("lots", "expected a number, got the text 'lots'"),
    ([40], "expected a number, got a list"),
    (None, "expected a number, got nothing (null)"),
    (float("inf"), "must be a finite number"),
])
def test_wrong_number_types(tmp_path, value, message, tiny_scenario_dict):
    err, path, text = invalid(
        tmp_path, tiny_scenario_dict,
        lambda d: d["services"]["falls_prevention"].update(unit_cost=value))
    check_error(err, path, f"{SERVICE_P}.unit_cost", line_of(text, "unit_cost:"), message)


def test_switch_must_be_boolean(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(loops={"doom_loop": 1}))
    check_error(err, path, "loops.doom_loop", contains="expected true or false")


def test_section_must_be_mapping(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(time=[1, 2]))
    check_error(err, path, "time", contains="expected a mapping of keys, got a list")


@pytest.mark.parametrize("mutate, key, message", [
    (lambda d: d["time"].update(method="rk5"), "time.method", "did you mean 'rk4'?"),
    (lambda d: d["agencies"]["council_asc"].update(type="counsil"),
     "agencies.council_asc.type", "did you mean 'council'?"),
    (lambda d: d["services"]["falls_prevention"].update(kind="prevent"),
     f"{SERVICE_P}.kind", "did you mean 'preventive'?"),
    (lambda d: d["time"].update(start="2026-13"), "time.start", "YYYY-MM"),
    (lambda d: d["time"].update(horizon=12.5), "time.horizon", "expected a whole number"),
    (lambda d: d["services"]["falls_prevention"].update(states="at_risk"),
     f"{SERVICE_P}.states", "expected a non-empty list"),
    (lambda d: d["agencies"]["council_asc"].update(label=5), "agencies.council_asc.label",
     "expected text"),
])
def test_wrong_choices_and_shapes(tmp_path, mutate, key, message, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict, mutate)
    check_error(err, path, key, contains=message)


# -- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize("section, key, value, message", [
    (f"{STATES}.at_risk", "escalation", -0.01, "must be >= 0 (got -0.01)"),
    (f"{STATES}.at_risk", "initial", -1, "must be >= 0"),
    ("agencies.council_asc", "budget", -5, "must be >= 0"),
    ("agencies.council_asc", "budget_growth", -1, "must be in (-1, 10]"),
    ("agencies.council_asc", "perception_delay", 0, "must be > 0"),
    ("agencies.council_asc", "funding_floor", 1.5, "must be in [0, 1] (got 1.5)"),
    ("agencies.council_asc", "efficiency_target", 1.0, "must be in [0, 1) (got 1)"),
    (SERVICE_P, "effect", 1.2, "must be in [0, 1]"),
    (SERVICE_P, "uptake", -0.1, "must be in [0, 1]"),
    (SERVICE_P, "delay_order", 11, "must be a whole number from 1 to 10"),
    (SERVICE_P, "delay_order", 2.5, "expected a whole number"),
    (SERVICE_R, "capacity", 0, "must be > 0"),
    (SERVICE_R, "fixed_share", 2, "must be in [0, 1]"),
    (f"{STATES}.at_risk", "utility", 1.5, "must be in [-1, 1]"),
    ("time", "horizon", 0, "must be a whole number from 1 to 1200"),
    ("time", "dt", -0.25, "must be > 0"),
    ("pool", "capture_share", 1.1, "must be in [0, 1]"),
])
def test_out_of_range_values(tmp_path, section, key, value, message, tiny_scenario_dict):
    def mutate(d):
        node = d
        for part in section.split("."):
            node = node.setdefault(part, {})
        node[key] = value
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    block = section.split(".")[-1]
    check_error(err, path, f"{section}.{key}", line_of(text, f"{key}:", after=f"{block}:"),
                message)


def test_escalation_in_last_state_and_recovery_in_first(tmp_path, tiny_scenario_dict):
    def state(d, state_id):
        return d["cohorts"]["older_people"]["states"][state_id]

    err, path, text = invalid(tmp_path, tiny_scenario_dict,
                              lambda d: state(d, "high_need").update(escalation=0.01))
    check_error(err, path, f"{STATES}.high_need.escalation",
                line_of(text, "escalation:", after="high_need:"), "must be 0 in the last state")
    err, path, _ = invalid(tmp_path, tiny_scenario_dict,
                           lambda d: state(d, "independent").update(recovery=0.01))
    check_error(err, path, f"{STATES}.independent.recovery",
                contains="must be 0 in the first state")


def test_cohort_needs_two_states(tmp_path, tiny_scenario_dict):
    def mutate(d):
        d["cohorts"]["older_people"]["states"] = {"independent": {"initial": 5.0}}
        d["services"]["falls_prevention"]["states"] = ["independent"]
        d["services"]["residential_care"]["utilisation"] = {"independent": 0.1}
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    check_error(err, path, STATES, line_of(text, "states:"), "at least two states")


@pytest.mark.parametrize("bad_id", ["Council", "2council", "council-asc", "council asc"])
def test_bad_ids(tmp_path, bad_id, tiny_scenario_dict):
    def mutate(d):
        d["agencies"][bad_id] = d["agencies"].pop("council_asc")
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    check_error(err, path, f"agencies.{bad_id}", contains="lower-case letter")


# -- missing keys and references --------------------------------------------------------------


@pytest.mark.parametrize("section, key", [
    (None, "price_year"),
    (None, "agencies"),
    (None, "services"),
    ("agencies.council_asc", "budget"),
    (f"{STATES}.at_risk", "initial"),
    (SERVICE_P, "kind"),
    (SERVICE_P, "agency"),
    (SERVICE_P, "unit_cost"),
    (SERVICE_P, "places"),
    (SERVICE_P, "effect"),
    (SERVICE_P, "states"),
    (SERVICE_R, "utilisation"),
])
def test_missing_required_keys(tmp_path, section, key, tiny_scenario_dict):
    def mutate(d):
        node = d
        for part in (section.split(".") if section else []):
            node = node[part]
        del node[key]
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    full = f"{section}.{key}" if section else key
    check_error(err, path, full, contains="required key is missing")
    if section:  # located at the enclosing mapping
        assert err.line == line_of(text, section.split(".")[-1] + ":")


def test_empty_sections(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(agencies={}))
    check_error(err, path, "agencies", contains="at least one agency")


@pytest.mark.parametrize("mutate, key, message, needle, after", [
    (lambda d: d["services"]["falls_prevention"].update(agency="council_as"),
     f"{SERVICE_P}.agency", "unknown agency 'council_as' (did you mean 'council_asc'?)",
     "agency: council_as", None),
    (lambda d: d["services"]["falls_prevention"].update(cohort="older_peeple"),
     f"{SERVICE_P}.cohort", "unknown cohort 'older_peeple' (did you mean 'older_people'?)",
     "cohort: older_peeple", None),
    (lambda d: d["services"]["falls_prevention"].update(states=["at_risk", "at_rsk"]),
     f"{SERVICE_P}.states.1",
     "'at_rsk' is not a state of cohort 'older_people' (did you mean 'at_risk'?)",
     "- at_rsk", None),
    (lambda d: d["services"]["falls_prevention"].update(states=["at_risk", "at_risk"]),
     f"{SERVICE_P}.states.1", "listed twice", "- at_risk", "- at_risk"),
    (lambda d: d["services"]["residential_care"]["utilisation"].update(crisis=0.2),
     f"{SERVICE_R}.utilisation.crisis", "'crisis' is not a state of cohort 'older_people'",
     "crisis:", None),
    (lambda d: d.update(pool={"contributions": {"council_as": 0.1}}),
     "pool.contributions.council_as", "unknown agency 'council_as' (did you mean",
     "council_as:", "pool:"),
    (lambda d: d.update(pool={"services": {"falls_preventon": 0.1}}),
     "pool.services.falls_preventon", "unknown service 'falls_preventon' (did you mean",
     "falls_preventon:", None),
    (lambda d: d.update(pool={"services": {"residential_care": 0.1}}),
     "pool.services.residential_care", "the pool funds preventive services only",
     "residential_care:", "pool:"),
    (lambda d: d.update(pool={"contributions": {"council_asc": 1.5}}),
     "pool.contributions.council_asc", "must be in [0, 1]", "council_asc:", "pool:"),
])
def test_unknown_references(tmp_path, mutate, key, message, needle, after, tiny_scenario_dict):
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    check_error(err, path, key, line_of(text, needle, after=after), message)


def test_pool_shares_sum_to_at_most_one(tmp_path, tiny_scenario_dict):
    def mutate(d):
        d["services"]["extra"] = dict(d["services"]["falls_prevention"])
        d["pool"] = {"services": {"falls_prevention": 0.6, "extra": 0.5}}
    err, path, text = invalid(tmp_path, tiny_scenario_dict, mutate)
    check_error(err, path, "pool.services", line_of(text, "services:", after="pool:"),
                "shares must sum to at most 1 (got 1.1)")


# -- the time step ----------------------------------------------------------------------------


def test_dt_must_divide_a_month(tmp_path, tiny_scenario_dict):
    err, path, text = invalid(tmp_path, tiny_scenario_dict, lambda d: d["time"].update(dt=0.3))
    check_error(err, path, "time.dt", line_of(text, "dt:"), "1/dt must be a whole number")


def test_dt_accepts_inexact_reciprocals(tiny_scenario_dict):
    tiny_scenario_dict["time"]["dt"] = 1 / 3
    assert scenario_from_dict(tiny_scenario_dict).data["time"]["dt"] == 1 / 3


def test_dt_too_large_for_fastest_rate(tmp_path, tiny_scenario_dict):
    err, path, text = invalid(
        tmp_path, tiny_scenario_dict,
        lambda d: d["services"]["falls_prevention"].update(time_to_effect=0.5))
    check_error(err, path, "time.dt", line_of(text, "dt:"),
                f"fastest rate, {SERVICE_P}.time_to_effect (delay_order / time_to_effect = 6 per "
                f"month)")
    assert "largest allowed dt is 1/6 = 0.166667" in str(err)


def test_dt_state_rate_is_the_sum_of_outflows(tiny_scenario_dict):
    tiny_scenario_dict["cohorts"]["older_people"]["states"]["at_risk"].update(
        escalation=2.0, recovery=1.0, exit=1.5)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(tiny_scenario_dict)
    assert f"{STATES}.at_risk (escalation + recovery + exit = 4.5 per month)" in str(info.value)
    assert "largest allowed dt is 1/5 = 0.2" in str(info.value)
    tiny_scenario_dict["time"]["dt"] = 0.2
    scenario_from_dict(tiny_scenario_dict)


def test_dt_exactly_at_the_limit_is_allowed(tiny_scenario_dict):
    tiny_scenario_dict["services"]["falls_prevention"].update(time_to_effect=0.75)  # 3/0.75 = 4
    scenario_from_dict(tiny_scenario_dict)


def test_dt_pool_rates_count_only_when_enabled(tiny_scenario_dict):
    tiny_scenario_dict["pool"] = {"enabled": False, "adjust_time": 0.1}
    scenario_from_dict(tiny_scenario_dict)
    tiny_scenario_dict["pool"]["enabled"] = True
    with pytest.raises(ScenarioError, match=r"pool\.adjust_time \(1 / adjust_time = 10"):
        scenario_from_dict(tiny_scenario_dict)


# -- changes ----------------------------------------------------------------------------------


def test_changes_are_resolved_and_sorted(tiny_scenario_dict):
    tiny_scenario_dict["changes"] = [
        {"month": 12, "set": {f"{SERVICE_P}.places": 500, "loops.doom_loop": False}},
        {"month": 6, "set": {"pool.enabled": 1}},
    ]
    changes = scenario_from_dict(tiny_scenario_dict).data["changes"]
    assert changes == [{"month": 6.0, "set": {"pool.enabled": 1.0}},
                       {"month": 12.0, "set": {f"{SERVICE_P}.places": 500.0,
                                               "loops.doom_loop": 0.0}}]
    assert all(type(v) is float for c in changes for v in [c["month"], *c["set"].values()])


def test_change_to_unknown_path(tmp_path, tiny_scenario_dict):
    err, path, text = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(
        changes=[{"month": 12, "set": {f"{SERVICE_P}.plces": 3000}}]))
    check_error(err, path, f"changes.0.set.{SERVICE_P}.plces", line_of(text, "plces:"),
                f"not a parameter path (did you mean '{SERVICE_P}.places'?)")


def test_change_to_non_parameter(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(
        changes=[{"month": 1, "set": {"time.dt": 0.5}}]))
    check_error(err, path, "changes.0.set.time.dt", contains="not a parameter")


@pytest.mark.parametrize("month, message", [(24, "must be before the end of the run"),
                                            (-1, "must be >= 0")])
def test_change_month_in_range(tmp_path, month, message, tiny_scenario_dict):
    err, path, text = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(
        changes=[{"month": month, "set": {f"{SERVICE_P}.places": 3000}}]))
    check_error(err, path, "changes.0.month", line_of(text, "month:"), message)


def test_change_value_is_validated(tmp_path, tiny_scenario_dict):
    err, path, text = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(changes=[
        {"month": 1, "set": {f"{SERVICE_P}.places": 10}},
        {"month": 3, "set": {f"{SERVICE_P}.effect": 1.5}}]))
    check_error(err, path, f"changes.1.set.{SERVICE_P}.effect", line_of(text, "effect: 1.5"),
                "must be in [0, 1] (got 1.5)")


def test_change_type_is_validated(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(changes=[
        {"month": 1, "set": {f"{SERVICE_P}.places": "many"}}]))
    check_error(err, path, f"changes.0.set.{SERVICE_P}.places", contains="expected a number")


def test_change_that_breaks_the_time_step(tmp_path, tiny_scenario_dict):
    err, path, text = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(changes=[
        {"month": 1, "set": {f"{SERVICE_P}.time_to_effect": 0.5}}]))
    check_error(err, path, "changes.0", line_of(text, "- month:"),
                "after this change, time.dt: dt = 0.25 months is too large")


def test_changes_are_checked_cumulatively(tmp_path, tiny_scenario_dict):
    # Each change is valid alone; the second breaks the time step only on top of the first.
    state = "cohorts.older_people.states.at_risk"
    err, path, text = invalid(tmp_path, tiny_scenario_dict, lambda d: d.update(changes=[
        {"month": 1, "set": {f"{state}.escalation": 2.5}},
        {"month": 3, "set": {f"{state}.recovery": 2.0}}]))
    check_error(err, path, "changes.1", contains="after this change, time.dt")
    tiny_scenario_dict["changes"] = [{"month": 3, "set": {f"{state}.recovery": 2.0}}]
    scenario_from_dict(tiny_scenario_dict)


def test_validation_leaves_its_input_unchanged():
    # check_changes_apply shares all but the changed paths between trials, which is only
    # sound while resolving never writes into the mapping it reads.
    from tpsim.config.scenario import _Validator
    for path in sorted(Path(__file__).parent.parent.glob("scenarios/*.yaml")):
        if path.name == "evidence.yaml":
            continue
        data = copy.deepcopy(load_scenario(path).data)
        data.pop("uncertainty")
        before = pickle.dumps(data)
        _Validator(str(path), {}).resolve(data, data["name"])
        assert pickle.dumps(data) == before, path.name


def test_changes_needs_a_list_and_set(tmp_path, tiny_scenario_dict):
    err, path, _ = invalid(tmp_path, tiny_scenario_dict,
                           lambda d: d.update(changes={"month": 1}))
    check_error(err, path, "changes", contains="expected a list")
    err, path, _ = invalid(tmp_path, tiny_scenario_dict,
                           lambda d: d.update(changes=[{"month": 1}]))
    check_error(err, path, "changes.0.set", contains="required key is missing")


# -- extends ----------------------------------------------------------------------------------


def write_family(tmp_path: Path, parent: dict) -> tuple[Path, Path]:
    parent["changes"] = [{"month": 6, "set": {f"{SERVICE_P}.places": 400}}]
    write_yaml(tmp_path, parent, "base.yaml")
    child = write_text(tmp_path, """\
extends: base.yaml
services:
  falls_prevention:
    effect: 0.3
    states: [independent, at_risk]
changes:
  - month: 3
    set: {agencies.council_asc.cut_rate: 0.1}
""", "child.yaml")
    return tmp_path / "base.yaml", child


def test_extends_merges_mappings_and_replaces_lists(tmp_path, tiny_scenario_dict):
    base_path, child_path = write_family(tmp_path, tiny_scenario_dict)
    base, child = load_scenario(base_path), load_scenario(child_path)
    falls = child.data["services"]["falls_prevention"]
    assert falls["effect"] == 0.3 and falls["places"] == 300.0  # merged key by key
    assert falls["states"] == ["independent", "at_risk"]  # list replaced
    assert child.data["changes"] == [{"month": 3.0,
                                      "set": {"agencies.council_asc.cut_rate": 0.1}}]
    assert "extends" not in child.data
    assert child.data["agencies"] == base.data["agencies"]
    # identity is not inherited
    assert child.name == "child" and child.data["title"] == "child"
    assert child.data["description"] == "" and base.name == "tiny"


def test_extends_locations_point_to_the_file_that_set_the_key(tmp_path, tiny_scenario_dict):
    base_path, child_path = write_family(tmp_path, tiny_scenario_dict)
    child = load_scenario(child_path)
    assert child.locations[f"{SERVICE_P}.effect"] == (str(child_path), 4)
    base_text = base_path.read_text()
    assert child.locations[f"{SERVICE_P}.places"] == (str(base_path),
                                                      line_of(base_text, "places:"))
    assert child.locations["changes.0"][0] == str(child_path)
    assert not any(p.startswith("changes.0.set.services") for p in child.locations)
    assert "name" not in child.locations


def test_error_in_parent_value_names_the_parent_file(tmp_path, tiny_scenario_dict):
    parent = tiny_scenario_dict
    parent["agencies"]["council_asc"]["budget"] = -1
    _, parent_text = write_yaml(tmp_path, parent, "base.yaml")
    child = write_text(tmp_path, "extends: base.yaml\n", "child.yaml")
    check_error(load_error(child), tmp_path / "base.yaml", "agencies.council_asc.budget",
                line_of(parent_text, "budget:"), "must be >= 0")


def test_error_in_child_value_names_the_child_file(tmp_path, tiny_scenario_dict):
    write_yaml(tmp_path, tiny_scenario_dict, "base.yaml")
    child = write_text(tmp_path, "extends: base.yaml\nagencies:\n  council_asc:\n"
                                 "    budjet: 5\n", "child.yaml")
    check_error(load_error(child), child, "agencies.council_asc.budjet", 4, "did you mean")


def test_extends_relative_to_the_extending_file(tmp_path, tiny_scenario_dict):
    (tmp_path / "lib").mkdir()
    (tmp_path / "places").mkdir()
    write_yaml(tmp_path / "lib", tiny_scenario_dict, "base.yaml")
    write_text(tmp_path / "places", "extends: ../lib/base.yaml\ntime: {horizon: 12}\n",
               "mid.yaml")
    leaf = write_text(tmp_path, "extends: places/mid.yaml\ntime: {dt: 0.5}\n", "leaf.yaml")
    data = load_scenario(leaf).data
    assert data["time"]["horizon"] == 12 and data["time"]["dt"] == 0.5
    assert data["agencies"]["council_asc"]["budget"] == 200000.0


def test_extends_missing_file_names_the_extending_file(tmp_path):
    child = write_text(tmp_path, "title: x\nextends: nowhere.yaml\n", "child.yaml")
    check_error(load_error(child), child, "extends", 2, "extended file not found")


def test_extends_must_be_text(tmp_path):
    child = write_text(tmp_path, "extends: 5\n", "child.yaml")
    check_error(load_error(child), child, "extends", 1, "expected the path of a scenario file")


def test_extends_cycle(tmp_path):
    a = write_text(tmp_path, "extends: b.yaml\n", "a.yaml")
    b = write_text(tmp_path, "price_year: '2024'\nextends: a.yaml\n", "b.yaml")
    err = load_error(a)
    check_error(err, b, "extends", 2, "extends cycle")
    assert f"{a} -> {b} -> {a}" in str(err)


def test_extends_self_cycle(tmp_path):
    a = write_text(tmp_path, "extends: a.yaml\n", "a.yaml")
    check_error(load_error(a), a, "extends", 1, "extends cycle")


def test_scenario_from_dict_with_extends(tmp_path, tiny_scenario_dict):
    write_yaml(tmp_path, tiny_scenario_dict, "base.yaml")
    scenario = scenario_from_dict({"extends": "base.yaml", "time": {"horizon": 36}},
                                  source="variant.yaml", base_dir=tmp_path)
    assert scenario.name == "variant" and scenario.data["time"]["horizon"] == 36
    assert scenario.locations["agencies.council_asc.budget"][0] == str(tmp_path / "base.yaml")


# -- parameter paths, get, overrides, hash ----------------------------------------------------


def test_parameter_paths(tiny_scenario_dict):
    tiny_scenario_dict["pool"] = {"contributions": {"council_asc": 0.01},
                                  "services": {"falls_prevention": 0.5}}
    paths = scenario_from_dict(tiny_scenario_dict).parameter_paths()
    for expected in ["loops.doom_loop", "agencies.council_asc.budget",
                     "cohorts.older_people.inflow_growth", f"{STATES}.at_risk.escalation",
                     f"{SERVICE_P}.effect", f"{SERVICE_P}.community.ramp_time",
                     f"{SERVICE_R}.utilisation.high_need", f"{SERVICE_R}.fixed_share",
                     "pool.enabled", "pool.contributions.council_asc",
                     "pool.services.falls_prevention", "pool.double_running.cost",
                     "pool.overhead_ramp"]:
        assert expected in paths
    for excluded in [f"{STATES}.at_risk.utility", f"{SERVICE_P}.delay_order",
                     f"{SERVICE_R}.capacity", "time.dt", "time.horizon",
                     "appraisal.discount_rate", "appraisal.value_qalys"]:
        assert excluded not in paths
    assert len(paths) == len(set(paths))
    assert paths.index("loops.quality_erosion") < paths.index("agencies.council_asc.budget")
    assert paths.index(f"{STATES}.independent.exit") < paths.index(f"{STATES}.at_risk.initial")
    assert paths.index(f"{SERVICE_P}.unit_cost") < paths.index(f"{SERVICE_R}.unit_cost")
    assert paths.index(f"{SERVICE_R}.deterioration") < paths.index("pool.enabled")


def test_capacity_is_a_parameter_when_set(tiny_scenario_dict):
    tiny_scenario_dict["services"]["residential_care"]["capacity"] = 80
    scenario = scenario_from_dict(tiny_scenario_dict)
    assert f"{SERVICE_R}.capacity" in scenario.parameter_paths()
    assert scenario.get(f"{SERVICE_R}.capacity") == 80.0


def test_get(tiny_scenario_dict):
    scenario = scenario_from_dict(tiny_scenario_dict)
    assert scenario.get(f"{SERVICE_P}.effect") == 0.2
    assert scenario.get("time.horizon") == 24
    assert scenario.get(f"{SERVICE_P}.states.0") == "at_risk"
    with pytest.raises(ScenarioError, match="did you mean"):
        scenario.get(f"{SERVICE_P}.efect")


def test_replace_overrides(tiny_scenario_dict):
    base = scenario_from_dict(tiny_scenario_dict)
    changed = base.replace(overrides={f"{SERVICE_P}.effect": 0.35, "loops.doom_loop": 0,
                                   "pool.enabled": 1, "agencies.council_asc.budget": 250000})
    assert changed.get(f"{SERVICE_P}.effect") == 0.35
    assert changed.get("loops.doom_loop") is False and changed.get("pool.enabled") is True
    assert type(changed.get("agencies.council_asc.budget")) is float
    assert base.get(f"{SERVICE_P}.effect") == 0.2  # the original is untouched
    assert changed.name == base.name and changed.locations == base.locations
    assert base.replace(overrides={}) is base and base.replace() is base


@pytest.mark.parametrize("overrides, key, message", [
    ({f"{SERVICE_P}.efect": 0.3}, f"{SERVICE_P}.efect", "did you mean"),
    ({f"{STATES}.at_risk.escalation": -1}, f"{STATES}.at_risk.escalation", "must be >= 0"),
    ({f"{SERVICE_P}.effect": "high"}, f"{SERVICE_P}.effect", "expected a number"),
    ({f"{SERVICE_P}.effect": True}, f"{SERVICE_P}.effect", "expected a number"),
    ({"loops.doom_loop": 2}, "loops.doom_loop", "expected 0, 1, true or false"),
    ({"time.dt": 0.5}, "time.dt", "not a parameter that can be changed"),
    ({f"{SERVICE_R}.capacity": 50}, f"{SERVICE_R}.capacity", "is null here"),
    ({"agencies.council_asc.perception_delay": 0.1}, "time.dt", "perception_delay"),
])
def test_replace_overrides_errors(tiny_scenario_dict, overrides, key, message):
    base = scenario_from_dict(tiny_scenario_dict)
    with pytest.raises(ScenarioError) as info:
        base.replace(overrides=overrides)
    check_error(info.value, "<overrides of tiny>", key, contains=message)


def test_replace_overrides_revalidates_changes(tiny_scenario_dict):
    services = tiny_scenario_dict["services"]
    services["extra"] = dict(services["falls_prevention"], label="Extra places")
    tiny_scenario_dict["pool"] = {"services": {"falls_prevention": 0.3, "extra": 0.3}}
    tiny_scenario_dict["changes"] = [{"month": 6, "set": {"pool.services.falls_prevention": 0.6}}]
    base = scenario_from_dict(tiny_scenario_dict)
    assert base.replace(overrides={"pool.services.extra": 0.4}).get("pool.services.extra") == 0.4
    with pytest.raises(ScenarioError) as info:
        base.replace(overrides={"pool.services.extra": 0.5})
    check_error(info.value, "<overrides of tiny>", "changes.0",
                contains="after this change, pool.services: shares must sum to at most 1")


def test_hash(tmp_path, tiny_scenario_dict):
    path, _ = write_yaml(tmp_path, tiny_scenario_dict)
    first, second = load_scenario(path), load_scenario(path)
    assert re.fullmatch(r"[0-9a-f]{12}", first.hash)
    assert first.hash == second.hash and hash(first) == hash(second)
    assert first.replace(overrides={f"{SERVICE_P}.places": 301}).hash != first.hash
    assert first.replace(overrides={f"{SERVICE_P}.places": 300}).hash == first.hash
    reordered = dict(reversed(list(tiny_scenario_dict.items())))
    assert scenario_from_dict(reordered).hash == first.hash


def test_scenario_is_frozen(tiny_scenario_dict):
    scenario = scenario_from_dict(tiny_scenario_dict)
    with pytest.raises(AttributeError):
        scenario.name = "other"  # type: ignore[misc]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(effect=st.floats(0.0, 1.0), places=st.floats(0.0, 1e6))
def test_overrides_round_trip_through_get(tiny_scenario_dict, effect, places):
    base = scenario_from_dict(tiny_scenario_dict)  # not modified, so sharing it is safe
    changed = base.replace(overrides={f"{SERVICE_P}.effect": effect, f"{SERVICE_P}.places": places})
    assert changed.get(f"{SERVICE_P}.effect") == effect
    assert changed.get(f"{SERVICE_P}.places") == places
    assert (changed.hash == base.hash) == (effect == 0.2 and places == 300.0)


def test_loading_a_scenario_without_uncertainty_does_not_import_scipy_stats():
    """`tpsim run` stays fast: scipy.stats (about half a second) is for uncertainty only."""
    import subprocess
    import sys

    code = ("import sys; from tpsim.config.scenario import load_scenario; "
            "load_scenario('scenarios/baseline.yaml'); print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1]).stdout
    assert out.strip() == "False"


# -- Scenario.replace equals the functions it replaces; typed accessors -------------------------


def old_with_time_settings(scenario, dt=None, method=None, horizon=None):
    """The former models.runner.with_time_settings, on the resolved dict."""
    data = copy.deepcopy(scenario.data)
    if dt is not None:
        data["time"]["dt"] = float(dt)
    if method is not None:
        data["time"]["method"] = method
    if horizon is not None:
        data["time"]["horizon"] = int(horizon)
        data["changes"] = [c for c in data["changes"] if c["month"] < int(horizon)]
    source = str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"
    return Scenario(scenario.name, scenario.path, scenario_from_dict(data, source=source).data,
                    scenario.locations)


def old_without_capacity_limits(scenario):
    """The former cli.des.without_capacity_limits, on the resolved dict."""
    data = copy.deepcopy(scenario.data)
    for sv in data["services"].values():
        if sv["kind"] == "reactive":
            sv["capacity"] = None
    data["changes"] = [{"month": c["month"], "set": kept} for c in data["changes"]
                       if (kept := {p: v for p, v in c["set"].items()
                                    if not (p.startswith("services.") and p.endswith(".capacity"))})]
    source = str(scenario.path) if scenario.path is not None else f"<{scenario.name}>"
    return Scenario(scenario.name, scenario.path, scenario_from_dict(data, source=source).data,
                    scenario.locations)


SHIPPED = Path(__file__).parents[1] / "scenarios"
P_ID, R_ID = SERVICE_P.split(".")[1], SERVICE_R.split(".")[1]


@pytest.mark.parametrize("name", ["baseline", "pooled_prevention", "siloed_squeeze"])
@pytest.mark.parametrize("settings_", [{"dt": 0.125}, {"method": "rk4"}, {"horizon": 36},
                                       {"dt": 0.5, "method": "rk4", "horizon": 120}])
def test_replace_time_equals_with_time_settings(name, settings_):
    sc = load_scenario(SHIPPED / f"{name}.yaml")
    new = sc.replace(**settings_)
    old = old_with_time_settings(sc, **settings_)
    assert new.data == old.data and new.hash == old.hash
    assert new.locations == sc.locations and new.path == sc.path and new.name == sc.name
    assert new.time.dt == old.data["time"]["dt"] and new.time.method == old.data["time"]["method"]


def test_replace_capacity_limits_equals_without_capacity_limits(tiny_scenario_dict):
    tiny_scenario_dict["services"][R_ID]["capacity"] = 40.0
    tiny_scenario_dict["changes"] = [
        {"month": 6, "set": {f"{SERVICE_R}.capacity": 60.0}},
        {"month": 12, "set": {f"{SERVICE_R}.capacity": 80.0, f"{SERVICE_P}.effect": 0.3}}]
    sc = scenario_from_dict(tiny_scenario_dict)
    new = sc.replace(capacity_limits=False)
    assert new.data == old_without_capacity_limits(sc).data
    assert new.services[R_ID]["capacity"] is None
    assert [dict(c["set"]) for c in new.changes] == [{f"{SERVICE_P}.effect": 0.3}]
    assert sc.services[R_ID]["capacity"] == 40.0  # the original is untouched


def test_replace_combines_settings_in_one_validation(tiny_scenario_dict):
    sc = scenario_from_dict(tiny_scenario_dict)
    both = sc.replace(horizon=36, method="rk4", overrides={f"{SERVICE_P}.effect": 0.3})
    step = old_with_time_settings(sc, horizon=36, method="rk4").replace(
        overrides={f"{SERVICE_P}.effect": 0.3})
    assert both.data == step.data


def test_replace_reports_a_too_large_dt_against_time_dt(tmp_path, tiny_scenario_dict):
    tiny_scenario_dict["agencies"]["council_asc"]["perception_delay"] = 0.5  # 2 per month
    path, text = write_yaml(tmp_path, tiny_scenario_dict)
    sc = load_scenario(path)
    with pytest.raises(ScenarioError) as new:
        sc.replace(dt=1.0, horizon=24)
    with pytest.raises(ScenarioError) as old:
        old_with_time_settings(sc, dt=1.0, horizon=24)
    assert str(new.value) == str(old.value)
    assert new.value.key == "time.dt" and new.value.file == str(path)
    assert "too large for the fastest rate" in new.value.message


def test_typed_accessors_match_the_resolved_data(tiny_scenario_dict):
    from tpsim.config.scenario import TimeSettings

    sc = scenario_from_dict(tiny_scenario_dict)
    d = sc.data
    assert sc.time == TimeSettings(**d["time"]) and isinstance(sc.time.horizon, int)
    assert (sc.title, sc.description, sc.price_year) == (d["title"], d["description"],
                                                        d["price_year"])
    for section in ("sources", "loops", "agencies", "cohorts", "services", "pool", "appraisal",
                    "uncertainty"):
        view = getattr(sc, section)
        assert list(view) == list(d[section])
        assert yaml.safe_load(yaml.safe_dump(d[section])) == _plain(view)
    assert [dict(c) for c in sc.changes] == [dict(c) for c in d["changes"]]
    assert sc.as_dict() == d and sc.as_dict() is not d


def test_accessors_are_read_only(tiny_scenario_dict):
    sc = scenario_from_dict(tiny_scenario_dict)
    with pytest.raises(TypeError):
        sc.services[P_ID]["effect"] = 0.9  # type: ignore[index]
    with pytest.raises(TypeError):
        sc.appraisal["discount_rate"] = 0.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        sc.time.dt = 1.0  # type: ignore[misc]
    assert isinstance(sc.services[P_ID]["states"], tuple)
    copy_ = sc.as_dict()
    copy_["services"][P_ID]["effect"] = 0.9
    assert sc.services[P_ID]["effect"] == 0.2


def test_a_scenario_with_cached_views_pickles(tiny_scenario_dict):
    sc = scenario_from_dict(tiny_scenario_dict)
    assert sc.services and sc.time  # build the cached views
    again = pickle.loads(pickle.dumps(sc))
    assert again == sc and again.services == sc.services and again.time == sc.time


def _plain(value):
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
