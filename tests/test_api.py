"""The Python API (tpsim.load/run/compare/ensemble/...): the same answers as the library
functions and the commands, with labelled results."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tpsim
from tpsim.analysis.seeds import as_seed_sequence, seed_entropy
from tpsim.cli import main
from tpsim.errors import ScenarioError, TpsimError
from tpsim.models import runner

ROOT = Path(__file__).parents[1]
SCENARIOS = ROOT / "scenarios"
GOLDEN = ROOT / "tests" / "golden" / "shipped"
PLACES = "services.falls_prevention.places"


@pytest.fixture(scope="module")
def pooled():
    return tpsim.run(SCENARIOS / "pooled_prevention.yaml", seed=11)


def test_run_equals_the_runner(pooled):
    reference = runner.run(tpsim.load(SCENARIOS / "pooled_prevention.yaml"))
    assert pooled.columns == reference.columns
    for name in reference.columns:
        assert np.array_equal(pooled[name], reference[name]), name
    assert pooled.seed == 11


def test_vary_equals_runs_with_overrides_one_by_one():
    sc = tpsim.load(SCENARIOS / "baseline.yaml")
    places = [150.0, 400.0, 900.0]
    uptake = [0.5, 0.7, 0.9]
    varied = tpsim.run(sc, vary={PLACES: places, "services.falls_prevention.uptake": uptake},
                       seed=np.random.SeedSequence(5), horizon=36)
    assert varied.n_runs == 3 and varied.months[-1] == 36
    short = sc.replace(horizon=36)
    for i in range(3):
        one = runner.run(short, {PLACES: places[i], "services.falls_prevention.uptake": uptake[i]})
        for name in ("spend.total", "spend.agency.council_asc", "population.older_people.crisis",
                     "qalys.older_people", "prevention_funding.falls_prevention"):
            assert np.allclose(varied[name][i], one[name][0], rtol=1e-12, atol=1e-9), name
    assert not np.allclose(varied["spend.total"][0], varied["spend.total"][2])
    ds = varied.to_xarray()
    assert list(ds[PLACES].values) == places


def test_vary_errors_name_the_path():
    sc = SCENARIOS / "baseline.yaml"
    with pytest.raises(ScenarioError, match="services.nope.places"):
        tpsim.run(sc, vary={"services.nope.places": [1.0, 2.0]})
    with pytest.raises(ScenarioError, match="uptake"):
        tpsim.run(sc, vary={PLACES: [1.0, 2.0], "services.falls_prevention.uptake": [0.5]})
    with pytest.raises(ScenarioError) as err:
        tpsim.run(sc, vary={PLACES: [100.0, -5.0]})
    assert err.value.key == PLACES


def test_to_xarray_dims_coords_units_and_values(pooled):
    ds = pooled.to_xarray()
    m = pooled.model
    assert ds["spend_agency"].dims == ("run", "month", "agency")
    assert list(ds["agency"].values) == list(m.agencies)
    assert ds["spend_total"].dims == ("run", "month")
    assert ds["population"].dims == ("run", "month", "cohort", "state")
    assert ds["waiting"].dims == ("run", "month", "reactive_service")
    assert ds["coverage"].dims == ("run", "month", "preventive_service")
    assert ds["spend_agency"].attrs["units"] == "GBP per month"
    assert ds["reserves_agency"].attrs["units"] == "GBP"
    assert ds["population"].attrs["units"] == "people"
    assert list(ds["month"].values) == list(range(1, m.n_months + 1))
    for a in m.agencies:
        assert np.array_equal(ds["spend_agency"].sel(agency=a).values, pooled[f"spend.agency.{a}"])
    for c, s in m.pop_labels:
        assert np.array_equal(ds["population"].sel(cohort=c, state=s).values,
                              pooled[f"population.{c}.{s}"])
    # states a cohort does not have are NaN
    n_pairs = len(m.pop_labels)
    assert int(np.isfinite(ds["population"].isel(run=0, month=0)).sum()) == n_pairs
    assert np.array_equal(ds["spend_kind"].sel(kind="reactive").values,
                          pooled["spend.kind.reactive"])
    assert np.array_equal(ds["spend_total"].values, pooled["spend.total"])
    assert ds.attrs["seed"] == "11"


def test_to_dataframe_round_trips(pooled):
    df = pooled.to_dataframe()
    assert list(df.columns) == ["run", "month", "series", "family", "agency", "service", "kind",
                                "cohort", "state", "value", "unit"]
    assert len(df) == len(pooled.columns) * pooled.n_runs * len(pooled.months)
    wide = df.pivot_table(index=["run", "month"], columns="series", values="value",
                          dropna=False)
    for name in pooled.columns:
        assert np.array_equal(wide[name].to_numpy(), pooled[name].reshape(-1)), name
    row = df[(df.series == "spend.agency.police") & (df.month == 3)].iloc[0]
    assert row.agency == "police" and row.family == "spend.agency" and row.unit == "GBP per month"
    assert row.value == pooled["spend.agency.police"][0, 2]
    row = df[(df.series == "population.children.looked_after") & (df.month == 1)].iloc[0]
    assert (row.cohort, row.state) == ("children", "looked_after")


def test_compare_equals_the_compare_command(tmp_path):
    sc = [SCENARIOS / "pooled_prevention.yaml", SCENARIOS / "pilots_plus.yaml"]
    cf = SCENARIOS / "siloed_squeeze.yaml"
    ran = CliRunner().invoke(main, ["compare", *map(str, sc), "--against", str(cf), "--out",
                                    str(tmp_path)], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    document = json.loads((tmp_path / "comparison.json").read_text())
    comparison = tpsim.compare(sc, against=cf)
    assert set(comparison.options) == set(document["scenarios"])
    for name, entry in document["scenarios"].items():
        option = comparison[name]
        assert json.loads(json.dumps(option.to_dict())) == entry
        assert option.npv == entry["npv"] and option.bcr == entry["bcr"]
        assert option.payback_month == entry["payback_month"]
        assert option.agencies["council_asc"] == entry["agencies"]["council_asc"]
    table = comparison.table()
    assert table.loc[("pilots_plus", "total"), "npv_horizon"] == \
        document["scenarios"]["pilots_plus"]["total"]["npv_horizon"]


def test_compare_with_optimism_bias_says_so():
    c = tpsim.compare(SCENARIOS / "pilots_plus.yaml", against=SCENARIOS / "siloed_squeeze.yaml",
                      optimism_bias=0.4, horizon=36)
    o = c["pilots_plus"]
    assert o.record["optimism_bias"] == 0.4
    assert o.record["optimism_bias_source"] == "command line"


def test_seed_helper():
    assert seed_entropy(7) == 7 == seed_entropy(np.random.SeedSequence(7))
    assert seed_entropy(None) == 0
    spawned = np.random.SeedSequence(7).spawn(2)
    assert seed_entropy(spawned[0]) != seed_entropy(spawned[1])
    assert seed_entropy(np.random.default_rng(3)) == seed_entropy(np.random.default_rng(3))
    assert as_seed_sequence(7).entropy == 7
    for bad in (-1, 1.5, "7", True):
        with pytest.raises(TpsimError):
            seed_entropy(bad)


def test_ensemble_equals_the_command_for_every_seed_type():
    """The golden ensemble.json is ``tpsim ensemble ... --runs 512 --seed 7``."""
    golden = json.loads((GOLDEN / "ensemble.json").read_text())
    args = dict(against=SCENARIOS / "siloed_squeeze.yaml", runs=512)
    by_int = tpsim.ensemble(SCENARIOS / "pooled_prevention_uncertain.yaml", seed=7, **args)
    assert _close(json.loads(json.dumps(by_int.to_dict())), golden["results"])
    # a SeedSequence draws what its integer draws (on 64 runs: the seed, not the run count,
    # is under test)
    by_sequence, by_int_64 = (tpsim.ensemble(SCENARIOS / "pooled_prevention_uncertain.yaml",
                                             seed=seed, against=args["against"], runs=64)
                              for seed in (np.random.SeedSequence(7), 7))
    assert by_sequence.to_dict() == by_int_64.to_dict()
    g1, g2 = (tpsim.ensemble(SCENARIOS / "pooled_prevention_uncertain.yaml", runs=64,
                             seed=np.random.default_rng(1), against=args["against"])
              for _ in range(2))
    assert g1.to_dict() == g2.to_dict()
    ds = by_int.to_xarray()
    name = "pooled_prevention_uncertain"
    assert ds["quantile"].dims == ("series", "scenario", "month", "percentile")
    assert list(ds["scenario"].values) == ["siloed_squeeze", name]
    assert ds["unit"].sel(series="spend.total") == "GBP per month"
    t = by_int.job.tracked.index(("spend.total", 1, True))
    assert np.array_equal(ds["difference_quantile"].sel(series="spend.total", option=name).values,
                          by_int.summary.quantiles[t])
    assert by_int.npv(name) == golden["results"][name]["npv"]["mean"]


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-9)
    return a == b


def test_sensitivity_oat_labels():
    s = tpsim.sensitivity(SCENARIOS / "pooled_prevention_uncertain.yaml",
                          against=SCENARIOS / "siloed_squeeze.yaml", horizon=24, month=12)
    ds = s.to_xarray()
    assert ds["low"].dims == ("output", "factor") and len(s.factors) == ds.sizes["factor"] > 0
    assert float(ds["base"].sel(output="npv")) == s.result["base"]["npv"]


def test_public_names_are_lazy():
    import subprocess
    import sys
    code = ("import sys, tpsim; print('tpsim.api' in sys.modules, 'xarray' in sys.modules); "
            "tpsim.run; print('tpsim.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out == ["False", "False", "True"]
    with pytest.raises(AttributeError):
        tpsim.no_such_function
