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
    "baseline": "7a08b821cd36fbd34f4c47217ba8cc828a4cd7e99a25c885e08d7d085cca48dc",
    "pilots_plus": "5f436d621635f9125bc77c39f6164f4e363e2dbb26cd1158107d95c117e27f3f",
    "pooled_prevention": "b7e47c9827fc41f0cf9e0bd69860b65749aa64ee2a4efcb9f0304afcd1cc2741",
    "pooled_prevention_uncertain": "99fe9947a889329f60283d978ac1c850a0599d2236e6d580fbf7d8c5a8c6b436",
    "siloed_squeeze": "e05a42474379fb8b9d19a8999c7fe6d6dbbefd28c9c74c99c1978c8e99aef6c7",
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
