"""The compiled model is pinned: a change to ``compile_scenario`` must not move a column, a
name or a structure array of the shipped scenarios.

The fingerprints below were computed on the hand-written compile (commit 60898ce) before it
became table-driven; they cover every public field of :class:`tpsim.models.structure.Model`
(names, index maps, theta0, events, offsets, every structure array with its dtype and shape),
the scenario hash included: editing a shipped scenario (e.g. marking a transfer) moves it.
"""
from __future__ import annotations

import hashlib
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from conftest import make_tiny_scenario_dict
from tpsim.config.scenario import load_scenario, scenario_from_dict
from tpsim.models import layout as lo
from tpsim.models.structure import compile_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

EXPECTED = {
    "baseline": "4630af21dd9a7986f91c7b843c5db6bf5841a353c69109f8593fa2b1febc750f",
    "pilots_plus": "4a44b6ad2f0c7a5da7b34f214e75961bafb78602a64791f90599300474022dd3",
    "pooled_prevention": "25d5e3597cc7346bc6e63d3c416acc9be50ba7b699aa5c10a160cc92dd4ab532",
    "pooled_prevention_uncertain": "60d989bebfb283032e8baef9adcb8913750cafa4f06f675499d47f2d802e0ce8",
    "siloed_squeeze": "c0cd979dbd4ae34174518fe2e104d3671fed97634e5b7117ead4d3620effe2bc",
    "tiny": "d25bfdd91377860596a3d2487f938217baa37b5ed9dd84f14eed0e2a9c941018",
}


def _feed(h, value) -> None:
    """Hash ``value`` with its type, dtype and shape so that 1 and 1.0 or int32 and int64
    arrays differ."""
    if isinstance(value, np.ndarray):
        h.update(f"nd{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(f"dict{len(value)}".encode())
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}".encode())
        for v in value:
            _feed(h, v)
    else:
        h.update(f"{type(value).__name__}:{value!r}".encode())


def fingerprint(model) -> str:
    h = hashlib.sha256()
    for f in fields(model):
        h.update(f.name.encode())
        _feed(h, getattr(model, f.name))
    return h.hexdigest()


def _models():
    out = {p.stem: compile_scenario(load_scenario(p)) for p in sorted(SCENARIOS.glob("*.yaml"))
           if p.name != "evidence.yaml"}  # the evidence library, not a scenario
    out["tiny"] = compile_scenario(scenario_from_dict(make_tiny_scenario_dict()))
    return out


@pytest.fixture(scope="module")
def models():
    return _models()


def test_shipped_scenarios_compile_to_the_pinned_model(models):
    assert set(models) == set(EXPECTED)
    got = {name: fingerprint(m) for name, m in models.items()}
    assert got == EXPECTED


def test_every_parameter_column_is_named_once_and_in_its_block(models):
    m = models["baseline"]
    assert len(m.param_names) == m.nparam == len(set(m.param_names))
    assert m.param_index == {n: i for i, n in enumerate(m.param_names)}
    # spot checks of the layout against the scenario
    i = m.pop_labels.index(m.pop_labels[0])
    c, s = m.pop_labels[0]
    assert m.param_names[int(m.po[lo.P_INITIAL]) + i] == f"cohorts.{c}.states.{s}.initial"
    a = m.agencies[-1]
    col = int(m.po[lo.P_AG_CONTRIBUTION]) + len(m.agencies) - 1
    assert m.param_names[col] == f"pool.contributions.{a}"
    assert m.param_names[int(m.po[lo.P_GLOBAL]) + lo.G_POOL_ON] == "pool.enabled"


def test_unlimited_capacity_compiles_to_infinity():
    d = make_tiny_scenario_dict()
    r = next(v for v, sv in d["services"].items() if sv["kind"] == "reactive")
    d["services"][r]["capacity"] = None
    m = compile_scenario(scenario_from_dict(d))
    assert m.theta0[m.param_index[f"services.{r}.capacity"]] == np.inf


if __name__ == "__main__":
    for name, m in _models().items():
        print(f'    "{name}": "{fingerprint(m)}",')
