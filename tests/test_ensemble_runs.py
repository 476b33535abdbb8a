"""The ensemble's NPSV, economic NPV and per-agency fiscal NPV, per run: in ensemble.json, in
the ``--save-runs`` table, in ``tpsim discover --where "npsv > 0"``, and the deterministic
figure equal to ``tpsim compare``'s headline."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import tpsim
from tpsim.cli import main

ROOT = Path(__file__).parents[1]
UNCERTAIN = str(ROOT / "scenarios" / "pooled_prevention_uncertain.yaml")
SQUEEZE = str(ROOT / "scenarios" / "siloed_squeeze.yaml")
NAME = "pooled_prevention_uncertain"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "e"
    result = CliRunner().invoke(main, ["ensemble", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "300", "--horizon", "72", "--seed", "11", "--no-charts",
                                       "--save-runs", "runs.csv.gz", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return (json.loads((out / "ensemble.json").read_text()), pd.read_csv(out / "runs.csv.gz"),
            result.output)


def test_save_runs_carries_npsv_economic_npv_and_fiscal_npv_by_agency(saved):
    document, runs, _ = saved
    results = document["results"][NAME]
    for metric in ("npsv", "economic_npv", "npv"):
        col = runs[metric]
        assert results[metric]["runs"] == len(col) == 300
        assert col.mean() == pytest.approx(results[metric]["mean"], rel=1e-9)
        assert col.min() == results[metric]["min"] and col.max() == results[metric]["max"]
    assert (runs["npsv"] > 0).mean() == pytest.approx(results["probability_npsv_positive"])
    # the agencies' and the pool's fiscal NPVs add up to the fiscal NPV, run by run
    by_agency = [c for c in runs if c.startswith("fiscal_npv.")]
    assert "fiscal_npv.pool" in by_agency and len(by_agency) >= 4
    assert np.allclose(runs[by_agency].sum(axis=1), runs["npv"], rtol=1e-9, atol=1e-3)
    # the NPSV differs from the fiscal NPV (QALYs valued, transfers out) in every run
    assert (np.abs(runs["npsv"] - runs["npv"]) > 1e5).all()


def test_ensemble_reports_mean_median_p10_p90_beside_the_deterministic_npsv(saved):
    document, runs, output = saved
    npsv = document["results"][NAME]["npsv"]
    assert npsv["median"] == npsv["percentiles"]["p50"]
    assert npsv["percentiles"]["p10"] < npsv["median"] < npsv["percentiles"]["p90"]
    # percentiles from the streamed histogram, within their stated error of the exact ones
    for p in (10, 50, 90):
        exact = np.percentile(runs["npsv"], p)
        assert abs(npsv["percentiles"][f"p{p}"] - exact) <= npsv["percentile_error_bound"] + 1e-6
    # the deterministic figure is tpsim compare's headline NPSV (the same run)
    compared = tpsim.compare(UNCERTAIN, against=SQUEEZE, horizon=72)[NAME]
    assert npsv["deterministic"] == pytest.approx(compared.npsv, rel=1e-10)
    assert document["results"][NAME]["economic_npv"]["deterministic"] == pytest.approx(
        compared.economic_npv, rel=1e-10)
    assert "NPSV deterministic" in output and "P(NPSV > 0)" in output


def test_discover_where_npsv(tmp_path):
    out = tmp_path / "d"
    result = CliRunner().invoke(main, ["discover", UNCERTAIN, "--against", SQUEEZE, "--runs",
                                       "600", "--horizon", "72", "--seed", "2", "--where",
                                       "npsv > 0", "--no-charts", "--save-runs", "runs.csv.gz",
                                       "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with gzip.open(out / "runs.csv.gz", "rt") as f:
        runs = pd.read_csv(f)
    assert {"npsv", "economic_npv", "fiscal_npv.pool"} <= set(runs)
    assert (runs["of_interest"] == (runs["npsv"] > 0)).all()
    assert 0 < runs["of_interest"].sum() < len(runs)  # a condition that splits the runs
    document = json.loads((out / "discovery.json").read_text())
    assert document["settings"]["where"] == "npsv > 0"


def test_within_parliament_reads_parliament_figures_and_refuses_horizon_only_ones():
    from tpsim.api import where_columns
    from tpsim.analysis.where import parse_where
    from tpsim.errors import TpsimError

    names = {n: n for n in ("npv", "npv_parliament", "npsv", "npsv_parliament", "economic_npv",
                            "economic_npv_parliament", "fiscal_npv.council_asc", "payback")}
    assert where_columns(names, "horizon") == names
    within = where_columns(names, "parliament")
    assert within == {"npv": "npv_parliament", "npv_parliament": "npv_parliament",
                      "npsv": "npsv_parliament", "npsv_parliament": "npsv_parliament",
                      "economic_npv": "economic_npv_parliament",
                      "economic_npv_parliament": "economic_npv_parliament",
                      "payback": "payback"}
    with pytest.raises(TpsimError, match="unknown outcome 'fiscal_npv.council_asc'"):
        parse_where("fiscal_npv.council_asc > 0", list(within))
