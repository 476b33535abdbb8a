"""Results built from the series table: values against their definitions from the raw state,
and the labelled forms (xarray, pandas) against the named arrays."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import make_tiny_scenario_dict
from tpsim.config.scenario import scenario_from_dict
from tpsim.models import layout as lo
from tpsim.models.results import build_results
from tpsim.models.series import parse
from tpsim.models.simulate import simulate
from tpsim.models.structure import compile_scenario


@pytest.fixture(scope="module")
def tiny():
    model = compile_scenario(scenario_from_dict(make_tiny_scenario_dict()))
    theta = model.theta(3)
    theta[:, model.param_index["services.falls_prevention.places"]] *= [0.5, 1.0, 3.0]
    return build_results(model, simulate(model, theta, model.event_values(3), record=True),
                         seed=42)


def test_values_follow_their_definitions(tiny):
    m, traj = tiny.model, tiny.raw.trajectory

    def x(block, item=0):
        return traj[:, :, m.xo[block] + item]

    assert np.array_equal(tiny["spend.total"], np.diff(x(lo.A_TOTAL), axis=1))
    assert np.array_equal(tiny["reserves.agency.council_asc"], x(lo.X_RESERVES)[:, 1:])
    pm = np.diff(traj[:, :, m.xo[lo.A_PERSON_MONTHS]:m.xo[lo.A_PERSON_MONTHS] + len(m.pop_labels)],
                 axis=1)
    assert np.allclose(tiny["qalys.older_people"], (pm * m.pop_utility).sum(axis=-1) / 12.0,
                       rtol=1e-12)
    budget = np.diff(x(lo.A_BUDGET), axis=1)
    assert np.allclose(tiny["pressure.agency.council_asc"], x(lo.X_PERCEIVED)[:, 1:] / budget)
    assert np.allclose(tiny["spend.kind.preventive"] + tiny["spend.kind.reactive"],
                       tiny["spend.service.falls_prevention"] + tiny["spend.service.residential_care"])
    assert tiny.seed == 42


def test_xarray_matches_the_named_arrays_and_totals(tiny):
    ds = tiny.to_xarray()
    assert ds.sizes["run"] == 3 and ds.sizes["month"] == tiny.model.n_months
    for name in tiny.columns:
        fam, label = parse(tiny.model, name)
        var = ds[fam.variable]
        if fam.dim is None:
            got = var.values
        elif fam.dim == "cohort_state":
            got = var.sel(cohort=label[0], state=label[1]).values
        else:
            got = var.sel({fam.dim: label}).values
        assert np.array_equal(got, tiny[name]), name
        assert var.attrs["units"] == fam.unit
    for run in range(3):
        totals = tiny.totals(run)
        assert float(ds["spend_total"].isel(run=run).sum()) == pytest.approx(totals["spend_total"])
        assert float(ds["escalations"].sel(cohort="older_people").isel(run=run).sum()) == \
            pytest.approx(totals["escalations"]["older_people"])


def test_dataframe_is_tidy(tiny):
    df = tiny.to_dataframe()
    assert len(df) == len(tiny.columns) * 3 * tiny.model.n_months
    assert not df.duplicated(["run", "month", "series"]).any()
    sel = df[(df.series == "waiting.residential_care") & (df.run == 2)].sort_values("month")
    assert np.array_equal(sel.value.to_numpy(), tiny["waiting.residential_care"][2])
    assert set(sel.service) == {"residential_care"} and set(sel.unit) == {"people"}
    assert df[df.series == "spend.total"].agency.isna().all()


def test_family_reads_by_dimension(tiny):
    spend = tiny.family("spend.agency")
    assert list(spend) == list(tiny.model.agencies)
    assert spend["council_asc"] is tiny["spend.agency.council_asc"]
    pop = tiny.family("population")
    assert list(pop) == [tuple(p) for p in tiny.model.pop_labels]
    assert list(tiny.family("spend.total")) == [None]
