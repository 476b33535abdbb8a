"""The series table (tpsim.models.series): the one definition of every output series."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from tpsim.config.scenario import load_scenario
from tpsim.models import series as ts
from tpsim.models.results import build_results
from tpsim.models.simulate import simulate
from tpsim.models.structure import compile_scenario

ROOT = Path(__file__).parents[1]
GOLDEN = ROOT / "tests" / "golden" / "shipped"
OUTPUTS_DOC = ROOT / "docs" / "outputs.md"


@pytest.fixture(scope="module")
def model():
    return compile_scenario(load_scenario(ROOT / "scenarios" / "pooled_prevention.yaml"))


@pytest.fixture(scope="module")
def results(model):
    theta = model.theta(2)
    theta[1, model.param_index["services.falls_prevention.places"]] *= 1.7
    return build_results(model, simulate(model, theta, model.event_values(2), record=True))


def _golden_header(name: str) -> list[str]:
    with gzip.open(GOLDEN / name, "rt") as f:
        return f.readline().strip().split(",")


@pytest.mark.parametrize("golden", ["baseline_timeseries.csv.gz",
                                    "pooled_prevention_timeseries.csv.gz"])
def test_table_columns_are_the_timeseries_columns_in_order(golden):
    scenario = golden.removesuffix("_timeseries.csv.gz")
    model = compile_scenario(load_scenario(ROOT / "scenarios" / f"{scenario}.yaml"))
    names = [name for name, _, _ in ts.columns(model)]
    assert ["month"] + names == _golden_header(golden)
    # every family has at least one column in a scenario with every kind of thing
    families = {fam.name for _, fam, _ in ts.columns(model)}
    assert families == {f.name for f in ts.FAMILIES}


def test_tiny_golden_columns():
    header = (ROOT / "tests" / "golden" / "tiny_timeseries.csv").read_text().split("\n")[0]
    from conftest import make_tiny_scenario_dict
    from tpsim.config.scenario import scenario_from_dict
    model = compile_scenario(scenario_from_dict(make_tiny_scenario_dict()))
    assert ",".join(["month"] + [n for n, _, _ in ts.columns(model)]) == header


def test_every_family_is_documented_with_its_kind_and_unit():
    text = OUTPUTS_DOC.read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| `([^`]+)` \| (stock|flow|derived)? ?\|", line)
        if m:
            rows[m.group(1)] = line
    placeholder = {None: "", "agency": ".<agency>", "service": ".<service>",
                   "reactive_service": ".<service>", "preventive_service": ".<service>",
                   "kind": ".<kind>", "cohort": ".<cohort>",
                   "cohort_state": ".<cohort>.<state>"}
    for fam in ts.FAMILIES:
        pattern = fam.name + placeholder[fam.dim]
        assert pattern in rows, f"docs/outputs.md has no row for {pattern}"
        kind = "stock" if fam.name in ("pressure.agency", "prevention_funding") else fam.kind
        assert f"| {kind} |" in rows[pattern], pattern


def test_parse_and_column_names_round_trip(model):
    for name, fam, label in ts.columns(model):
        assert ts.parse(model, name) == (fam, label)
        assert ts.column_name(fam, label) == name
    assert ts.parse(model, "spend.agency.nobody") is None
    assert ts.parse(model, "waiting.falls_prevention") is None  # preventive: no waiting list
    assert ts.parse(model, "spend.total.x") is None


def test_series_terms_reproduce_every_linear_series(model, results):
    traj = results.raw.trajectory
    linear = 0
    for name, fam, _ in ts.columns(model):
        t = ts.series_terms(model, name)
        if fam.kind == "derived":
            assert t is None
            continue
        linear += 1
        src = np.diff(traj, axis=1) if t.kind == "flow" else traj[:, 1:, :]
        value = sum(c * src[:, :, i] / t.scale for i, c in zip(t.index, t.coef))
        assert np.allclose(value, results[name], rtol=1e-12, atol=1e-9), name
    assert linear > 100
    assert ts.series_terms(model, "spend.agency.nobody") is None


def test_terms_know_the_model():
    """Independent checks of a few families against their definitions."""
    from tpsim.models import layout as lo
    model = compile_scenario(load_scenario(ROOT / "scenarios" / "baseline.yaml"))
    t = ts.series_terms(model, "spend.kind.preventive")
    assert t.kind == "flow" and len(t.index) == len(model.preventive)
    assert t.index[0] == model.x_index(lo.A_SPEND_PREV, 0)
    t = ts.series_terms(model, "pool.contributions")
    assert t.coef == (1.0, -1.0)
    t = ts.series_terms(model, "qalys.older_people")
    assert t.scale == 12.0 and len(t.index) == len(model.states["older_people"])
    t = ts.series_terms(model, "reserves.agency.police")
    assert t.kind == "stock" and t.index == (model.x_index(lo.X_RESERVES,
                                                           model.agencies.index("police")),)


def test_no_module_outside_models_reads_the_layout():
    offenders = []
    for path in (ROOT / "tpsim").rglob("*.py"):
        rel = path.relative_to(ROOT / "tpsim").as_posix()
        if rel.startswith("models/"):
            continue
        if re.search(r"models\s+import\s+layout|models\.layout", path.read_text()):
            offenders.append(rel)
    assert offenders == []
