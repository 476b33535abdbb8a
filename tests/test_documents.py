"""comparison.json and ensemble.json are built in one place each (tpsim.present.documents):
the compare command, the report command and a library caller get the same bytes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from test_charts import paying_back_comparison, two_agency_place
from tpsim.analysis.comparison import compare_scenarios
from tpsim.cli import main
from tpsim.config.scenario import load_scenario
from tpsim.errors import TpsimError
from tpsim.output import json_text
from tpsim.present import documents

FILES = ("comparison.json", "comparison.csv", "attribution.csv", "cashflow.csv",
         "squeeze/timeseries.csv",
         "more_prevention/timeseries.csv")


def _write(folder: Path, name: str, places: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(two_agency_place(places, name, horizon=36), sort_keys=False))
    return path


def test_compare_and_report_write_the_same_comparison_files_as_the_library(tmp_path):
    cf = _write(tmp_path / "sc", "squeeze", 300.0)
    more = _write(tmp_path / "sc", "more_prevention", 600.0)
    args = [str(more), "--against", str(cf), "--optimism-bias", "0.1"]
    for command in ("compare", "report"):
        result = CliRunner().invoke(main, [command, *args, "--out", str(tmp_path / command)])
        assert result.exit_code == 0, result.output
    comparison = compare_scenarios([load_scenario(more)], load_scenario(cf), 0.1)
    library = documents.comparison_files(comparison)
    assert sorted(str(p) for p in library) == sorted(FILES)
    for name in FILES:
        by_compare = (tmp_path / "compare" / name).read_bytes()
        assert by_compare == (tmp_path / "report" / name).read_bytes(), name
        assert by_compare == library[Path(name)].encode("utf-8"), name
    document = json.loads((tmp_path / "compare" / "comparison.json").read_text())
    entry = document["scenarios"]["more_prevention"]
    assert entry["optimism_bias"] == 0.1 and entry["optimism_bias_source"] == "command line"
    assert document["runs"]["runs"] == comparison.n_runs >= 2


def test_the_report_reads_its_figures_from_the_comparison_json_entry():
    comparison = paying_back_comparison()
    document = json.loads(json_text(documents.comparison_document(comparison)))
    for case in comparison.cases:
        entry = json.loads(json_text(documents.scenario_entry(case)))
        assert entry == document["scenarios"][case.scenario.name]
        assert entry["payback_month"] == case.appraisal.headline()["payback_month"]


def test_two_different_scenarios_of_one_name_are_refused_before_simulating():
    cf = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "siloed_squeeze.yaml")
    from tpsim.config.scenario import scenario_from_dict
    a = scenario_from_dict(two_agency_place(300.0, "same"), source="<a>")
    b = scenario_from_dict(two_agency_place(600.0, "same"), source="<b>")
    with pytest.raises(TpsimError, match="two different scenarios are named 'same'"):
        documents.run_folders([a, b], cf)
    assert documents.run_folders([a, a], cf) == {cf.name: cf.name, "same": "same"}


def test_ensemble_json_comes_from_the_documents_builder(tmp_path):
    from tpsim.analysis import ensemble as en

    root = Path(__file__).resolve().parents[1] / "scenarios"
    sc = load_scenario(root / "pooled_prevention_uncertain.yaml")
    cf = load_scenario(root / "siloed_squeeze.yaml")
    out = tmp_path / "ens"
    result = CliRunner().invoke(main, ["ensemble", str(root / "pooled_prevention_uncertain.yaml"),
                                       "--against", str(root / "siloed_squeeze.yaml"),
                                       "--runs", "64", "--seed", "3", "--horizon", "24",
                                       "--no-charts", "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads((out / "ensemble.json").read_text())
    sc, cf = (s.replace(horizon=24) for s in (sc, cf))
    job = en.prepare([sc], cf, runs=64, seed=3, series=en.DEFAULT_SERIES)
    job.edges = en.pilot_edges(job)
    summary = en.summarise(job, en.run_ensemble(job, "local"))
    document = json.loads(json_text(documents.ensemble_document(
        job, summary, [sc], cf, engine="local", chunk_runs=written["run"]["chunk_runs"],
        seconds=1.0, optimism_bias=None)))
    for key in ("settings", "factors", "results", "units", "counterfactual", "scenarios"):
        assert document[key] == written[key], key
