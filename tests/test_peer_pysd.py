"""Peer check: tpsim and PySD (the standard Python system-dynamics engine) give the same
trajectories for the same model, written once as a tpsim scenario and once in Vensim.

Skipped when PySD is not installed (it is in the optional ``bench`` extra).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tpsim.models import runner
from tpsim.config.scenario import load_scenario

pysd = pytest.importorskip("pysd")

PEER = Path(__file__).parents[1] / "benchmarks" / "peer"

# tpsim series -> PySD column (stocks compared at each month end 1..60)
STOCKS = {
    "population.older_people.independent": "independent",
    "population.older_people.at_risk": "at risk",
    "population.older_people.crisis": "crisis",
    "reserves.agency.council_asc": "council reserves",
    "reserves.agency.nhs_acute": "nhs reserves",
    "coverage.falls_prevention": "effective coverage",
}


def test_tpsim_matches_pysd_with_euler_at_the_same_dt():
    results = runner.run(load_scenario(PEER / "reduced.yaml"))
    model = pysd.read_vensim(str(PEER / "reduced.mdl"))
    frame = model.run(return_columns=list(STOCKS.values()) + ["cumulative spend"])
    months = np.arange(1, 61)
    for ours, theirs in STOCKS.items():
        np.testing.assert_allclose(results[ours][0], frame[theirs].loc[months].to_numpy(),
                                   rtol=1e-6, atol=1e-9, err_msg=ours)
    cumulative = np.cumsum(results["spend.total"][0])
    np.testing.assert_allclose(cumulative, frame["cumulative spend"].loc[months].to_numpy(),
                               rtol=1e-6)
